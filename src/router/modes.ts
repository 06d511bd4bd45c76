// Kept apart from options.ts (and its zod schema) so that the CLI can list the modes in its help cheaply.
export const ROUTING_MODES = ['priority', 'weighted', 'manual'] as const;
/**
 * - `priority`: all traffic to the routable endpoint with the lowest priority number (Traffic Manager's failover).
 * - `weighted`: traffic split across routable endpoints in proportion to their weights.
 * - `manual`: all traffic to the endpoint an operator switched to; no automatic failover.
 */
export type RoutingMode = (typeof ROUTING_MODES)[number];
