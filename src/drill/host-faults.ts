/**
 * Faults on an existing environment: on the plan's real components, on their hosts over SSH (or on this
 * machine for a placement without a host). A fault is a pair of shell commands, apply and undo, and three
 * rules keep the environment safe whatever happens to drctl:
 *
 * - the fault is written to the state directory (`<state>/drill-faults/<id>.json`) before it is applied,
 *   so a later `drctl drill cleanup` (or the next drill) finds it even if drctl dies while applying it;
 * - the apply command first starts a timer on the host, detached from drctl's session (`setsid`), that runs
 *   the undo after the fault's duration (or the scenario's maximum): the fault undoes itself there even if
 *   drctl is SIGKILLed or the host is cut off from it;
 * - every undo can run twice (a SIGCONT to a running process, a qdisc already gone), and finds its targets
 *   again rather than trusting pids it saw earlier.
 *
 * Network faults use the kernel's traffic control on the host (needs root there): every interface but `lo`
 * is cut or slowed except the host's SSH port, so drctl can still undo it; on this machine only the
 * placement's own port is, on `lo`, so nothing else here is touched.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseBandwidth } from '../chaos/index.ts';
import { DrctlError } from '../errors.ts';
import { executorOn, hostTarget, shellQuote } from '../exec/index.ts';
import type { Executor, RunResult } from '../exec/index.ts';
import { faultHost, faultPlacement } from '../plan/compile-drills.ts';
import type { Fault, Placement, Plan } from '../plan/model.ts';
import { processAlive } from '../system/processes.ts';
import { now, sleep } from './clock.ts';

/** The qdisc handle drctl's network faults use, so an undo removes only its own. */
const HANDLE = '7d1';
const LEDGER = 'drill-faults';

/** A fault as the state directory keeps it until it is undone. */
export interface FaultRecord {
  id: string;
  drill: string;
  /** The drctl process that applied it: a record whose process is gone is a leftover. */
  owner: { host: string; pid: number };
  /** The plan's host it acts on; undefined for this machine. */
  host: string | undefined;
  target: string;
  kind: Fault['kind'];
  undo: string;
  appliedAt: string;
  expiresAt: string;
}

interface FaultCommands {
  host: string | undefined;
  apply: string;
  /** Undefined for a fault nothing can take back (a killed process stays killed: the runbook restarts it). */
  undo: string | undefined;
}

/** Faults an existing environment can take, and why not for the rest. */
export function existingFaultUnsupported(plan: Plan, fault: Fault): string | undefined {
  if (fault.kind === 'reset' || fault.kind === 'corrupt')
    return `${fault.kind} is not injected into an existing environment (no proxy is in its path)`;
  const placement = placementOf(plan, fault);
  if (placement === undefined) return `no placement of ${fault.component} at ${fault.site}`;
  if (fault.kind === 'switchboard' && switchboardUrl(placement) === undefined)
    return `the placement's env names no SWITCHBOARD_URL`;
  if (['kill', 'stop', 'pause'].includes(fault.kind) && pidsCommand(placement) === undefined)
    return 'the placement has no pid_file, data_dir or port to find its processes by';
  if (
    ['blackhole', 'latency', 'bandwidth'].includes(fault.kind) &&
    faultHost(plan.workloads, fault.component, fault.site) === undefined &&
    portOf(placement) === undefined
  )
    return 'a network fault on this machine needs the placement port, so only it is cut';
  return undefined;
}

function placementOf(plan: Plan, fault: Fault): Placement | undefined {
  return faultPlacement(plan.workloads, fault.component, fault.site);
}

function portOf(placement: Placement): number | undefined {
  const port = placement.fields.port;
  if (typeof port === 'number') return port;
  if (placement.url === undefined) return undefined;
  try {
    const url = new URL(placement.url);
    return url.port === '' ? undefined : Number(url.port);
  } catch {
    return undefined;
  }
}

function switchboardUrl(placement: Placement): string | undefined {
  const env = placement.fields.env;
  const url =
    typeof env === 'object' && env !== null ? (env as Record<string, unknown>).SWITCHBOARD_URL : undefined;
  return typeof url === 'string' ? url : undefined;
}

/**
 * A command printing the pids of a placement's processes, found afresh each time: its pid file, a
 * PostgreSQL data directory's postmaster.pid, or whatever listens on its port.
 */
function pidsCommand(placement: Placement): string | undefined {
  const { pid_file: pidFile, data_dir: dataDir } = placement.fields;
  if (typeof pidFile === 'string') return `cat ${shellQuote(pidFile)} 2>/dev/null`;
  if (typeof dataDir === 'string') return `head -1 ${shellQuote(`${dataDir}/postmaster.pid`)} 2>/dev/null`;
  const port = portOf(placement);
  if (port === undefined) return undefined;
  return `ss -Hltnp 'sport = :${port}' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u`;
}

/** Signal the placement's processes and their children; `required` fails when none is found. */
function signalCommand(pids: string, signal: string, required: boolean): string {
  return `P=$(${pids}); ${required ? `[ -n "$P" ] || { echo "no process found" >&2; exit 3; }; ` : ''}for p in $P; do kill -${signal} $p $(pgrep -P $p) 2>/dev/null; done; true`;
}

function trafficCommands(
  fault: Fault,
  scope: { kind: 'host'; sshPort: number } | { kind: 'port'; port: number },
): { apply: string; undo: string } {
  const faulted = `${HANDLE}:20`;
  const shaped =
    fault.kind === 'bandwidth'
      ? `${Math.max(1, Math.floor((parseBandwidth(fault.bandwidth ?? '') ?? 0) * 8))}bit`
      : '10gbit';
  const leaf =
    fault.kind === 'blackhole'
      ? `tc qdisc add dev $D parent ${faulted} handle 7d2: blackhole`
      : fault.kind === 'latency'
        ? `tc qdisc add dev $D parent ${faulted} handle 7d2: netem delay ${fault.latencyMs ?? 0}ms${fault.jitterMs ? ` ${fault.jitterMs}ms` : ''}`
        : 'true';
  // on a host everything but SSH is faulted; here only the placement's port
  const [defaultClass, filtered, port] =
    scope.kind === 'host' ? ['20', '10', scope.sshPort] : ['10', '20', scope.port];
  const devices = scope.kind === 'host' ? `$(ls /sys/class/net | grep -vx lo)` : 'lo';
  const filter = (side: 'sport' | 'dport'): string =>
    `tc filter add dev $D parent ${HANDLE}: protocol ip prio 1 u32 match ip ${side} ${port} 0xffff flowid ${HANDLE}:${filtered}`;
  const apply = [
    `for D in ${devices}; do`,
    `tc qdisc add dev $D root handle ${HANDLE}: htb default ${defaultClass} r2q 100000 &&`,
    `tc class add dev $D parent ${HANDLE}: classid ${HANDLE}:10 htb rate 10gbit &&`,
    `tc class add dev $D parent ${HANDLE}: classid ${faulted} htb rate ${shaped} ceil ${shaped} &&`,
    `${leaf} && ${filter('sport')} && ${filter('dport')} || exit 1; done`,
  ].join(' ');
  const undo = `for D in ${devices}; do tc qdisc show dev $D 2>/dev/null | grep -q 'qdisc htb ${HANDLE}: root' && tc qdisc del dev $D root; done; true`;
  return { apply, undo };
}

function commandsFor(plan: Plan, fault: Fault): FaultCommands {
  const placement = placementOf(plan, fault);
  const host = faultHost(plan.workloads, fault.component, fault.site);
  const pids = placement === undefined ? undefined : pidsCommand(placement);
  switch (fault.kind) {
    case 'kill':
    case 'stop':
      return {
        host,
        apply: signalCommand(pids!, fault.kind === 'kill' ? 'KILL' : 'TERM', true),
        undo: undefined,
      };
    case 'pause':
      return { host, apply: signalCommand(pids!, 'STOP', true), undo: signalCommand(pids!, 'CONT', false) };
    case 'switchboard': {
      // the switchboard is reached from here, like the canary
      const flag = `${switchboardUrl(placement!)!.replace(/\/$/, '')}/flags/${encodeURIComponent(fault.flag ?? 'orders.fail')}`;
      return {
        host: undefined,
        apply: `curl -fsS -o /dev/null -X PUT -H 'content-type: application/json' -d '{"value":true}' ${shellQuote(flag)}`,
        undo: `curl -fsS -o /dev/null -X DELETE ${shellQuote(flag)}; true`,
      };
    }
    default: {
      const scope =
        host === undefined
          ? { kind: 'port' as const, port: portOf(placement!)! }
          : { kind: 'host' as const, sshPort: hostTarget(plan, host).port ?? 22 };
      return { host, ...trafficCommands(fault, scope) };
    }
  }
}

/**
 * The session that applies a fault and stays open for its undo. It first starts a timer detached from the
 * session (`setsid`, named by the fault's id so cleanup can find it) that undoes the fault after `seconds`;
 * then applies it (undoing what it did and stopping the timer if that fails); then waits for a line on its
 * standard input: `undo` undoes it at once, without a new SSH session (tens of milliseconds instead of
 * hundreds on a loaded host). When drctl dies its input ends with nothing read, and the timer is left to
 * expire.
 */
function armedSession(id: string, seconds: number, commands: { apply: string; undo: string }): string {
  const timer = `: drctl-fault-${id}; sleep ${seconds}; ${commands.undo}`;
  return [
    `setsid sh -c ${shellQuote(timer)} >/dev/null 2>&1 </dev/null & T=$!`,
    `{ ${commands.apply}; } || { S=$?; kill -TERM -$T 2>/dev/null; ${commands.undo}; exit $S; }`,
    'echo applied',
    `if read line && [ "$line" = undo ]; then kill -TERM -$T 2>/dev/null; ${commands.undo}; echo undone; fi`,
  ].join('\n');
}

function stopTimer(id: string): string {
  // the bracket keeps the pattern from matching the shell that runs this pkill
  return `pkill -f '[d]rctl-fault-${id};' 2>/dev/null; true`;
}

interface ArmedSession {
  stdin: PassThrough;
  ended: Promise<{ result: RunResult | undefined; error: unknown }>;
  output(): string;
}

export interface AppliedFault {
  at: number;
  detail: string;
  /** Undoes the fault now; absent for a fault nothing takes back. */
  lift?: () => unknown;
}

/** The faults one drill applied, kept in the state directory until each is undone. */
export class FaultLedger {
  readonly drill: string;
  readonly #dir: string;
  readonly #plan: Plan;
  readonly #open = new Map<string, FaultRecord>();
  readonly #sessions = new Map<string, ArmedSession>();
  /** Undos under way: a lift and the drill's abort undo a fault once between them. */
  readonly #undoing = new Map<string, Promise<void>>();
  #count = 0;

  constructor(options: { plan: Plan; stateDir: string; drill: string }) {
    this.#plan = options.plan;
    this.#dir = join(options.stateDir, LEDGER);
    this.drill = options.drill;
  }

  /** Apply a fault that expires on its host after `expiresInMs`, recorded before it is applied. */
  async apply(fault: Fault, expiresInMs: number, signal?: AbortSignal): Promise<AppliedFault> {
    const commands = commandsFor(this.#plan, fault);
    const executor = executorOn(this.#plan, commands.host);
    const target = `${fault.component}@${fault.site}`;
    const where = commands.host === undefined ? 'here' : `on ${commands.host}`;
    const options = { timeoutMs: 10_000, ...(signal === undefined ? {} : { signal }) };
    if (commands.undo === undefined) {
      await run(executor, commands.apply, `${fault.kind} ${target}`, options);
      return { at: now(), detail: `${fault.kind} ${target} ${where}` };
    }
    const id = `${this.drill}-${++this.#count}-${randomBytes(2).toString('hex')}`;
    const seconds = Math.max(1, Math.ceil(expiresInMs / 1000));
    const record: FaultRecord = {
      id,
      drill: this.drill,
      owner: { host: hostname(), pid: process.pid },
      host: commands.host,
      target,
      kind: fault.kind,
      undo: commands.undo,
      appliedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + seconds * 1000).toISOString(),
    };
    await mkdir(this.#dir, { recursive: true });
    await writeFile(join(this.#dir, `${id}.json`), `${JSON.stringify(record, null, 2)}\n`);
    this.#open.set(id, record);
    const stdin = new PassThrough();
    // no signal: the session must outlive an abort, which is when its undo is wanted most
    const session = executor.stream(
      armedSession(id, seconds, { apply: commands.apply, undo: commands.undo }),
      {
        stdin,
      },
    );
    let output = '';
    session.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ended = session.done.then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    const applied = await Promise.race([
      ended.then(() => false),
      (async () => {
        // not cut short by an abort: a fault half applied is worse than one the abort undoes a moment later
        while (!output.includes('applied\n')) await sleep(5);
        return true;
      })(),
    ]);
    if (!applied) {
      stdin.end();
      const { result, error } = await ended;
      // the host was not reached or the session broke: the record stays for cleanup, which can run twice
      if (error !== undefined) throw error;
      // the session undid what it had applied and stopped its timer
      this.#open.delete(id);
      await rm(join(this.#dir, `${id}.json`), { force: true });
      throw new DrctlError(
        'DRCTL_DRILL_FAULT_FAILED',
        `${fault.kind} ${target} could not be applied on ${executor.where}: ${result?.stderr.trim().split('\n').at(-1) ?? `exit ${result?.exitCode}`}`,
        { hint: FAULT_HINT },
      );
    }
    this.#sessions.set(id, { stdin, ended, output: () => output });
    return {
      at: now(),
      detail: `${fault.kind} ${target} ${where} (undoes itself there in ${seconds} s)`,
      lift: () => this.undo(id),
    };
  }

  /** Undo one fault (its timer too) and forget it; safe to call twice. */
  undo(id: string): Promise<void> {
    const record = this.#open.get(id);
    if (record === undefined) return Promise.resolve();
    let undoing = this.#undoing.get(id);
    if (undoing === undefined) {
      undoing = undoRecord(this.#plan, this.#dir, record, this.#sessions.get(id)).then(
        () => void this.#open.delete(id),
        (error: unknown) => {
          this.#undoing.delete(id);
          throw error;
        },
      );
      this.#undoing.set(id, undoing);
    }
    return undoing;
  }

  /** Undo every fault still in force, all at once. */
  async undoAll(): Promise<void> {
    await Promise.all([...this.#open.keys()].map((id) => this.undo(id)));
  }

  get open(): readonly FaultRecord[] {
    return [...this.#open.values()];
  }
}

const FAULT_HINT =
  'network faults need root (tc) on the host; process faults need the user that runs the process';

async function run(
  executor: Executor,
  command: string,
  what: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const result = await executor.run(command, options);
  if (result.exitCode === 0) return;
  throw new DrctlError(
    'DRCTL_DRILL_FAULT_FAILED',
    `${what} could not be applied on ${executor.where}: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`,
    { hint: FAULT_HINT },
  );
}

/** Undo through the fault's open session; false when the session is gone (the undo then needs a new one). */
async function undoInSession(session: ArmedSession): Promise<boolean> {
  session.stdin.end('undo\n');
  const { result } = await session.ended;
  return result?.exitCode === 0 && session.output().includes('undone\n');
}

async function undoRecord(
  plan: Plan,
  dir: string,
  record: FaultRecord,
  session?: ArmedSession,
): Promise<void> {
  if (session !== undefined && (await undoInSession(session))) {
    await rm(join(dir, `${record.id}.json`), { force: true });
    return;
  }
  const executor = executorOn(plan, record.host);
  const result = await executor.run(`${stopTimer(record.id)}; ${record.undo}`, { timeoutMs: 10_000 });
  if (result.exitCode !== 0)
    throw new DrctlError(
      'DRCTL_DRILL_UNDO_FAILED',
      `undoing ${record.kind} ${record.target} on ${executor.where} failed: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`,
      { hint: `it undoes itself there by ${record.expiresAt}; or run drctl drill cleanup again` },
    );
  await rm(join(dir, `${record.id}.json`), { force: true });
}

/** Every fault the state directory still records; `leftOver` when the drctl that applied it is gone. */
export async function recordedFaults(stateDir: string): Promise<Array<FaultRecord & { leftOver: boolean }>> {
  const dir = join(stateDir, LEDGER);
  const names = await readdir(dir).catch(() => [] as string[]);
  const records: Array<FaultRecord & { leftOver: boolean }> = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const record = JSON.parse(await readFile(join(dir, name), 'utf8')) as FaultRecord;
    const alive = record.owner.host === hostname() && processAlive(record.owner.pid);
    records.push({ ...record, leftOver: !alive });
  }
  return records;
}

/**
 * Undo what drills whose drctl died left behind (or, with `all`, every recorded fault). Returns what it
 * removed and what it could not.
 */
export async function cleanupFaults(
  plan: Plan,
  stateDir: string,
  options: { all?: boolean } = {},
): Promise<{ removed: FaultRecord[]; failed: Array<{ record: FaultRecord; error: string }> }> {
  const dir = join(stateDir, LEDGER);
  const removed: FaultRecord[] = [];
  const failed: Array<{ record: FaultRecord; error: string }> = [];
  for (const record of await recordedFaults(stateDir)) {
    if (!record.leftOver && options.all !== true) continue;
    try {
      await undoRecord(plan, dir, record);
      removed.push(record);
    } catch (error) {
      failed.push({ record, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { removed, failed };
}
