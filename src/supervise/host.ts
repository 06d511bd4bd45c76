/**
 * A component's processes on a host of the plan, driven through the execution layer (src/exec/): each
 * operation is one small script run over the host's SSH connection, so the provider's actions cost one
 * round trip each (start adds the readiness probe). It mirrors the local supervisor (local.ts):
 *
 * - Every instance runs in its own session (`setsid`), and every signal goes to its process group.
 * - A pid file per group in the host's state directory (`<state_dir>/processes/`, `.drctl` under the
 *   login directory by default) records index, pid, port, the kernel start time (never signal a reused
 *   pid) and whether it is paused; it is the desired state, as here: an instance removed from it was
 *   stopped on purpose. Logs stay on the host beside it.
 * - The instances outlive the SSH session that started them; a drctl that dies leaves them running, as
 *   `drctl run` does with local ones.
 *
 * Not mirrored: restart policies. Nothing of drctl stays on a host to watch an instance; a host that must
 * restart a crashed service uses its init (write a systemd unit's `systemctl start` as the command).
 * Needs `/bin/sh`, `setsid`, `ps` and `/proc` on the host (Linux).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../errors.ts';
import { runChecked, shellQuote } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import { probeReady } from './ready.ts';
import { fileStem, template } from './spec.ts';
import type { InstanceState, InstanceStatus, ProcessSpec, StopResult } from './spec.ts';

/** Shell functions every script starts with. */
const PRELUDE = String.raw`
ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
pstate() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
group_alive() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
reused() { [ -e "/proc/$1" ] && [ "$(ticks "$1")" != "$2" ]; }
describe() {
  if reused "$2" "$4"; then s=exited
  else case "$(pstate "$2")" in ''|Z|X) s=exited;; T) s=paused;; *) if [ "$5" = 1 ]; then s=paused; else s=running; fi;; esac
  fi
  echo "$1 $2 $3 $4 $5 $6 $s"
}
stop_one() {
  if reused "$1" "$2" || ! group_alive "$1"; then echo "stopped $1 0"; return; fi
  if [ "$3" -gt 0 ]; then
    kill -TERM -"$1" 2>/dev/null; kill -CONT -"$1" 2>/dev/null
    n=0; while group_alive "$1" && [ $n -lt "$3" ]; do sleep 0.02; n=$((n + 20)); done
    if ! group_alive "$1"; then echo "stopped $1 0"; return; fi
  fi
  kill -KILL -"$1" 2>/dev/null
  n=0; while group_alive "$1" && [ $n -lt 5000 ]; do sleep 0.02; n=$((n + 20)); done
  echo "stopped $1 $([ "$3" -gt 0 ] && echo 1 || echo 0)"
}
`;

/** One line of a pid file: `index pid port ticks paused startedAt` (port `-` when none). */
interface Record_ {
  index: number;
  pid: number;
  port: number | undefined;
  ticks: string;
  paused: boolean;
  startedAt: string;
  state: InstanceState;
}

function recordLine(r: Omit<Record_, 'state'>): string {
  return `${r.index} ${r.pid} ${r.port ?? '-'} ${r.ticks} ${r.paused ? 1 : 0} ${r.startedAt}`;
}

export class HostProcessGroups {
  readonly executor: Executor;
  readonly #dir: string;

  constructor(executor: Executor) {
    this.executor = executor;
    const stateDir = executor.host?.stateDir ?? '.drctl';
    this.#dir = `${stateDir.replace(/\/+$/, '')}/processes`;
  }

  get where(): string {
    return this.executor.where;
  }

  #pidFile(name: string): string {
    return `${this.#dir}/${fileStem(name)}.pids`;
  }

  #logFile(name: string, index: number): string {
    return `${this.#dir}/${fileStem(name)}.${index}.log`;
  }

  async #script(body: string, what: string, signal?: AbortSignal): Promise<string[]> {
    // relative state directories are relative to the login directory, where a host's commands start
    const result = await runChecked(
      this.executor,
      `${PRELUDE}\nmkdir -p ${shellQuote(this.#dir)} || exit 1\n${body}`,
      { what, ...(signal === undefined ? {} : { signal }) },
    );
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  async #records(name: string): Promise<Record_[]> {
    const lines = await this.#script(
      `F=${shellQuote(this.#pidFile(name))}; [ -f "$F" ] || exit 0
while read -r i p port t paused at; do describe "$i" "$p" "$port" "$t" "$paused" "$at"; done < "$F"`,
      `reading the pid file of ${name}`,
    );
    return lines.map(parseRecord);
  }

  #status(name: string, records: readonly Record_[]): InstanceStatus[] {
    return records.map((r) => ({
      name,
      index: r.index,
      pid: r.pid,
      port: r.port,
      state: r.state,
      restarts: 0,
      startedAt: r.startedAt,
      logFile: this.#logFile(name, r.index),
    }));
  }

  async status(name: string): Promise<InstanceStatus[]> {
    return this.#status(name, await this.#records(name));
  }

  /**
   * Starts instances until `instances` run, stopping the highest ones above that, and waits until the new
   * ones are ready. Idempotent: instances already running (started by any drctl) are kept.
   */
  async start(
    spec: ProcessSpec,
    options: { instances?: number; signal?: AbortSignal } = {},
  ): Promise<InstanceStatus[]> {
    const wanted = options.instances ?? 1;
    const records = await this.#records(spec.name);
    const alive = records.filter((r) => r.state !== 'exited').sort((a, b) => a.index - b.index);
    const extra = alive.splice(wanted);
    const used = new Set(alive.map((r) => r.index));
    const fresh: number[] = [];
    for (let index = 0; used.size + fresh.length < wanted; index++) if (!used.has(index)) fresh.push(index);
    const graceMs = spec.graceMs ?? 5_000;
    const lines = [
      `F=${shellQuote(this.#pidFile(spec.name))}; T="$F.tmp.$$"; : > "$T"`,
      ...alive.map((r) => `echo ${shellQuote(recordLine(r))} >> "$T"`),
      ...fresh.map((index) => this.#startLine(spec, index)),
      'mv -f "$T" "$F"',
      // `wait` for the stops alone: a bare one would wait for the instances just started
      'S=',
      ...extra.map((r) => `stop_one ${r.pid} ${shellQuote(r.ticks)} ${graceMs} & S="$S $!"`),
      '[ -z "$S" ] || wait $S',
    ];
    await this.#script(lines.join('\n'), `starting ${spec.name}`, options.signal);
    const started = (await this.#records(spec.name)).filter((r) => fresh.includes(r.index));
    try {
      await Promise.all(started.map((r) => this.#waitReady(spec, r, options.signal)));
    } catch (error) {
      await this.#stopRecords(spec.name, started, 0);
      throw error;
    }
    return this.status(spec.name);
  }

  /** The shell lines that start instance `index` and append its record to "$T". */
  #startLine(spec: ProcessSpec, index: number): string {
    const port = portOf(spec, index);
    const vars = this.#vars(spec, index, port);
    const env = Object.entries(spec.env ?? {}).map(
      ([key, value]) => `export ${key}=${shellQuote(template(value, vars))}`,
    );
    const cd = spec.cwd === undefined ? [] : [`cd ${shellQuote(spec.cwd)} || exit 126`];
    const inner = [...cd, ...env, `exec setsid /bin/sh -c ${shellQuote(template(spec.command, vars))}`];
    // the environment is exported inside the script (it reached the host on the channel), not on a command line
    return [
      // no descriptor of the SSH channel may stay open in the instance, or the channel would not close
      `( ${inner.join('; ')} ) >> ${shellQuote(this.#logFile(spec.name, index))} 2>&1 < /dev/null 3<&- &`,
      `p=$!; echo "${index} $p ${port ?? '-'} $(ticks $p) 0 $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$T"`,
    ].join('\n');
  }

  #vars(spec: ProcessSpec, index: number, port: number | undefined): Record<string, string> {
    return {
      port: port === undefined ? '' : String(port),
      instance: String(index),
      name: spec.name,
      host: this.executor.host?.address ?? '127.0.0.1',
    };
  }

  async #waitReady(spec: ProcessSpec, record: Record_, signal: AbortSignal | undefined): Promise<void> {
    const vars = this.#vars(spec, record.index, record.port);
    const timeoutMs = spec.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const ready = spec.ready;
    let last = 'no probe yet';
    let checkedAt = Date.now();
    for (;;) {
      if (signal?.aborted === true)
        throw new DrctlError('DRCTL_PROCESS_CANCELLED', `starting ${spec.name} was cancelled`, {
          cause: signal.reason,
        });
      if (ready !== undefined) {
        const result = await probeReady(ready, vars, deadline - Date.now());
        if (result.ok) return;
        last = result.message;
      }
      // asking the host costs a round trip: only now and then, or once when there is nothing to probe
      if (ready === undefined || Date.now() - checkedAt >= 500 || Date.now() >= deadline) {
        if (ready === undefined) await sleep(200);
        checkedAt = Date.now();
        const now = (await this.#records(spec.name)).find((r) => r.index === record.index);
        if (now === undefined || now.state === 'exited' || now.pid !== record.pid) {
          const log = await this.executor
            .run(`tail -c 2000 ${shellQuote(this.#logFile(spec.name, record.index))}`)
            .then((r) => r.stdout)
            .catch(() => '');
          throw new DrctlError(
            'DRCTL_PROCESS_EXITED',
            `${spec.name} exited on ${this.where} before it was ready`,
            {
              hint: 'read the log in details.log; check the command, its environment and that its port is free on the host',
              details: { log },
            },
          );
        }
        if (ready === undefined) return;
      }
      if (Date.now() >= deadline)
        throw new DrctlError(
          'DRCTL_PROCESS_NOT_READY',
          `${spec.name} on ${this.where} was not ready within ${timeoutMs}ms: ${last}`,
          {
            hint: 'check the readiness URL or port (it is probed from where drctl runs; {{host}} is the host address), or allow more time (ready_timeout)',
          },
        );
      await sleep(20);
    }
  }

  /** SIGTERM to every instance's group, SIGKILL after the grace period; forgets the group first. */
  async stop(name: string, options: { graceMs?: number } = {}): Promise<StopResult> {
    const records = await this.#records(name);
    return this.#stopRecords(name, records, options.graceMs ?? 5_000, true);
  }

  async kill(name: string): Promise<StopResult> {
    return this.stop(name, { graceMs: 0 });
  }

  async #stopRecords(
    name: string,
    records: readonly Record_[],
    graceMs: number,
    forgetAll = false,
  ): Promise<StopResult> {
    const pids = new Set(records.map((r) => r.pid));
    // forget first: the pid file is the desired state
    const forget = forgetAll
      ? `rm -f "$F"`
      : `[ -f "$F" ] && { awk ${shellQuote(`!(${[...pids].map((p) => `$2 == ${p}`).join(' || ') || '0'})`)} "$F" > "$F.tmp.$$"; mv -f "$F.tmp.$$" "$F"; }`;
    const lines = await this.#script(
      [
        `F=${shellQuote(this.#pidFile(name))}`,
        forget,
        ...records.map((r) => `stop_one ${r.pid} ${shellQuote(r.ticks)} ${graceMs} &`),
        'wait',
      ].join('\n'),
      `stopping ${name}`,
    );
    const forced = lines.filter((line) => /^stopped \d+ 1$/.test(line)).length;
    return { name, pids: records.map((r) => r.pid), forced };
  }

  async pause(name: string): Promise<InstanceStatus[]> {
    return this.#signalAll(name, 'STOP', true);
  }

  async resume(name: string): Promise<InstanceStatus[]> {
    return this.#signalAll(name, 'CONT', false);
  }

  async #signalAll(name: string, signal: 'STOP' | 'CONT', paused: boolean): Promise<InstanceStatus[]> {
    const records = await this.#records(name);
    if (records.length === 0)
      throw new DrctlError('DRCTL_PROCESS_UNKNOWN', `${name} is not started on ${this.where}`, {
        hint: 'start it first (process.start)',
      });
    const lines = await this.#script(
      [
        `F=${shellQuote(this.#pidFile(name))}; T="$F.tmp.$$"; : > "$T"`,
        `while read -r i p port t was at; do
  if ! reused "$p" "$t" && [ -e "/proc/$p" ]; then kill -${signal} -"$p" 2>/dev/null; fi
  echo "$i $p $port $t ${paused ? 1 : 0} $at" >> "$T"
done < "$F"`,
        'mv -f "$T" "$F"',
        `while read -r i p port t paused at; do describe "$i" "$p" "$port" "$t" "$paused" "$at"; done < "$F"`,
      ].join('\n'),
      `${paused ? 'pausing' : 'resuming'} ${name}`,
    );
    return this.#status(name, lines.map(parseRecord));
  }
}

function parseRecord(line: string): Record_ {
  const [index, pid, port, ticks, paused, startedAt, state] = line.split(' ');
  return {
    index: Number(index),
    pid: Number(pid),
    port: port === '-' || port === undefined ? undefined : Number(port),
    ticks: ticks ?? '',
    paused: paused === '1',
    startedAt: startedAt ?? '',
    state: (state ?? 'exited') as InstanceState,
  };
}

/** Port of an instance on a host: listed, or the first port plus its index. No free port is guessed there. */
function portOf(spec: ProcessSpec, index: number): number | undefined {
  const listed = spec.ports?.[index];
  if (listed !== undefined) return listed;
  return spec.port === undefined ? undefined : spec.port + index;
}
