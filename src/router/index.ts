/**
 * The traffic router: drctl's front door (the Traffic Manager role). `TrafficRouter.create()` starts one
 * on 127.0.0.1 with an admin API; see docs/router.md and ARCHITECTURE.md beside this file.
 */
export { TrafficRouter } from './router.ts';
export type {
  RouterStatus,
  EndpointStatus,
  SwitchOptions,
  ChangeResult,
  RouterDependencies,
} from './router.ts';
export type { RouterOptions, EndpointOptions, ProbeOptions, RoutingMode } from './options.ts';
export { ROUTING_MODES, PROBE_DEFAULTS, FLAP_DEFAULTS } from './options.ts';
export type {
  RouterEvent,
  ActiveChangedEvent,
  EndpointHealthEvent,
  EndpointDrainEvent,
  OverrideEvent,
} from './events.ts';
export type { EndpointState } from './health.ts';
export type { ProbeResult } from './probe.ts';
