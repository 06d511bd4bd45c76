/**
 * Where a group's processes run, behind one interface: the local supervisor (local.ts) for this machine,
 * the host's own processes over SSH (host.ts) for a host. Callers are written once against
 * `ProcessGroups`; this is the only place that tells the two apart.
 */
import type { Logger } from 'pino';
import type { Executor } from '../exec/index.ts';
import { HostProcessGroups } from './host.ts';
import { supervisorFor } from './local.ts';
import type { InstanceStatus, ProcessSpec, StopResult } from './spec.ts';

export interface ProcessGroups {
  /** For messages: `this machine` or `host app-east (198.18.0.2)`. */
  readonly where: string;
  /** Start instances until `instances` run and wait until they are ready; running ones are kept. */
  start(spec: ProcessSpec, options: { instances?: number; signal?: AbortSignal }): Promise<InstanceStatus[]>;
  /** Exactly `instances` running; a group never started is started from `spec()`. */
  scale(
    name: string,
    instances: number,
    spec: () => ProcessSpec,
    options: { signal?: AbortSignal },
  ): Promise<InstanceStatus[]>;
  stop(name: string, options: { graceMs?: number }): Promise<StopResult>;
  kill(name: string): Promise<StopResult>;
  pause(name: string): Promise<InstanceStatus[]>;
  resume(name: string): Promise<InstanceStatus[]>;
  /** Recorded instances and their state; empty when the group is not started. */
  status(name: string): Promise<InstanceStatus[]>;
}

/**
 * The process groups an executor reaches: on its host (pid files in the host's `state_dir`), or here
 * under the local supervisor of `stateDir`.
 */
export function processGroupsOn(executor: Executor, stateDir: string, log?: Logger): ProcessGroups {
  if (executor.host !== undefined) {
    const groups = new HostProcessGroups(executor);
    return {
      where: groups.where,
      start: (spec, options) => groups.start(spec, options),
      // the spec comes from the plan each time: nothing but pids is kept on the host
      scale: (_name, instances, spec, options) => groups.start(spec(), { ...options, instances }),
      stop: (name, options) => groups.stop(name, options),
      kill: (name) => groups.kill(name),
      pause: (name) => groups.pause(name),
      resume: (name) => groups.resume(name),
      status: (name) => groups.status(name),
    };
  }
  const supervisor = supervisorFor(stateDir, log);
  return {
    where: 'this machine',
    start: (spec, options) => supervisor.start(spec, options),
    // scaling a site that was never started (a cold standby) starts it from its placement
    scale: (name, instances, spec, options) =>
      supervisor.list().includes(name)
        ? supervisor.scale(name, instances, options)
        : supervisor.start(spec(), { ...options, instances }),
    stop: (name, options) => supervisor.stop(name, options),
    kill: (name) => supervisor.kill(name),
    pause: async (name) => supervisor.pause(name),
    resume: async (name) => supervisor.resume(name),
    status: async (name) => supervisor.status(name),
  };
}
