/**
 * Commands on this machine, each in its own process group under the step-process guard
 * (src/system/guarded-spawn.ts): stopping a command stops its group, and the group dies when drctl dies,
 * SIGKILL included, so a step's processes never outlive the driver that started them. The SSH client that
 * carries a remote command is started the same way, so a dead driver closes its SSH sessions too.
 *
 * The one exception is `launch`: a service that is meant to outlive drctl (a supervised instance), in a
 * process group of its own but not guarded, its output in a log file rather than a pipe.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { spawnGuarded } from '../system/guarded-spawn.ts';
import type { StepProcess } from '../system/guarded-spawn.ts';
import { signalGroup } from '../system/processes.ts';
import { DEFAULT_OUTPUT_LIMIT, CappedOutput } from './output.ts';
import type { Executor, RunOptions, RunResult, StreamHandle, StreamOptions } from './types.ts';

/** How long a stopped command gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2_000;

/** SIGTERM to the group now, SIGKILL after the grace period if anything is left. */
export function stopGroup(child: ChildProcess, graceMs = KILL_GRACE_MS): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    signalGroup(pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      signalGroup(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, graceMs);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

/**
 * Spawn `argv` in its own process group, guarded, and collect its output. Used for local commands and for
 * the SSH client itself, so a driver that dies takes its SSH sessions (and so the remote commands) with it.
 */
export function runProcess(
  argv: readonly string[],
  options: RunOptions & {
    stdin?: string | NodeJS.ReadableStream | 'keep-open';
    /** Leave stdout unread: the caller consumes it as a stream. */
    rawStdout?: boolean;
  },
  describeSpawnError: (error: Error) => Error,
): { child: ChildProcess; done: Promise<RunResult>; process: StepProcess | undefined } {
  const [file, ...args] = argv as [string, ...string[]];
  const started = performance.now();
  const { child, process: stepProcess } = spawnGuarded(file, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { ...process.env, ...options.env },
    stdin: options.stdin === undefined ? 'ignore' : 'pipe',
  });
  if (stepProcess !== undefined) options.onStart?.(stepProcess);
  const limit = options.outputLimit ?? DEFAULT_OUTPUT_LIMIT;
  const stdout = new CappedOutput(limit);
  const stderr = new CappedOutput(limit);
  if (options.rawStdout !== true)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      options.onOutput?.('stdout', chunk);
    });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    options.onOutput?.('stderr', chunk);
  });
  if (child.stdin !== null) {
    child.stdin.on('error', () => {
      // the command closed its stdin early: what it did is told by its exit code
    });
    const input = options.stdin;
    if (typeof input === 'string') {
      if (input !== 'keep-open') child.stdin.end(input);
    } else if (input !== undefined) input.pipe(child.stdin);
  }
  const stop = (): void => stopGroup(child);
  options.signal?.addEventListener('abort', stop, { once: true });
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(stop, options.timeoutMs);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once('error', (error) => {
      options.signal?.removeEventListener('abort', stop);
      clearTimeout(timer);
      reject(describeSpawnError(error));
    });
    child.once('close', (exitCode, signal) => {
      options.signal?.removeEventListener('abort', stop);
      clearTimeout(timer);
      resolve({
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - started,
      });
    });
  });
  if (options.signal?.aborted === true) stop();
  return { child, done, process: stepProcess };
}

export interface LaunchOptions {
  /** Appended to: the service's stdout and stderr. */
  logFile: string;
  cwd?: string;
  /** Added to drctl's own environment. */
  env?: Record<string, string>;
}

/** A service started with `launch`. */
export interface Launched {
  /** Its pid, which is also its process group's id. */
  pid: number;
  /** Settles when it exits, as long as this drctl lives (it does not keep drctl alive). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class LocalExecutor implements Executor {
  readonly where = 'this machine';
  readonly host = undefined;

  async run(command: string, options: RunOptions = {}): Promise<RunResult> {
    return runProcess(['/bin/sh', '-c', command], options, (error) =>
      Object.assign(new Error(`cannot start /bin/sh for "${command}": ${error.message}`), { cause: error }),
    ).done;
  }

  stream(command: string, options: StreamOptions = {}): StreamHandle {
    const { child, done } = runProcess(
      ['/bin/sh', '-c', command],
      { ...options, rawStdout: true },
      (error) => error,
    );
    return { stdout: child.stdout as NodeJS.ReadableStream, done };
  }

  /**
   * Start a `/bin/sh -c` command that outlives drctl: its own process group (signals reach what it
   * starts), stdin from /dev/null, output appended to `logFile`. Throws when the shell cannot start.
   */
  launch(command: string, options: LaunchOptions): Launched {
    const out = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', command], {
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        env: { ...process.env, ...options.env },
        detached: true,
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const pid = child.pid;
    if (pid === undefined) {
      exited.catch(() => undefined);
      throw new Error(`cannot start /bin/sh for "${command}"`);
    }
    // drctl may exit while the service keeps running
    child.unref();
    return { pid, exited };
  }

  async signal(pid: number, signal: NodeJS.Signals, options: { group?: boolean } = {}): Promise<boolean> {
    try {
      process.kill(options.group === true ? -pid : pid, signal);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {}
}
