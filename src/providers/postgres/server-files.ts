/**
 * A PostgreSQL server's files and programs where they are: on this machine, or on the database's host
 * over SSH (the placement's `host:`). Fencing by shutdown and rebuilding a former primary are written once
 * against `ServerFiles`; `serverFilesFor` is the only place that tells the two apart.
 *
 * On a host every operation is a script run through the execution layer as the host's login user, which
 * must be the server's OS user (`postgres`): PostgreSQL's programs refuse root, and the files keep their
 * owner. The programs are found from the placement's `bin_dir`, else the directory of the `pg_ctl` on the PATH
 * (symlinks followed), else the newest `/usr/lib/postgresql/<major>/bin` (Debian keeps them off the PATH).
 */
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import { hostStatePath, runChecked, shellQuote } from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import {
  chownToServer,
  runAsServer,
  runPgTool,
  type PgBinaries,
  type RunToolOptions,
} from '../../pg/binaries.ts';
import {
  logTail,
  PgServer,
  quoteConf,
  runningPostmaster,
  stopDataDir,
  type StopOutcome,
} from '../../pg/server.ts';

/** A server started on its data directory. */
export interface StartedServer {
  pid: number | undefined;
  running(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface ServerFiles {
  /** For messages: `this machine` or `host db-east (198.18.0.3)`. */
  readonly where: string;
  readonly dataDir: string;
  /** The data directory holds a cluster (PG_VERSION). */
  hasData(): Promise<boolean>;
  /** Stop whatever postmaster runs on the data directory; SIGKILL when frozen or slower than `timeoutMs`. */
  stop(mode: 'fast' | 'immediate', timeoutMs: number): Promise<StopOutcome>;
  /** Run one of the server's programs (pg_rewind, pg_basebackup) to completion; fails with its stderr. */
  tool(program: string, args: readonly string[], options: RunToolOptions): Promise<{ stdout: string }>;
  /** Remove the data directory, or with `contentsOnly` what it holds (it may be a mount point). */
  remove(options?: { contentsOnly?: boolean }): Promise<void>;
  /** Whether the data directory is missing, empty, holds files, or has a live server. */
  occupancy(): Promise<'missing' | 'empty' | 'occupied' | 'running'>;
  /**
   * Fill the (missing or empty) data directory with a copy of a base backup, and make it start in
   * recovery with `settings` appended to postgresql.auto.conf; the files named in `leaveOut` are not kept.
   */
  restoreFrom(backupDir: string, settings: readonly string[], leaveOut: readonly string[]): Promise<void>;
  /** Make the data directory start as a standby through replication slot `slot`. */
  makeStandby(slot: string): Promise<void>;
  /** Start the server on its address and port and wait until it accepts connections. */
  start(options: { signal?: AbortSignal }): Promise<StartedServer>;
  logTail(lines: number): Promise<string>;
}

/** Where the server listens and logs, from its placement. */
export interface ServerAddress {
  dataDir: string;
  host: string;
  port: number;
  logFile: string;
  socketDir: string;
}

/** The server's files on this machine (drctl runs its programs as the server's OS user when it is root). */
export function localServerFiles(address: ServerAddress, binaries: PgBinaries): ServerFiles {
  const { dataDir } = address;
  return {
    where: 'this machine',
    dataDir,
    hasData: async () => existsSync(join(dataDir, 'PG_VERSION')),
    stop: (mode, timeoutMs) => stopDataDir(dataDir, timeoutMs, mode),
    tool: (program, args, options) => runPgTool(binaries, program, args, options),
    async remove(options) {
      if (options?.contentsOnly !== true) return rmSync(dataDir, { recursive: true, force: true });
      for (const name of existsSync(dataDir) ? readdirSync(dataDir) : [])
        rmSync(join(dataDir, name), { recursive: true, force: true });
    },
    async occupancy() {
      if (runningPostmaster(dataDir) !== undefined) return 'running';
      if (!existsSync(dataDir)) return 'missing';
      return readdirSync(dataDir).length > 0 ? 'occupied' : 'empty';
    },
    async restoreFrom(backupDir, settings, leaveOut) {
      mkdirSync(dataDir, { recursive: true });
      chownToServer(dataDir);
      await runAsServer('/bin/cp', ['-a', `${backupDir}/.`, dataDir]);
      for (const name of [...leaveOut, 'standby.signal']) rmSync(join(dataDir, name), { force: true });
      chmodSync(dataDir, 0o700);
      appendFileSync(join(dataDir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
      writeFileSync(join(dataDir, 'recovery.signal'), '');
      chownToServer(join(dataDir, 'recovery.signal'));
    },
    async makeStandby(slot) {
      // the configuration came from the source, which may have been a standby itself: later lines win
      appendFileSync(join(dataDir, 'postgresql.auto.conf'), `primary_slot_name = ${quoteConf(slot)}\n`);
      writeFileSync(join(dataDir, 'standby.signal'), '');
      chownToServer(join(dataDir, 'standby.signal'));
    },
    async start(options) {
      const server = await PgServer.start({
        binaries,
        dataDir,
        host: address.host,
        port: address.port,
        socketDir: address.socketDir,
        logFile: address.logFile,
        persistent: true,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      return {
        pid: server.pid,
        running: async () => server.running,
        stop: () => server.stop(),
      };
    },
    logTail: async (lines) => logTail(address.logFile, lines),
  };
}

/** The shell lines that set B to the directory of the server's programs on a host. */
export function findBinaries(binDir: string | undefined): string {
  if (binDir !== undefined) return `B=${shellQuote(binDir)}`;
  // a pg_ctl on the PATH may be a symlink into the real directory (its siblings are there) or Debian's
  // pg_wrapper (they are not): the real directory holds initdb beside it
  return [
    'B=$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null)" 2>/dev/null)" 2>/dev/null)',
    '[ -x "$B/initdb" ] || B=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1)',
    '[ -x "$B/pg_ctl" ] || { echo "pg_ctl: not found" >&2; exit 127; }',
  ].join('\n');
}

/** Shell: P is the live postmaster of "$D", or the script says not-running and ends. */
const POSTMASTER = String.raw`
pstate() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
P=$(head -1 "$D/postmaster.pid" 2>/dev/null)
case "$P" in ''|*[!0-9]*) echo not-running; exit 0;; esac
case "$(pstate "$P")" in ''|Z|X) echo not-running; exit 0;; esac
gone() { case "$(pstate "$P")" in ''|Z|X) return 0;; *) return 1;; esac; }
kill_all() { kill -KILL -"$P" 2>/dev/null; kill -KILL "$P" $(pgrep -P "$P") 2>/dev/null; }
`;

/** A host of the plan with PostgreSQL's programs: how to reach it, and where the programs are. */
export interface HostPrograms {
  executor: Executor;
  /** The placement's bin_dir; found on the host without it. */
  binDir: string | undefined;
}

/** A server on a host of the plan: the host, and where the server's files are and it listens. */
export interface HostServer extends HostPrograms {
  address: ServerAddress;
}

/** Run one of the server's programs on a host to completion; fails with its stderr (DRCTL_PG_COMMAND_FAILED). */
export async function hostTool(
  host: HostPrograms,
  program: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<{ stdout: string }> {
  const { executor } = host;
  const result = await executor.run(
    `${findBinaries(host.binDir)}\nexec "$B/${program}" ${args.map(shellQuote).join(' ')}`,
    {
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
  );
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
    throw new DrctlError(
      'DRCTL_PG_COMMAND_FAILED',
      `${program} failed on ${executor.where}${options.subject === undefined ? '' : ` for ${options.subject}`} (exit ${result.exitCode}): ${tail}`,
      { details: { program, args, exitCode: result.exitCode, stderr: tail } },
    );
  }
  return { stdout: `${result.stdout}${result.stderr}` };
}

/** What `promoteOnHost` found and did. */
export type HostPromotion =
  /** it was a standby and pg_ctl promote finished */
  | { state: 'promoted' }
  /** it is a primary, and an earlier attempt of the same run and step asked for that (at `at`) */
  | { state: 'promoted-before'; at: string }
  /** it is a primary that no attempt of this step promoted */
  | { state: 'primary' };

/**
 * `pg_ctl promote -w` on the server's host, in one round trip: the control file (`pg_controldata`) says
 * whether the server is still in recovery; a primary is never promoted again. With `once`, a marker in the
 * host's state directory (`promoted/<run>/<step>`) is written before the request, so an attempt after a
 * crash tells the primary it made from one it did not.
 */
export async function promoteOnHost(
  host: HostServer,
  options: { timeoutMs: number; once?: { run: string; step: string }; signal?: AbortSignal },
): Promise<HostPromotion> {
  const { executor, address } = host;
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9_.-]/g, '_');
  const marker =
    options.once === undefined
      ? "M=''"
      : `M=${hostStatePath(executor, 'promoted', safe(options.once.run))}/${shellQuote(safe(options.once.step))}`;
  const result = await executor.run(
    `${findBinaries(host.binDir)}
D=${shellQuote(address.dataDir)}
${marker}
S=$(LC_ALL=C "$B/pg_controldata" -D "$D" | sed -n 's/^Database cluster state: *//p') || exit $?
if [ "$S" = "in production" ]; then
  if [ -n "$M" ] && [ -f "$M" ]; then echo "promoted-before $(cat "$M")"; else echo primary; fi
  exit 0
fi
if [ -n "$M" ]; then mkdir -p "$(dirname "$M")" && date -u +%Y-%m-%dT%H:%M:%SZ > "$M" || exit $?; fi
"$B/pg_ctl" promote -D "$D" -w -t ${Math.max(1, Math.ceil(options.timeoutMs / 1000))} >&2 || exit $?
echo promoted`,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.exitCode !== 0 || line === '') {
    const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
    throw new DrctlError(
      'DRCTL_PG_PROMOTE_FAILED',
      `pg_ctl promote of ${address.dataDir} failed on ${executor.where} (exit ${result.exitCode ?? result.signal}): ${tail}`,
      {
        hint: 'the server must be a running standby on that data directory; check its log',
        details: { exitCode: result.exitCode, signal: result.signal, stderr: tail },
      },
    );
  }
  if (line.startsWith('promoted-before ')) return { state: 'promoted-before', at: line.slice(16) };
  return line === 'primary' ? { state: 'primary' } : { state: 'promoted' };
}

/** The server's files on a host, reached through its executor. */
export function hostServerFiles(host: HostServer): ServerFiles {
  const { executor, address, binDir } = host;
  const { dataDir } = address;
  const D = `D=${shellQuote(dataDir)}`;
  const run = (
    script: string,
    what: string,
    options: { signal?: AbortSignal; env?: Record<string, string> } = {},
  ) => runChecked(executor, script, { what: `${what} on ${executor.where}`, ...options });
  return {
    where: executor.where,
    dataDir,
    hasData: async () =>
      (await executor.run(`test -f ${shellQuote(join(dataDir, 'PG_VERSION'))}`)).exitCode === 0,
    async stop(mode, timeoutMs) {
      // the same escalation as stopDataDir here: a frozen postmaster cannot act on a shutdown request
      const result = await run(
        `${D}\n${POSTMASTER}
if [ "$(pstate "$P")" != T ]; then
  kill -${mode === 'fast' ? 'INT' : 'QUIT'} "$P"
  n=0; while ! gone && [ "$(pstate "$P")" != T ] && [ $n -lt ${timeoutMs} ]; do sleep 0.02; n=$((n + 20)); done
  if gone; then echo shut-down; exit 0; fi
fi
kill_all
n=0; while ! gone && [ $n -lt 5000 ]; do sleep 0.02; n=$((n + 20)); done
echo killed`,
        `stopping the server on ${dataDir}`,
      );
      return result.stdout.trim().split('\n').at(-1) as StopOutcome;
    },
    tool: (program, args, options) => hostTool(host, program, args, options),
    async remove(options) {
      const what =
        options?.contentsOnly === true
          ? `${shellQuote(dataDir)}/* ${shellQuote(dataDir)}/.[!.]*`
          : shellQuote(dataDir);
      await run(`rm -rf ${what}`, `removing ${dataDir}`);
    },
    async occupancy() {
      const result = await run(
        `${D}
P=$(head -1 "$D/postmaster.pid" 2>/dev/null)
case "$P" in ''|*[!0-9]*) ;; *) case "$(sed 's/^.*) //' "/proc/$P/stat" 2>/dev/null | cut -d' ' -f1)" in ''|Z|X) ;; *) echo running; exit 0;; esac;; esac
if [ ! -e "$D" ]; then echo missing; elif [ -z "$(ls -A "$D")" ]; then echo empty; else echo occupied; fi`,
        `looking at ${dataDir}`,
      );
      return result.stdout.trim() as 'missing' | 'empty' | 'occupied' | 'running';
    },
    async restoreFrom(backupDir, settings, leaveOut) {
      await run(
        [
          D,
          `mkdir -p "$D" && cp -a ${shellQuote(`${backupDir}/.`)} "$D"`,
          `rm -f ${[...leaveOut, 'standby.signal'].map((name) => `"$D"/${shellQuote(name)}`).join(' ')} && chmod 700 "$D"`,
          `printf '%s\\n' ${settings.map(shellQuote).join(' ')} >> "$D/postgresql.auto.conf"`,
          ': > "$D/recovery.signal"',
        ].join(' && '),
        `restoring ${backupDir} into ${dataDir}`,
      );
    },
    async makeStandby(slot) {
      await run(
        `${D}\nprintf '%s\\n' ${shellQuote(`primary_slot_name = ${quoteConf(slot)}`)} >> "$D/postgresql.auto.conf" && : > "$D/standby.signal"`,
        `making ${dataDir} a standby`,
      );
    },
    async start(options) {
      const settings = {
        listen_addresses: address.host,
        port: String(address.port),
        unix_socket_directories: address.socketDir,
      };
      const serverOptions = Object.entries(settings)
        .map(([name, value]) => `-c ${name}=${shellQuote(value)}`)
        .join(' ');
      const result = await run(
        `${findBinaries(binDir)}\n${D}\n"$B/pg_ctl" -D "$D" -l ${shellQuote(address.logFile)} -o ${shellQuote(serverOptions)} -w -t 60 start >/dev/null && head -1 "$D/postmaster.pid"`,
        `starting the server on ${dataDir}`,
        options.signal === undefined ? {} : { signal: options.signal },
      );
      const pid = Number(result.stdout.trim());
      const self: StartedServer = {
        pid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
        running: async () =>
          (await executor.run(`kill -0 ${Number.isInteger(pid) ? pid : 0} 2>/dev/null`)).exitCode === 0,
        stop: async () => {
          await hostServerFiles(host).stop('fast', 30_000);
        },
      };
      return self;
    },
    logTail: async (lines) =>
      (await executor.run(`tail -n ${lines} ${shellQuote(address.logFile)} 2>/dev/null`)).stdout.trim(),
  };
}
