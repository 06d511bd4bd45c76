/**
 * A component's processes on a host of the plan, driven through the execution layer (src/exec/): each
 * operation is one small script run over the host's SSH connection, so the provider's actions cost one
 * round trip each (start adds the readiness probe). It mirrors the local supervisor (local.ts):
 *
 * - Every instance runs in its own session (`setsid`), and every signal goes to its process group.
 * - A pid file per group in the host's state directory (`<state_dir>/processes/`, `.drctl` under the
 *   login directory by default) records each instance (its line is described in host-scripts.ts); it is
 *   the desired state, as here: an instance removed from it was stopped on purpose. Changes to it are
 *   made under `flock`. Logs stay on the host beside it.
 * - The instances outlive the SSH session that started them; a drctl that dies leaves them running, as
 *   `drctl run` does with local ones.
 * - A restart policy is kept on the host, not by drctl: a watched instance runs under a small shell loop
 *   (host-scripts.ts WATCHER) that leads its session and starts it again when it exits as the policy
 *   says, with the local supervisor's delays and limit. It keeps doing so after drctl has exited or died,
 *   as the instances themselves keep running; a restart that needed a drctl polling the host would stop
 *   protecting the service the moment the run ended, which is when it is usually needed.
 * - A port the plan does not give is picked on the host, in the same script that starts the instance: a
 *   port below the host's ephemeral range on which no socket of the host's network namespace is bound
 *   (from `/proc/net/tcp` and `tcp6`), so any command that takes a `{{port}}` works, as here. Letting the
 *   service bind port 0 and reading the port back would need every service to say which port it got.
 * Needs `/bin/sh`, `setsid`, `flock`, `ps`, `od` and `/proc` on the host (Linux: coreutils, util-linux, procps).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../errors.ts';
import { runChecked, shellQuote } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import { probeReady } from './ready.ts';
import { PRELUDE, WATCHER } from './host-scripts.ts';
import { DEFAULT_MAX_RESTARTS, fileStem, plannedPort, template, wantsPort } from './spec.ts';
import type { InstanceState, InstanceStatus, ProcessSpec, StopResult } from './spec.ts';

/** One line of a pid file (host-scripts.ts), with the state the host found. */
interface Record_ {
  index: number;
  pid: number;
  port: number | undefined;
  ticks: string;
  paused: boolean;
  startedAt: string;
  /** The process group signals go to: the watcher's for a watched instance, else the pid. */
  pgid: number;
  restarts: number;
  state: InstanceState;
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

  #logFile(name: string, index: number): string {
    return `${this.#dir}/${fileStem(name)}.${index}.log`;
  }

  /**
   * Runs a script on the host with PRELUDE, `D` (the state directory, absolute: watchers do not start in
   * the login directory) and `F` (the group's pid file) set; answers its lines of output.
   */
  async #script(name: string, body: string, what: string, signal?: AbortSignal): Promise<string[]> {
    // relative state directories are relative to the login directory, where a host's commands start
    const dir = shellQuote(this.#dir);
    const result = await runChecked(
      this.executor,
      [
        PRELUDE,
        `mkdir -p ${dir} && D=$(cd ${dir} && pwd) || exit 1`,
        `F="$D"/${shellQuote(`${fileStem(name)}.pids`)}`,
        body,
      ].join('\n'),
      { what, ...(signal === undefined ? {} : { signal }) },
    );
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  async #records(name: string): Promise<Record_[]> {
    const lines = await this.#script(name, 'each show', `reading the pid file of ${name}`);
    return lines.map(parseRecord);
  }

  #status(name: string, records: readonly Record_[]): InstanceStatus[] {
    return records.map((r) => ({
      name,
      index: r.index,
      pid: r.pid,
      port: r.port,
      state: r.state,
      restarts: r.restarts,
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
    // the lines of the kept instances are copied from the file as it is now: a watcher may have restarted one
    const keep = alive.map((r) => `${r.index}:${r.pgid}`).join(' ');
    const lines = [
      `lock; T="$F.tmp.$$"; W=${shellQuote(WATCHER)}; drctl_picked=`,
      `lines_of ${shellQuote(keep)} 1 > "$T"`,
      ...fresh.map((index) => this.#startLine(spec, index, records.find((r) => r.index === index)?.port)),
      'mv -f "$T" "$F"; unlock',
      // `wait` for the stops alone: a bare one would wait for the instances just started
      'S=',
      ...extra.map((r) => `stop_one ${r.pgid} ${shellQuote(r.ticks)} ${graceMs} & S="$S $!"`),
      '[ -z "$S" ] || wait $S',
    ];
    await this.#script(spec.name, lines.join('\n'), `starting ${spec.name}`, options.signal);
    const started = (await this.#records(spec.name)).filter((r) => fresh.includes(r.index));
    try {
      await Promise.all(started.map((r) => this.#waitReady(spec, r, options.signal)));
    } catch (error) {
      await this.#stopRecords(spec.name, started, 0);
      throw error;
    }
    return this.status(spec.name);
  }

  /**
   * The shell lines that start instance `index` (under a watcher when it has a restart policy) and
   * append its line to "$T". A port the plan does not give is picked here, on the host.
   */
  #startLine(spec: ProcessSpec, index: number, previousPort: number | undefined): string {
    const planned = previousPort ?? plannedPort(spec, index);
    const port = planned ?? (wantsPort(spec) ? 'on-host' : undefined);
    const vars = this.#vars(spec, index, typeof port === 'number' ? port : undefined);
    const word = (text: string): string =>
      port === 'on-host'
        ? text
            .split(/\{\{\s*port\s*\}\}/)
            .map((part) => shellQuote(template(part, vars)))
            .join('"$drctl_port"')
        : shellQuote(template(text, vars));
    const env = Object.entries(spec.env ?? {}).map(([key, value]) => `export ${key}=${word(value)}`);
    const cd = spec.cwd === undefined ? [] : [`cd ${shellQuote(spec.cwd)} || exit 126`];
    const log = `"$D"/${shellQuote(`${fileStem(spec.name)}.${index}.log`)}`;
    const policy = spec.restart ?? 'never';
    const run =
      policy === 'never'
        ? `exec setsid /bin/sh -c ${word(spec.command)}`
        : `exec setsid /bin/sh -c "$W" drctl-watch "$F" ${index} ${policy} ${spec.maxRestarts ?? DEFAULT_MAX_RESTARTS} ${word(spec.command)} ${log}`;
    // the environment is exported inside the script (it reached the host on the channel), not on a command
    // line; no descriptor of the SSH channel (3) or of the lock (9) may stay open in the instance
    const instance = `( ${[...cd, ...env, run].join('; ')} ) 2>> ${log} < /dev/null 3<&- 9>&-`;
    return [
      port === 'on-host'
        ? 'drctl_port=$(free_port) || { echo "no free port" >&2; exit 1; }; drctl_picked="$drctl_picked $drctl_port"'
        : `drctl_port=${port ?? '-'}`,
      policy === 'never'
        ? `${instance} >> ${log} & g=$!; p=$g`
        : // the watcher prints its session's id and the instance's pid, then writes only to the log
          `set -- $( ${instance} &); g=\${1:-0}; p=\${2:-0}`,
      `record ${index} "$p" "$drctl_port" "$g" >> "$T"`,
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
    const keys = records.map((r) => `${r.index}:${r.pgid}`).join(' ');
    // forget first, under the lock: the pid file is the desired state, and a watcher reads it before a restart
    const forget = forgetAll
      ? 'rm -f "$F"'
      : `lines_of ${shellQuote(keys)} 0 > "$F.tmp.$$"; mv -f "$F.tmp.$$" "$F"`;
    const lines = await this.#script(
      name,
      [
        `lock; ${forget}; unlock`,
        ...records.map((r) => `stop_one ${r.pgid} ${shellQuote(r.ticks)} ${graceMs} &`),
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
      name,
      [
        `signal_one() {
  [ -n "$g" ] || g=$p; [ -n "$r" ] || r=0
  if ! reused "$g" "$t" && [ -e "/proc/$g" ]; then kill -${signal} -"$g" 2>/dev/null; fi
  echo "$i $p $port $t ${paused ? 1 : 0} $at $g $r"
}`,
        'lock; each signal_one > "$F.tmp.$$"; mv -f "$F.tmp.$$" "$F"; unlock',
        'each show',
      ].join('\n'),
      `${paused ? 'pausing' : 'resuming'} ${name}`,
    );
    return this.#status(name, lines.map(parseRecord));
  }
}

/** A line of `describe`: the pid file's fields and the state found. */
function parseRecord(line: string): Record_ {
  const [index, pid, port, ticks, paused, startedAt, pgid, restarts, state] = line.split(' ');
  return {
    index: Number(index),
    pid: Number(pid),
    port: port === '-' || port === undefined ? undefined : Number(port),
    ticks: ticks ?? '',
    paused: paused === '1',
    startedAt: startedAt ?? '',
    pgid: Number(pgid ?? pid),
    restarts: Number(restarts ?? 0),
    state: (state ?? 'exited') as InstanceState,
  };
}
