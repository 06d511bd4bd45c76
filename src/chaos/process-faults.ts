/**
 * Process faults: kill a site's process (SIGKILL, no chance to clean up, like a lost machine), or pause
 * it (SIGSTOP: alive, holding its sockets, answering nothing, like a hung host) and let it go (SIGCONT).
 * By pid or by process group. Each call returns when and what it signalled, for the drill's timeline.
 */
import { DrctlError } from '../errors.ts';
import { procStat } from '../system/processes.ts';

export type ProcessSignal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM';

export interface ProcessTarget {
  pid: number;
  /** Signal the whole process group led by `pid` (a site started with `detached: true`). @default false */
  group?: boolean;
}

export interface SignalRecord {
  pid: number;
  group: boolean;
  signal: ProcessSignal;
  /** Date.now() when the signal was sent. */
  at: number;
  /** performance.now() when the signal was sent. */
  monotonic: number;
}

/** Send `signal` to a process or its group; refuses drctl's own process and group. */
export function signalProcess(target: ProcessTarget, signal: ProcessSignal): SignalRecord {
  const group = target.group ?? false;
  const where = `${group ? 'process group' : 'process'} ${target.pid}`;
  if (!Number.isInteger(target.pid) || target.pid <= 1) {
    throw new DrctlError(
      'DRCTL_CHAOS_PROCESS_INVALID',
      `cannot send ${signal} to ${where}: not a process a drill may signal`,
      {
        hint: 'give the pid of a site process drctl or the drill started',
        exitCode: 2,
      },
    );
  }
  if (target.pid === process.pid || (group && target.pid === ownProcessGroup())) {
    throw new DrctlError(
      'DRCTL_CHAOS_PROCESS_INVALID',
      `cannot send ${signal} to ${where}: that is drctl itself`,
      {
        hint: 'start the site processes detached (their own process group) and signal that group',
        exitCode: 2,
      },
    );
  }
  try {
    process.kill(group ? -target.pid : target.pid, signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') {
      throw new DrctlError(
        'DRCTL_CHAOS_PROCESS_NOT_FOUND',
        `cannot send ${signal} to ${where}: no such ${group ? 'group' : 'process'}`,
        {
          hint: 'the process already exited, or the pid is wrong',
          cause: error,
        },
      );
    }
    if (code === 'EPERM') {
      throw new DrctlError(
        'DRCTL_CHAOS_PROCESS_DENIED',
        `cannot send ${signal} to ${where}: permission denied`,
        {
          hint: 'a drill may only signal processes of the user it runs as',
          cause: error,
        },
      );
    }
    throw error;
  }
  return { pid: target.pid, group, signal, at: Date.now(), monotonic: performance.now() };
}

/** SIGKILL: the process ends at once, without cleaning up. */
export function killProcess(target: ProcessTarget): SignalRecord {
  return signalProcess(target, 'SIGKILL');
}

/** SIGSTOP: the process stays alive and holds its sockets but runs no code until resumed. */
export function pauseProcess(target: ProcessTarget): SignalRecord {
  return signalProcess(target, 'SIGSTOP');
}

/** SIGCONT: a paused process runs again. */
export function resumeProcess(target: ProcessTarget): SignalRecord {
  return signalProcess(target, 'SIGCONT');
}

/** Whether a process (or group) exists; a zombie not yet reaped by its parent still counts. */
export function processExists(target: ProcessTarget): boolean {
  try {
    process.kill(target.group ? -target.pid : target.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownProcessGroup(): number | undefined {
  return procStat(process.pid)?.pgrp;
}
