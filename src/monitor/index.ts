/**
 * Watching the plan's promises day to day: readiness (replication lag, backup age, standby health, probes
 * per site) and the monitor that detects a site loss and starts a failover by itself where the workload's
 * policy allows it, or opens a run waiting for activation approval where it does not. See ARCHITECTURE.md
 * for the detection state machine.
 */
export { Monitor, failoverRunbook, runProbe, watchTargets } from './monitor.ts';
export type {
  MonitorOptions,
  MonitorEvent,
  SiteLostEvent,
  SiteSuspectEvent,
  SiteRecoveredEvent,
  ProbeEvent,
  FailoverStartedEvent,
  FailoverSkippedEvent,
  FailoverErrorEvent,
  WatchedWorkload,
  WatchTarget,
} from './monitor.ts';
export { SiteLossDetector } from './detector.ts';
export type { SiteState, DetectorTransition, DetectorOptions, DetectorProbe } from './detector.ts';
export { engineRunbookStarter } from './engine-start.ts';
export type { EngineStarterOptions } from './engine-start.ts';
export { checkReadiness, formatReadiness, observedDelays, probeTargets } from './readiness.ts';
export type { ReadinessOptions, ReadinessReport } from './readiness.ts';
