/**
 * Fault injection for drills: a TCP fault proxy (latency, jitter, blackhole, reset, bandwidth), process
 * faults (SIGKILL, SIGSTOP/SIGCONT) and the switchboard an application reads to fail a module on purpose.
 * Every injection returns when it took effect (`at`: Date.now(), `monotonic`: performance.now()).
 * See docs/chaos.md.
 */
export { FaultProxy } from './fault-proxy.ts';
export type { FaultProxyOptions, FaultChange, FaultProxyStats } from './fault-proxy.ts';
export { DIRECTIONS, ProxyFaultSchema, parseBandwidth, proxyFaultFromPlan } from './faults.ts';
export type { Direction, ProxyFault } from './faults.ts';
export { killProcess, pauseProcess, resumeProcess, signalProcess, processExists } from './process-faults.ts';
export type { ProcessSignal, ProcessTarget, SignalRecord } from './process-faults.ts';
export { Switchboard, readFlag } from './switchboard.ts';
export type { FlagValue, FlagRecord, FlagChange, SwitchboardOptions } from './switchboard.ts';
