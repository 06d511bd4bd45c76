/**
 * Starting a process that acts for a run's step so that it cannot outlive the drctl process driving the
 * run. Every provider that runs a step's command on this machine starts it here (and the execution layer
 * that also reaches hosts over SSH builds on it).
 *
 * What the guard guarantees:
 * - The command runs in a process group of its own, led by a tiny `/bin/sh` wrapper: stopping the step
 *   signals the whole group, so what the command started stops with it.
 * - The wrapper keeps a watcher in the group that holds the read end of a pipe whose only write end is
 *   in this Node.js process. When this process dies for any reason (SIGKILL included), the kernel closes
 *   that end; the watcher reads end-of-file, sends SIGTERM to the group and, `graceMs` later, SIGKILL.
 *   So a step's processes are gone within `graceMs` (plus scheduling) of their driver's death, and a
 *   driver that takes the run over does not find the step still running when it starts it again.
 * - When the command ends by itself the wrapper ends the watcher and exits with the command's status (or
 *   dies of the signal that killed it), so what the command left running on purpose (a daemon) is not
 *   tied to the driver. When the wrapper is killed (a cancel or a timeout) this process closes its end
 *   of the pipe as soon as the wrapper is gone, and the watcher ends what is left of the group.
 * - The group's id, the host and the leader's start time (clock ticks since boot, from /proc) identify
 *   the process beyond pid reuse; the engine journals them, so a driver taking over can tell whether the
 *   old step is still running before it runs the step again (`processGroupGone`).
 *
 * What it does not cover: a command that moves itself to another process group or session (`setsid`,
 * a daemonising service) leaves the guard's reach, as it leaves any process-group kill.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { procStat, signalGroup } from './processes.ts';

/** A step's process as the journal keeps it. */
export interface StepProcess {
  /** The wrapper's pid, which is also the process group's id. */
  pid: number;
  host: string;
  /** The wrapper's start time in clock ticks since boot; absent where /proc is not readable. */
  startTicks?: string;
  /** When it was started, on this host's clock, in ISO 8601. */
  startedAt: string;
}

export interface GuardedSpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** What the command reads on stdin. @default 'ignore' */
  stdin?: 'ignore' | 'pipe';
  /** How long the group gets between SIGTERM and SIGKILL once its driver is gone. @default 500 */
  graceMs?: number;
}

export interface GuardedChild {
  child: ChildProcess & { stdout: Readable; stderr: Readable };
  /** The command's stdin when `stdin: 'pipe'`. */
  stdin: Writable | undefined;
  /** Undefined when the spawn failed (the child emits 'error'). */
  process: StepProcess | undefined;
}

/**
 * `$0` is the wrapper's name, `$1` the grace in seconds, the rest the command and its arguments; fd 3
 * is the guard pipe. The watcher ignores SIGTERM (so the group's own SIGTERM does not end it before its
 * SIGKILL) and writes nowhere, so it never keeps the step's output pipes open.
 */
const WRAPPER = [
  'g=$1; shift',
  `( trap '' TERM INT HUP; read -r _ <&3; kill -TERM 0; sleep "$g"; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &`,
  'w=$!',
  'exec 3<&-',
  // an asynchronous list's stdin is /dev/null, whatever `<&0` says: hand it over on another descriptor
  'exec 4<&0',
  '"$@" <&4 4<&- &',
  'exec 4<&-',
  'wait $!; s=$?',
  'kill -KILL $w 2>/dev/null',
  // die of the signal that killed the command, so the caller sees the signal and not 128+n
  'if [ $s -gt 128 ] && [ $s -lt 160 ]; then trap - $((s - 128)); kill -$((s - 128)) $$; fi',
  'exit $s',
].join('\n');

/** Starts `command args…` in its own process group, guarded so that it dies with this process. */
export function spawnGuarded(
  command: string,
  args: readonly string[],
  options: GuardedSpawnOptions = {},
): GuardedChild {
  const grace = ((options.graceMs ?? 500) / 1000).toFixed(3);
  const spawnOptions: SpawnOptions = {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  };
  const child = spawn(
    '/bin/sh',
    ['-c', WRAPPER, 'drctl-step', grace, command, ...args],
    spawnOptions,
  ) as GuardedChild['child'];
  const guard = child.stdio[3] as (Readable & { destroy(): void }) | null;
  // the wrapper is gone: close our end, so the watcher ends whatever is left of the group
  child.once('exit', () => guard?.destroy());
  child.once('error', () => guard?.destroy());
  // the watcher never writes; reading keeps the stream from holding the event loop for nothing
  guard?.resume();
  const pid = child.pid;
  const stat = pid === undefined ? undefined : procStat(pid);
  return {
    child,
    stdin: child.stdin ?? undefined,
    process:
      pid === undefined
        ? undefined
        : {
            pid,
            host: hostname(),
            ...(stat === undefined ? {} : { startTicks: stat.startTicks }),
            startedAt: new Date().toISOString(),
          },
  };
}

/**
 * Whether a journaled step process is known to be gone: on this host, no process is left in its group
 * (a later process that reused the pid but not the group does not count). On another host nothing can
 * be known from here: `undefined`.
 */
export function processGroupGone(step: StepProcess): boolean | undefined {
  if (step.host !== hostname()) return undefined;
  const members = groupMembers(step.pid);
  if (members === undefined) {
    // no /proc: the group's existence is all there is to go by
    try {
      process.kill(-step.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  // A pid is not handed out while a group of that id lives, so the group is ours, unless ours ended
  // altogether and a later process with the same pid leads a group of its own: a different start time.
  const leader = members.find((member) => member.pid === step.pid);
  if (leader !== undefined && step.startTicks !== undefined && leader.startTicks !== step.startTicks)
    return true;
  return members.length === 0;
}

/**
 * The live processes of a group, from /proc; zombies do not count (an init that does not reap keeps
 * the orphans of a killed driver as zombies, and `kill(-pgid, 0)` still finds them). Undefined without /proc.
 */
function groupMembers(pgid: number): { pid: number; startTicks: string }[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: { pid: number; startTicks: string }[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = procStat(pid);
    if (stat === undefined || stat.pgrp !== pgid || stat.state === 'Z' || stat.state === 'X') continue;
    members.push({ pid, startTicks: stat.startTicks });
  }
  return members;
}

/** Ends a journaled step process group on this host: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function endProcessGroup(step: StepProcess, graceMs = 500): Promise<boolean> {
  const gone = processGroupGone(step);
  if (gone !== false) return gone === true;
  signalGroup(step.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let killed = false;
  for (;;) {
    if (processGroupGone(step) === true) return true;
    if (!killed && Date.now() >= deadline) {
      signalGroup(step.pid, 'SIGKILL');
      killed = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
