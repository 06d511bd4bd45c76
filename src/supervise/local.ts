/**
 * The local process supervisor: a site's compute as processes on this machine. It starts a command
 * (with environment, working directory and a readiness probe), restarts it on crash when asked, stops it
 * (SIGTERM, then SIGKILL after a grace period), kills, pauses and resumes it, and scales it to N instances.
 *
 * Why it is built this way:
 * - Instances are started through the execution layer (`LocalExecutor.launch`), each in its own process
 *   group, and every signal goes to the group, so a shell wrapper's children or a server's workers die
 *   with it.
 * - A pid file per group in `<stateDir>/processes/` records the instances, so another drctl process (a
 *   later `drctl run`, a drill's cleanup) can find, stop or kill them. The pid file is also the desired
 *   state: an instance removed from it was stopped on purpose and is never restarted.
 * - Output goes to log files, not pipes, so an instance outlives the drctl that started it when that is
 *   what is wanted (a failover started by `drctl run`). Whoever wants nothing left behind (demo, drills,
 *   tests) calls `close()`, or `closeOnExit()` to have it done on SIGINT, SIGTERM and exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DrctlError } from '../errors.ts';
import { localExecutor } from '../exec/index.ts';
import { silentLogger } from '../system/logger.ts';
import { freePort } from '../system/ports.ts';
import { procStat, processAlive, signalGroup } from '../system/processes.ts';
import { probeReady } from './ready.ts';
import { DEFAULT_MAX_RESTARTS, RESTART_DELAY, fileStem, plannedPort, template, wantsPort } from './spec.ts';
import type { InstanceState, InstanceStatus, ProcessSpec, StopResult } from './spec.ts';

export interface SupervisorOptions {
  /** Where pid files and logs live (`<stateDir>/processes/`). */
  stateDir: string;
  /** @default a silent logger */
  log?: Logger;
}

interface InstanceRecord {
  index: number;
  pid: number;
  port: number | undefined;
  /** Kernel start time of the pid (Linux), to never signal a reused pid. */
  startTicks: string | undefined;
  startedAt: string;
  paused: boolean;
  restarts: number;
  logFile: string;
}

interface PidFile {
  name: string;
  spec: ProcessSpec;
  instances: InstanceRecord[];
}

// short: a failover waits on these polls, and each one is cheap (a refused connect, a /proc scan)
const POLL_MS = 20;

export class Supervisor {
  readonly stateDir: string;
  readonly dir: string;
  private readonly log: Logger;
  /** Pids of the instances this supervisor started and still watches, by group name and instance index. */
  private readonly children = new Map<string, Map<number, number>>();
  private closing = false;

  private constructor(options: SupervisorOptions) {
    this.stateDir = options.stateDir;
    this.dir = path.join(options.stateDir, 'processes');
    this.log = options.log ?? silentLogger();
  }

  static create(options: SupervisorOptions): Supervisor {
    const supervisor = new Supervisor(options);
    fs.mkdirSync(supervisor.dir, { recursive: true });
    return supervisor;
  }

  /**
   * Starts `instances` instances and waits until each is ready. Idempotent: instances already running
   * (by this or an earlier drctl process) are kept, and only the missing ones are started.
   */
  async start(
    spec: ProcessSpec,
    options: { instances?: number; signal?: AbortSignal } = {},
  ): Promise<InstanceStatus[]> {
    const wanted = options.instances ?? 1;
    const existing = this.readPidFile(spec.name);
    // a fresh start takes the new spec; the instances it already has keep theirs
    this.writePidFile({
      name: spec.name,
      spec,
      instances: existing?.instances.filter((r) => this.alive(r)) ?? [],
    });
    return this.scaleTo(spec.name, wanted, options.signal);
  }

  /** Starts or stops instances (highest index first) until `instances` are running. */
  async scale(
    name: string,
    instances: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<InstanceStatus[]> {
    this.requirePidFile(name);
    return this.scaleTo(name, instances, options.signal);
  }

  /** SIGTERM to every instance's process group, SIGKILL after the grace period; forgets the group. */
  async stop(name: string, options: { graceMs?: number } = {}): Promise<StopResult> {
    const file = this.readPidFile(name);
    if (file === undefined) return { name, pids: [], forced: 0 };
    const graceMs = options.graceMs ?? file.spec.graceMs ?? 5_000;
    // forget first: a supervisor watching these instances (here or in another drctl) must not restart them
    this.removePidFile(name);
    const results = await Promise.all(
      file.instances.map((record) => this.stopInstance(name, record, graceMs)),
    );
    return { name, pids: file.instances.map((r) => r.pid), forced: results.filter(Boolean).length };
  }

  /** SIGKILL to every instance's process group, as a site loss would; no restart follows. */
  async kill(name: string): Promise<StopResult> {
    return this.stop(name, { graceMs: 0 });
  }

  /** SIGSTOP to every instance: the processes stay, but stop answering. */
  pause(name: string): InstanceStatus[] {
    return this.signalAll(name, 'SIGSTOP', true);
  }

  /** SIGCONT to every instance paused by `pause`. */
  resume(name: string): InstanceStatus[] {
    return this.signalAll(name, 'SIGCONT', false);
  }

  /** The recorded instances of a group and whether they are alive; empty when it is not started. */
  status(name: string): InstanceStatus[] {
    const file = this.readPidFile(name);
    return file === undefined ? [] : file.instances.map((record) => this.describe(name, record));
  }

  /** Names of every group with a pid file in this state directory. */
  list(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .filter((entry) => entry.endsWith('.json'))
      .map((entry) => this.readPidFileAt(path.join(this.dir, entry))?.name)
      .filter((name): name is string => name !== undefined);
  }

  /** Stops every group this supervisor started (not ones it only found in pid files). */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing = true;
    const names = [...this.children.keys()];
    await Promise.all(names.map((name) => this.stop(name, options)));
    this.children.clear();
    // usable again: the shared supervisor of a state directory outlives one drill
    this.closing = false;
  }

  /** Kills every group this supervisor started, synchronously: for `process.on('exit')`. */
  closeSync(): void {
    this.closing = true;
    for (const [name, instances] of this.children) {
      for (const pid of instances.values()) signalGroup(pid, 'SIGKILL');
      this.removePidFile(name);
    }
    this.children.clear();
  }

  private async scaleTo(
    name: string,
    wanted: number,
    signal: AbortSignal | undefined,
  ): Promise<InstanceStatus[]> {
    if (!Number.isInteger(wanted) || wanted < 0) {
      throw new DrctlError('DRCTL_PROCESS_SCALE', `cannot scale ${name} to ${wanted} instances`, {
        hint: 'give a whole number, 0 or more',
      });
    }
    const file = this.requirePidFile(name);
    const alive = file.instances.filter((record) => this.alive(record)).sort((a, b) => a.index - b.index);
    // dead records (crashed, not restarted) are replaced rather than counted
    for (const record of file.instances.filter((r) => !alive.includes(r))) this.forget(name, record.index);
    while (alive.length > wanted) {
      const record = alive.pop();
      if (record === undefined) break;
      this.forget(name, record.index);
      await this.stopInstance(name, record, file.spec.graceMs ?? 5_000);
    }
    const used = new Set(alive.map((r) => r.index));
    const starts: Promise<void>[] = [];
    for (let index = 0; used.size + starts.length < wanted; index++) {
      if (used.has(index)) continue;
      starts.push(this.startInstance(file.spec, index, 0, signal));
    }
    const outcomes = await Promise.allSettled(starts);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return this.status(name);
  }

  private async startInstance(
    spec: ProcessSpec,
    index: number,
    restarts: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const cwd = spec.cwd ?? process.cwd();
    if (!fs.existsSync(cwd)) {
      throw new DrctlError(
        'DRCTL_PROCESS_CWD',
        `cannot start ${spec.name}: working directory ${cwd} does not exist`,
        {
          hint: 'fix cwd in the placement or the step',
        },
      );
    }
    const port = await portFor(
      spec,
      index,
      this.readPidFile(spec.name)?.instances.find((r) => r.index === index)?.port,
    );
    const vars = {
      port: port === undefined ? '' : String(port),
      instance: String(index),
      name: spec.name,
      host: '127.0.0.1',
    };
    const logFile = path.join(this.dir, `${fileStem(spec.name)}.${index}.log`);
    let pid: number;
    let exitedAt: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    try {
      ({ pid, exited: exitedAt } = localExecutor.launch(template(spec.command, vars), {
        cwd,
        logFile,
        env: Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, template(v, vars)])),
      }));
    } catch (error) {
      throw new DrctlError('DRCTL_PROCESS_START', `cannot start ${spec.name}: the shell did not start`, {
        hint: 'check that /bin/sh exists',
        cause: error,
      });
    }
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void exitedAt.then(
      ({ code, signal: sig }) => {
        exited = { code, signal: sig };
        void this.onExit(spec.name, index, pid, code, sig);
      },
      (error: unknown) => this.log.error({ name: spec.name, index, err: error }, 'process lost'),
    );
    this.childrenOf(spec.name).set(index, pid);
    const record: InstanceRecord = {
      index,
      pid,
      port,
      startTicks: startTicks(pid),
      startedAt: new Date().toISOString(),
      paused: false,
      restarts,
      logFile,
    };
    this.update(spec.name, (file) => ({
      ...file,
      instances: [...file.instances.filter((r) => r.index !== index), record],
    }));
    this.log.info({ name: spec.name, index, pid, port }, 'process started');

    try {
      await waitReady(spec, vars, () => exited, signal);
    } catch (error) {
      this.forget(spec.name, index);
      await this.stopInstance(spec.name, record, 0);
      const tail = logTail(logFile);
      if (error instanceof DrctlError) {
        throw new DrctlError(error.code, error.message, {
          ...(error.hint === undefined ? {} : { hint: error.hint }),
          details: { ...error.details, log: tail },
          cause: error,
        });
      }
      throw error;
    }
  }

  private async onExit(
    name: string,
    index: number,
    pid: number,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    const group = this.children.get(name);
    if (group?.get(index) === pid) group.delete(index);
    const file = this.readPidFile(name);
    const record = file?.instances.find((r) => r.index === index && r.pid === pid);
    // removed from the pid file: stopped on purpose, by us or by another drctl process
    if (this.closing || file === undefined || record === undefined) return;
    const policy = file.spec.restart ?? 'never';
    const failed = code !== 0 || signal !== null;
    this.log.warn({ name, index, pid, code, signal }, 'process exited');
    if (policy === 'never' || (policy === 'on-failure' && !failed)) return;
    if (record.restarts >= (file.spec.maxRestarts ?? DEFAULT_MAX_RESTARTS)) {
      this.log.error({ name, index, restarts: record.restarts }, 'process keeps exiting; left down');
      return;
    }
    await sleep(Math.min(RESTART_DELAY.firstMs * 2 ** record.restarts, RESTART_DELAY.maxMs));
    // stopped while we waited?
    if (this.closing || this.readPidFile(name)?.instances.find((r) => r.index === index)?.pid !== pid) return;
    try {
      await this.startInstance(file.spec, index, record.restarts + 1, undefined);
      this.log.info({ name, index, restarts: record.restarts + 1 }, 'process restarted');
    } catch (error) {
      this.log.error({ name, index, err: error }, 'process restart failed');
    }
  }

  /** Returns true when SIGKILL was needed. */
  private async stopInstance(name: string, record: InstanceRecord, graceMs: number): Promise<boolean> {
    if (this.children.get(name)?.get(record.index) === record.pid)
      this.children.get(name)?.delete(record.index);
    // a live leader that is not the process we started means the pid was reused: not ours to signal
    if (processAlive(record.pid) && !this.sameProcess(record)) return false;
    if (!groupAlive(record.pid)) return false;
    if (graceMs > 0) {
      signalGroup(record.pid, 'SIGTERM');
      // a paused process only sees SIGTERM once it runs again
      signalGroup(record.pid, 'SIGCONT');
      if (await waitGone(record.pid, graceMs)) return false;
    }
    signalGroup(record.pid, 'SIGKILL');
    if (!(await waitGone(record.pid, 5_000)))
      this.log.error({ name, pid: record.pid }, 'process group survived SIGKILL');
    return graceMs > 0;
  }

  private signalAll(name: string, sig: 'SIGSTOP' | 'SIGCONT', paused: boolean): InstanceStatus[] {
    const file = this.requirePidFile(name);
    for (const record of file.instances) if (this.sameProcess(record)) signalGroup(record.pid, sig);
    this.update(name, (f) => ({ ...f, instances: f.instances.map((r) => ({ ...r, paused })) }));
    return this.status(name);
  }

  private describe(name: string, record: InstanceRecord): InstanceStatus {
    const state: InstanceState = !this.alive(record) ? 'exited' : record.paused ? 'paused' : 'running';
    return {
      name,
      index: record.index,
      pid: record.pid,
      port: record.port,
      state,
      restarts: record.restarts,
      startedAt: record.startedAt,
      logFile: record.logFile,
    };
  }

  private alive(record: InstanceRecord): boolean {
    return this.sameProcess(record) && processAlive(record.pid);
  }

  /** The pid still belongs to the process we started (not a reused pid). */
  private sameProcess(record: InstanceRecord): boolean {
    if (record.startTicks === undefined) return processAlive(record.pid);
    return startTicks(record.pid) === record.startTicks;
  }

  private forget(name: string, index: number): void {
    this.update(name, (file) => ({ ...file, instances: file.instances.filter((r) => r.index !== index) }));
  }

  private childrenOf(name: string): Map<number, number> {
    let group = this.children.get(name);
    if (group === undefined) this.children.set(name, (group = new Map()));
    return group;
  }

  private pidFilePath(name: string): string {
    return path.join(this.dir, `${fileStem(name)}.json`);
  }

  private readPidFile(name: string): PidFile | undefined {
    return this.readPidFileAt(this.pidFilePath(name));
  }

  private readPidFileAt(file: string): PidFile | undefined {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as PidFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DrctlError(
        'DRCTL_PROCESS_PIDFILE',
        `cannot read pid file ${file}: ${(error as Error).message}`,
        {
          hint: 'stop the processes by hand and delete the file',
          cause: error,
        },
      );
    }
  }

  private requirePidFile(name: string): PidFile {
    const file = this.readPidFile(name);
    if (file === undefined) {
      throw new DrctlError('DRCTL_PROCESS_UNKNOWN', `${name} is not started: no pid file in ${this.dir}`, {
        hint: 'start it first (process.start), or check the state directory',
      });
    }
    return file;
  }

  private writePidFile(file: PidFile): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const target = this.pidFilePath(file.name);
    // write then rename, so a reader never sees half a file
    const temporary = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`);
    fs.renameSync(temporary, target);
  }

  private update(name: string, change: (file: PidFile) => PidFile): void {
    const file = this.readPidFile(name);
    if (file !== undefined) this.writePidFile(change(file));
  }

  private removePidFile(name: string): void {
    fs.rmSync(this.pidFilePath(name), { force: true });
  }
}

/**
 * Stops the given supervisors when drctl is interrupted (SIGINT, SIGTERM) or exits, so a demo, a drill
 * or a test run leaves nothing behind. Returns a function that removes the handlers again.
 */
export function closeOnExit(...supervisors: Supervisor[]): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    void Promise.allSettled(supervisors.map((s) => s.close({ graceMs: 2_000 }))).then(() => {
      unregister();
      // re-raise so the exit status says which signal ended drctl, unless someone else handles it
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const onExit = (): void => {
    for (const supervisor of supervisors) supervisor.closeSync();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  const unregister = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
  return unregister;
}

const shared = new Map<string, Supervisor>();

/** The supervisor of this drctl process for a state directory, shared by actions, drills and the demo. */
export function supervisorFor(stateDir: string, log?: Logger): Supervisor {
  const key = path.resolve(stateDir);
  let supervisor = shared.get(key);
  if (supervisor === undefined) {
    supervisor = Supervisor.create({ stateDir: key, ...(log === undefined ? {} : { log }) });
    shared.set(key, supervisor);
  }
  return supervisor;
}

async function portFor(
  spec: ProcessSpec,
  index: number,
  previous: number | undefined,
): Promise<number | undefined> {
  return previous ?? plannedPort(spec, index) ?? (wantsPort(spec) ? freePort() : undefined);
}

async function waitReady(
  spec: ProcessSpec,
  vars: Record<string, string>,
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const timeoutMs = spec.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const ready = spec.ready;
  let last = 'no probe yet';
  for (;;) {
    const gone = exited();
    if (gone !== undefined) {
      throw new DrctlError(
        'DRCTL_PROCESS_EXITED',
        `${spec.name} exited before it was ready (${gone.signal ?? `code ${gone.code}`})`,
        {
          hint: 'read the log in details.log; check the command, its environment and that its port is free',
        },
      );
    }
    if (signal?.aborted)
      throw new DrctlError('DRCTL_PROCESS_CANCELLED', `starting ${spec.name} was cancelled`, {
        cause: signal.reason,
      });
    if (ready === undefined) {
      // nothing to probe: alive after a moment is the best we can know
      await sleep(200);
      if (exited() === undefined) return;
      continue;
    }
    const result = await probeReady(ready, vars, deadline - Date.now());
    if (result.ok) return;
    last = result.message;
    if (Date.now() >= deadline) {
      throw new DrctlError(
        'DRCTL_PROCESS_NOT_READY',
        `${spec.name} was not ready within ${timeoutMs}ms: ${last}`,
        {
          hint: 'check the readiness URL or port, or allow more time (ready_timeout)',
        },
      );
    }
    await sleep(POLL_MS);
  }
}

/**
 * Whether any live (non-zombie) process remains in the group. Reads /proc where it exists, because an
 * init that does not reap leaves zombies that `kill(-pgid, 0)` still counts.
 */
function groupAlive(pgid: number): boolean {
  if (!fs.existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

async function waitGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function startTicks(pid: number): string | undefined {
  return procStat(pid)?.startTicks;
}

function logTail(file: string, bytes = 2_000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '';
  }
}
