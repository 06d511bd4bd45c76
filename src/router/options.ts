/**
 * What a caller gives `TrafficRouter.create()`, validated once and compiled into the config the router
 * uses (milliseconds, defaults applied, priorities resolved). The router never re-reads raw options.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';

import { ROUTING_MODES, type RoutingMode } from './modes.ts';

export { ROUTING_MODES, type RoutingMode } from './modes.ts';

const SITE = /^[a-z0-9][a-z0-9_-]*$/i;

const ProbeOptionsSchema = z.strictObject({
  /** Path (or absolute URL) probed on the endpoint. @default '/health' */
  path: z.string().min(1).optional(),
  /** Status that counts as healthy; any 2xx when absent. */
  expectStatus: z.number().int().min(100).max(599).optional(),
  /** @default 1000 */
  intervalMs: z.number().int().min(10).optional(),
  /** @default 500 */
  timeoutMs: z.number().int().min(1).optional(),
  /** Consecutive failures to mark down. @default 3 */
  failures: z.number().int().min(1).optional(),
  /** Consecutive successes to mark up. @default 2 */
  successes: z.number().int().min(1).optional(),
});

const FlapOptionsSchema = z.strictObject({
  /** Downs within the window that make the next recovery suppressed. @default 3 */
  limit: z.number().int().min(1).optional(),
  /** @default 60000 */
  windowMs: z.number().int().min(0).optional(),
  /** @default 30000 */
  holdDownMs: z.number().int().min(0).optional(),
});

const EndpointOptionsSchema = z.strictObject({
  site: z.string().regex(SITE, 'a site is letters, digits, "-" and "_"'),
  url: z.url({ protocol: /^http$/, error: 'an endpoint url is http://host:port' }),
  /** Lower is preferred. @default the endpoint's position in the list, from 1 */
  priority: z.number().int().min(1).optional(),
  /** Share of traffic in weighted mode. @default 1 */
  weight: z.number().int().min(1).max(1000).optional(),
  /** Per-endpoint probe settings, over the router's. */
  probe: ProbeOptionsSchema.optional(),
});

export const RouterOptionsSchema = z.strictObject({
  endpoints: z.array(EndpointOptionsSchema).min(1, 'a router needs at least one endpoint'),
  /** @default 'priority' */
  mode: z.enum(ROUTING_MODES).optional(),
  /** Front door port on 127.0.0.1; 0 picks a free one. @default 0 */
  port: z.number().int().min(0).max(65535).optional(),
  /** Admin API port on 127.0.0.1; 0 picks a free one. @default 0 */
  adminPort: z.number().int().min(0).max(65535).optional(),
  /** @default '127.0.0.1' */
  host: z.string().optional(),
  /** Bearer token for mutating admin calls; a random one is generated when absent (see `adminToken`). */
  adminToken: z.string().min(8, 'an admin token has at least 8 characters').optional(),
  /** In manual mode, the site traffic goes to at start. @default the first endpoint by priority */
  active: z.string().optional(),
  probe: ProbeOptionsSchema.optional(),
  flap: FlapOptionsSchema.optional(),
  /** How many events `history()` keeps. @default 1000 */
  historySize: z.number().int().min(1).optional(),
  /** How long `close()` lets in-flight requests finish before cutting them. @default 2000 */
  closeGraceMs: z.number().int().min(0).optional(),
  /** How long a site may take to start answering (status line and headers) before the client gets a 504. @default 30000 */
  responseTimeoutMs: z.number().int().min(1).optional(),
});

export type ProbeOptions = z.input<typeof ProbeOptionsSchema>;
export type EndpointOptions = z.input<typeof EndpointOptionsSchema>;
export type RouterOptions = z.input<typeof RouterOptionsSchema>;

export interface ProbeConfig {
  url: string;
  expectStatus: number | undefined;
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  successes: number;
}

export interface EndpointConfig {
  site: string;
  url: URL;
  priority: number;
  weight: number;
  probe: ProbeConfig;
}

export interface RouterConfig {
  endpoints: EndpointConfig[];
  mode: RoutingMode;
  host: string;
  port: number;
  adminPort: number;
  adminToken: string | undefined;
  active: string | undefined;
  flap: { limit: number; windowMs: number; holdDownMs: number };
  historySize: number;
  closeGraceMs: number;
  responseTimeoutMs: number;
}

export const PROBE_DEFAULTS = {
  path: '/health',
  intervalMs: 1000,
  timeoutMs: 500,
  failures: 3,
  successes: 2,
} as const;
export const FLAP_DEFAULTS = { limit: 3, windowMs: 60_000, holdDownMs: 30_000 } as const;

export function compileRouterOptions(options: RouterOptions): RouterConfig {
  const parsed = RouterOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new UsageError(
      'DRCTL_ROUTER_OPTIONS_INVALID',
      `router options are invalid${where}: ${issue?.message ?? 'unknown problem'}`,
      {
        hint: 'see docs/router.md for every option and its default',
        details: { issues: parsed.error.issues },
      },
    );
  }
  const input = parsed.data;
  const seen = new Set<string>();
  const endpoints = input.endpoints.map((endpoint, index): EndpointConfig => {
    if (seen.has(endpoint.site)) {
      throw new UsageError(
        'DRCTL_ROUTER_OPTIONS_INVALID',
        `router options are invalid: site "${endpoint.site}" is listed twice`,
        {
          hint: 'give each endpoint its own site name',
        },
      );
    }
    seen.add(endpoint.site);
    const url = new URL(endpoint.url);
    const pick = <K extends keyof typeof PROBE_DEFAULTS>(
      key: K,
    ): (typeof PROBE_DEFAULTS)[K] | NonNullable<ProbeOptions[K]> =>
      endpoint.probe?.[key] ?? input.probe?.[key] ?? PROBE_DEFAULTS[key];
    return {
      site: endpoint.site,
      url,
      priority: endpoint.priority ?? index + 1,
      weight: endpoint.weight ?? 1,
      probe: {
        url: new URL(pick('path'), url).toString(),
        expectStatus: endpoint.probe?.expectStatus ?? input.probe?.expectStatus,
        intervalMs: pick('intervalMs'),
        timeoutMs: pick('timeoutMs'),
        failures: pick('failures'),
        successes: pick('successes'),
      },
    };
  });
  if (input.active !== undefined && !seen.has(input.active)) {
    throw new UsageError(
      'DRCTL_ROUTER_UNKNOWN_SITE',
      `router options name active site "${input.active}", which is not an endpoint`,
      {
        hint: `use one of: ${[...seen].join(', ')}`,
      },
    );
  }
  return {
    endpoints,
    mode: input.mode ?? 'priority',
    host: input.host ?? '127.0.0.1',
    port: input.port ?? 0,
    adminPort: input.adminPort ?? 0,
    adminToken: input.adminToken,
    active: input.active,
    flap: {
      limit: input.flap?.limit ?? FLAP_DEFAULTS.limit,
      windowMs: input.flap?.windowMs ?? FLAP_DEFAULTS.windowMs,
      holdDownMs: input.flap?.holdDownMs ?? FLAP_DEFAULTS.holdDownMs,
    },
    historySize: input.historySize ?? 1000,
    closeGraceMs: input.closeGraceMs ?? 2000,
    responseTimeoutMs: input.responseTimeoutMs ?? 30_000,
  };
}
