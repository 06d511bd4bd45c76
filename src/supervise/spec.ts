/**
 * What the supervisor is asked to run and what it answers, the same for this machine and for a host:
 * a `ProcessSpec` in, `InstanceStatus` and `StopResult` out.
 */

/** When an instance that exited on its own is started again. */
export type RestartPolicy =
  /** never: it stays down (the default; drills want a dead process to stay dead). */
  | 'never'
  /** on-failure: when it exits with a non-zero code or a signal. */
  | 'on-failure'
  /** always: whenever it exits without being stopped. */
  | 'always';

/** How to tell an instance is ready. `{{port}}` and `{{instance}}` are replaced per instance. */
export type ReadyProbe = { url: string } | { tcp: string };

export interface ProcessSpec {
  /** Names the group and its pid file, e.g. `api@east`. */
  name: string;
  /**
   * Run with `/bin/sh -c`; `{{port}}`, `{{instance}}`, `{{name}}` and `{{host}}` (the address of the host it
   * runs on, 127.0.0.1 here) are replaced per instance.
   */
  command: string;
  /** Added to drctl's own environment; values are templated like the command. */
  env?: Record<string, string>;
  /** Working directory. @default the current directory (the login directory on a host) */
  cwd?: string;
  /** Port of each instance, in order. */
  ports?: readonly number[];
  /** Port of the first instance when `ports` runs out; instance i gets port + i. @default a free port */
  port?: number;
  ready?: ReadyProbe;
  /** How long an instance may take to become ready. @default 30000 */
  readyTimeoutMs?: number;
  /** @default 'never' */
  restart?: RestartPolicy;
  /** Restarts allowed per instance before it is left down. @default 5 */
  maxRestarts?: number;
  /** Time between SIGTERM and SIGKILL when stopping. @default 5000 */
  graceMs?: number;
}

/** What an instance is doing. */
export type InstanceState =
  /** running: alive (and was ready when started). */
  | 'running'
  /** paused: alive but stopped with SIGSTOP. */
  | 'paused'
  /** exited: recorded, but no longer alive (crashed, or killed outside the supervisor). */
  | 'exited';

export interface InstanceStatus {
  name: string;
  index: number;
  pid: number;
  port: number | undefined;
  state: InstanceState;
  restarts: number;
  startedAt: string;
  logFile: string;
}

export interface StopResult {
  name: string;
  /** Pids that were signalled. */
  pids: number[];
  /** Instances that needed SIGKILL because they ignored SIGTERM for the grace period. */
  forced: number;
}

/** Restarts of an instance wait 100 ms, doubling each time, at most 5 s. */
export const RESTART_DELAY = { firstMs: 100, maxMs: 5_000 } as const;
export const DEFAULT_MAX_RESTARTS = 5;

/** Group name of a component's processes at a site; also names its pid file. */
export function groupName(component: string, site: string): string {
  return `${component}@${site}`;
}

export function template(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => vars[key] ?? whole);
}

export function fileStem(name: string): string {
  return name.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/** Whether an instance needs a port: its command, readiness probe or environment mentions `{{port}}`. */
export function wantsPort(spec: ProcessSpec): boolean {
  const ready = spec.ready === undefined ? '' : 'url' in spec.ready ? spec.ready.url : spec.ready.tcp;
  return [spec.command, ready, ...Object.values(spec.env ?? {})].some((text) =>
    /\{\{\s*port\s*\}\}/.test(text),
  );
}

/** The port the plan gives instance `index` (listed, or the first port plus the index), if any. */
export function plannedPort(spec: ProcessSpec, index: number): number | undefined {
  const listed = spec.ports?.[index];
  if (listed !== undefined) return listed;
  return spec.port === undefined ? undefined : spec.port + index;
}

export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const satisfies readonly RestartPolicy[];
