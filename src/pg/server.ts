/**
 * One running PostgreSQL server (a postmaster) for one data directory: start, wait until it accepts
 * connections, stop (fast shutdown), kill (SIGKILL of the whole process group, as when a site is lost).
 *
 * Servers started here are their own process group so a kill takes every backend with it. Unless a server
 * is `persistent`, drctl kills it when its own process exits, so a crashed test or drill never leaves a
 * postgres running; persistent servers (an instance restored or rebuilt for an operator) outlive drctl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../errors.ts';
import { processAlive, processFrozen } from '../system/processes.ts';
import { serverRunAs, type PgBinaries } from './binaries.ts';

export interface PgServerOptions {
  binaries: PgBinaries;
  dataDir: string;
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Directory for the unix socket; empty for none. @default '' */
  socketDir?: string;
  /** Where the server's stderr (its log) goes. */
  logFile: string;
  /** Keep running after drctl exits. @default false */
  persistent?: boolean;
  /** Extra settings given on the command line (they win over every configuration file). */
  settings?: Record<string, string>;
  /** Extra environment for the server (and the archive and restore commands it runs). */
  env?: Record<string, string>;
  /** How long to wait for the server to accept connections. @default 60_000 */
  startTimeoutMs?: number;
  /** Wait only until the postmaster runs, not until it accepts connections (a standby catching up). @default false */
  noWait?: boolean;
  signal?: AbortSignal;
}

const live = new Set<PgServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const server of live) server.killNow();
  });
}

/** The postmaster pid recorded in a data directory, when that process is alive. */
export function runningPostmaster(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
}

/** The last lines of a log file, for error messages. */
export function logTail(logFile: string, lines = 8): string {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits until the process is gone; gives up after `timeoutMs`, or as soon as `giveUp` says so. */
async function waitGone(pid: number, timeoutMs: number, giveUp = (): boolean => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    if (giveUp()) return false;
    await sleep(20);
  }
  return !processAlive(pid);
}

/**
 * Stop whatever postmaster runs on a data directory, escalating to SIGKILL of its process group after
 * `timeoutMs`. Works for servers another process started. `fast` cuts sessions and writes a shutdown
 * checkpoint, which waits until every standby has received it; `immediate` ends every process at once and
 * leaves crash recovery to the next start, so a standby that cannot be reached does not hold it up. A frozen
 * postmaster (SIGSTOP) cannot act on either request, so it is killed at once: crash recovery makes that safe.
 */
export async function stopDataDir(
  dataDir: string,
  timeoutMs = 30_000,
  mode: 'fast' | 'immediate' = 'fast',
): Promise<StopOutcome> {
  const pid = runningPostmaster(dataDir);
  if (pid === undefined) return 'not-running';
  if (!processFrozen(pid)) {
    process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    if (await waitGone(pid, timeoutMs, () => processFrozen(pid))) return 'shut-down';
  }
  killGroup(pid);
  await waitGone(pid, 5_000);
  return 'killed';
}

/** How a server was stopped: the shutdown asked for, SIGKILL (frozen, or too slow), or it was not running. */
export type StopOutcome = 'shut-down' | 'killed' | 'not-running';

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Ask pg_isready: 0 accepting, 1 rejecting (starting up, recovering), 2 no answer. */
function isReady(binaries: PgBinaries, host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(join(binaries.dir, 'pg_isready'), ['-q', '-h', host, '-p', String(port), '-t', '1'], {
      stdio: 'ignore',
    });
    child.once('error', () => resolve(2));
    child.once('close', (code) => resolve(code ?? 2));
  });
}

export class PgServer {
  readonly options: PgServerOptions;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly exited: Promise<number | null>;
  #running = true;

  private constructor(options: PgServerOptions, child: ChildProcess) {
    this.options = options;
    this.#child = child;
    if (child.pid === undefined) throw new Error('postgres did not start');
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.#running = false;
        live.delete(this);
        resolve(code);
      });
    });
  }

  get running(): boolean {
    return this.#running;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.options.port;
  }

  /** Start a postmaster on a prepared data directory and wait until it accepts connections. */
  static async start(options: PgServerOptions): Promise<PgServer> {
    const stale = runningPostmaster(options.dataDir);
    if (stale !== undefined) {
      throw new DrctlError(
        'DRCTL_PG_ALREADY_RUNNING',
        `a postgres (pid ${stale}) already runs on ${options.dataDir}`,
        {
          hint: 'stop it first, or use that server',
        },
      );
    }
    const host = options.host ?? '127.0.0.1';
    const settings: Record<string, string> = {
      listen_addresses: host,
      port: String(options.port),
      unix_socket_directories: options.socketDir ?? '',
      ...options.settings,
    };
    const args = ['-D', options.dataDir];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
    const runAs = serverRunAs();
    const log = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(join(options.binaries.dir, 'postgres'), args, {
        stdio: ['ignore', log, log],
        detached: true,
        cwd: '/',
        env: {
          ...process.env,
          ...(runAs === undefined ? {} : { HOME: '/tmp', USER: runAs.user }),
          ...options.env,
        },
        ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
      });
    } finally {
      closeSync(log);
    }
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawnError !== undefined) {
      throw new DrctlError('DRCTL_PG_START_FAILED', `postgres could not be started on ${options.dataDir}`, {
        cause: spawnError,
      });
    }
    const server = new PgServer(options, child);
    if (options.persistent === true) child.unref();
    else {
      installExitHook();
      live.add(server);
    }
    if (options.noWait === true) return server;
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (!server.running) {
        throw new DrctlError(
          'DRCTL_PG_START_FAILED',
          `postgres on ${options.dataDir} exited while starting:\n${logTail(options.logFile)}`,
          {
            hint: 'the server log above says why',
          },
        );
      }
      if ((await isReady(options.binaries, host, options.port)) === 0) return server;
      if (Date.now() > deadline || options.signal?.aborted === true) {
        await server.kill();
        throw new DrctlError(
          'DRCTL_PG_START_FAILED',
          `postgres on ${options.dataDir} did not accept connections in time:\n${logTail(options.logFile)}`,
        );
      }
      await sleep(25);
    }
  }

  /** Fast shutdown; SIGKILL when it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.#running) return;
    process.kill(this.pid, 'SIGINT');
    const timer = setTimeout(() => this.killNow(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    // Backends notice the postmaster's death on their own; make sure none outlives it.
    killGroup(this.pid);
  }

  /** SIGKILL the postmaster and every backend at once, as a lost site would. */
  async kill(): Promise<void> {
    if (!this.#running) return;
    this.killNow();
    await this.exited;
  }

  /** Synchronous kill, for process exit. */
  killNow(): void {
    killGroup(this.pid);
  }
}

/** A value as postgresql.conf (and postgresql.auto.conf) reads it: single-quoted, quotes doubled. */
export function quoteConf(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
