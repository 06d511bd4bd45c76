/**
 * The read-only copy of a former primary that stranded writes are read from. The stopped data directory is
 * copied and the copy started as a hot standby with nowhere to stream from, on a free port: it replays its
 * own WAL to the end and answers read-only queries, while the original stays exactly as it was (a capture
 * that fails never costs the data twice, and pg_rewind still finds what it expects).
 *
 * The copy is made where the data directory is: on this machine, or on the database's host
 * (`hostCopyPlace`), where pg_waldump also runs. Streaming the directory to drctl's machine instead was
 * rejected: it is as large as the database, often crosses a WAN between regions, and would leave a copy of
 * production data on the orchestrator for the sake of a few rows. On the host, `cp --reflink=auto` costs
 * next to nothing on a file system that shares blocks (XFS, btrfs) and otherwise needs room for one more
 * copy beside the data directory, which a small host may lack: the copy then fails with the host's own
 * "No space left on device", the capture fails and the former primary is left untouched (its rebuild
 * fails with DRCTL_PG_STRANDED_CAPTURE_FAILED; `stranded: discard` is the way out). Only pg_waldump's
 * records and the stranded rows cross the network.
 */
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import { runChecked, shellQuote, type Executor } from '../../exec/index.ts';
import { freePort } from '../../system/ports.ts';
import { chownToServer, runAsServer, runPgTool, type PgBinaries } from '../../pg/binaries.ts';
import { CUT_OFF } from '../../pg/clone.ts';
import { PgServer, quoteConf, stopDataDir } from '../../pg/server.ts';
import { findBinaries, hostServerFiles } from './server-files.ts';

/** A started copy: where it listens, what making it cost, and its WAL. */
export interface ReadOnlyCopy {
  host: string;
  port: number;
  copyMs: number;
  startMs: number;
  /** The copy's WAL directory, as pg_waldump there names it. */
  walDir: string;
  /** Run pg_waldump where the copy's WAL is; its standard output. */
  walDump(args: readonly string[]): Promise<string>;
  /** Stop the copy and remove it with its scratch directory. */
  remove(): Promise<void>;
}

/** Settings that cut the copy off from everything and keep it read-only, whatever its files say. */
const READ_ONLY_COPY: Record<string, string> = { ...CUT_OFF, recovery_min_apply_delay: '0' };

/** Appended to the copy's postgresql.auto.conf: replay the copy's own timeline to its end, no further. */
const COPY_AUTO_CONF =
  "\n# drctl: a read-only copy, to find stranded writes\nrecovery_target_timeline = 'current'\n";

/** Files of the original that must not come along: its pid, its recovery mode, a stale backup label. */
const NOT_COPIED = ['postmaster.pid', 'recovery.signal', 'backup_label.old'];

/** Where a former primary's stopped data directory is, and how a read-only copy of it is made there. */
export interface CopyPlace {
  /** For messages: `this machine` or `host db-east (198.18.0.3)`. */
  readonly where: string;
  readonly dataDir: string;
  /** The data directory holds a cluster (PG_VERSION). */
  hasData(): Promise<boolean>;
  /** Copy the data directory and start the copy read-only; `subject` names the server in messages. */
  startCopy(subject: string, signal?: AbortSignal): Promise<ReadOnlyCopy>;
}

/** The scratch directory of a copy: beside the data directory, on the same file system (room, reflinks). */
function scratchBeside(dataDir: string): string {
  return `${dataDir}.drctl-stranded-${process.pid}`;
}

/** A data directory on this machine; the copy goes to `scratchDir` (default beside it). */
export function localCopyPlace(binaries: PgBinaries, dataDir: string, scratchDir?: string): CopyPlace {
  return {
    where: 'this machine',
    dataDir,
    hasData: async () => existsSync(join(dataDir, 'PG_VERSION')),
    startCopy: (subject, signal) =>
      startLocalCopy({
        binaries,
        dataDir,
        scratchDir: scratchDir ?? scratchBeside(dataDir),
        where: subject,
        ...(signal === undefined ? {} : { signal }),
      }),
  };
}

interface LocalCopyOptions {
  binaries: PgBinaries;
  dataDir: string;
  scratchDir: string;
  where: string;
  signal?: AbortSignal;
}

async function startLocalCopy(options: LocalCopyOptions): Promise<ReadOnlyCopy> {
  const started = Date.now();
  // The copy belongs to the server's OS user, like the original; --reflink makes it cheap where the file system can
  mkdirSync(options.scratchDir, { recursive: true });
  chownToServer(options.scratchDir);
  const copy = join(options.scratchDir, 'data');
  let server: PgServer | undefined;
  const remove = async (): Promise<void> => {
    await server?.kill();
    if (server === undefined) await stopDataDir(copy, 5_000, 'immediate').catch(() => undefined);
    rmSync(options.scratchDir, { recursive: true, force: true });
  };
  try {
    await runAsServer('/bin/cp', ['-a', '--reflink=auto', `${options.dataDir}/.`, `${copy}/`], {
      subject: options.where,
    }).catch(async () => {
      mkdirSync(copy, { recursive: true });
      chownToServer(copy);
      await runAsServer('/bin/cp', ['-a', `${options.dataDir}/.`, copy], { subject: options.where });
    });
    const copyMs = Date.now() - started;
    for (const name of NOT_COPIED) rmSync(join(copy, name), { force: true });
    writeFileSync(join(copy, 'standby.signal'), '');
    chownToServer(join(copy, 'standby.signal'));
    appendFileSync(join(copy, 'postgresql.auto.conf'), COPY_AUTO_CONF);
    const port = await freePort();
    const startAt = Date.now();
    server = await PgServer.start({
      binaries: options.binaries,
      dataDir: copy,
      host: '127.0.0.1',
      port,
      logFile: join(options.scratchDir, 'postgres.log'),
      settings: READ_ONLY_COPY,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const walDir = join(copy, 'pg_wal');
    return {
      host: '127.0.0.1',
      port,
      copyMs,
      startMs: Date.now() - startAt,
      walDir,
      walDump: async (args) =>
        (await runPgTool(options.binaries, 'pg_waldump', args, { subject: options.where })).stdout,
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface HostCopyOptions {
  /** The database's host. */
  executor: Executor;
  /** The stopped data directory, as the host names it. */
  dataDir: string;
  /**
   * The address the copy listens on: the one drctl reaches the server at (its URL's host), so the copy's
   * pg_hba.conf, taken from the original, lets drctl in as it lets it into the server.
   */
  listenAddress: string;
  /** The placement's bin_dir. @default found on the host as for every server program */
  binDir: string | undefined;
  /**
   * Where the copy goes. One name per data directory, so that a copy a killed drctl left running there is
   * stopped and replaced by the next capture. @default `<data_dir>.drctl-stranded` beside it
   */
  scratchDir?: string;
}

/** Shell: print a TCP port in 40000–59999 that nothing on the host uses, from /proc/net. */
const FREE_PORT = String.raw`used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk 'NR > 1 { split($2, a, ":"); print a[2] }')
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
  p=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 40000 ))
  echo "$used" | grep -qix "$(printf '%04X' "$p")" || { echo "$p"; exit 0; }
done
echo "no free port" >&2; exit 1`;

/** A data directory on a host: the copy is made, started and its WAL read there, through the execution layer. */
export function hostCopyPlace(options: HostCopyOptions): CopyPlace {
  const { executor, dataDir } = options;
  return {
    where: executor.where,
    dataDir,
    hasData: async () =>
      (await executor.run(`test -f ${shellQuote(join(dataDir, 'PG_VERSION'))}`)).exitCode === 0,
    startCopy: (subject, signal) => startHostCopy(options, subject, signal),
  };
}

async function startHostCopy(
  options: HostCopyOptions,
  subject: string,
  signal: AbortSignal | undefined,
): Promise<ReadOnlyCopy> {
  const { executor } = options;
  const scratch = options.scratchDir ?? `${options.dataDir}.drctl-stranded`;
  const copy = `${scratch}/data`;
  const settings = Object.entries(READ_ONLY_COPY).map(([name, value]) => `${name} = ${quoteConf(value)}`);
  const copyFiles = (port: number) =>
    hostServerFiles({
      executor,
      address: {
        dataDir: copy,
        host: options.listenAddress,
        port,
        logFile: `${scratch}/postgres.log`,
        socketDir: '',
      },
      binDir: options.binDir,
    });
  // a read-only copy has nothing to flush: an immediate shutdown
  const stopCopy = () => copyFiles(0).stop('immediate', 5_000);
  const remove = async (): Promise<void> => {
    await stopCopy().catch(() => undefined);
    await executor.run(`rm -rf ${shellQuote(scratch)}`);
  };
  const begin = Date.now();
  try {
    await stopCopy();
    // the original is only read; a file system that cannot reflink makes a plain copy
    await runChecked(
      executor,
      [
        `S=${shellQuote(scratch)}; D=${shellQuote(options.dataDir)}; C="$S/data"`,
        'rm -rf "$S" && mkdir -m 700 "$S"',
        'cp -a --reflink=auto "$D/." "$C" 2>/dev/null || { rm -rf "$C"; cp -a "$D/." "$C"; }',
        `cd "$C" && rm -f ${NOT_COPIED.map(shellQuote).join(' ')} && : > standby.signal`,
        `printf '%s\\n' ${[...COPY_AUTO_CONF.trim().split('\n'), ...settings].map(shellQuote).join(' ')} >> postgresql.auto.conf`,
      ].join('\n'),
      { what: `copying ${options.dataDir} to ${scratch}`, ...(signal === undefined ? {} : { signal }) },
    );
    const copyMs = Date.now() - begin;
    const startAt = Date.now();
    let port = 0;
    // a port found free can be taken before the copy binds it: try another
    for (let attempt = 1; ; attempt += 1) {
      port = Number((await runChecked(executor, FREE_PORT, { what: 'finding a free port' })).stdout.trim());
      const files = copyFiles(port);
      try {
        await files.start(signal === undefined ? {} : { signal });
        break;
      } catch (error) {
        const log = await files.logTail(5);
        if (attempt >= 3 || !/could not bind|already in use/i.test(log)) throw error;
      }
    }
    return {
      host: options.listenAddress,
      port,
      copyMs,
      startMs: Date.now() - startAt,
      walDir: `${copy}/pg_wal`,
      walDump: (args) => hostWalDump(options, subject, args),
      remove,
    };
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
}

/**
 * pg_waldump on the host. Its records come back on a stream of their own: they can run to megabytes, more
 * than a command's kept output.
 */
async function hostWalDump(
  options: HostCopyOptions,
  subject: string,
  args: readonly string[],
): Promise<string> {
  const handle = options.executor.stream(
    `${findBinaries(options.binDir)}\nexec "$B/pg_waldump" ${args.map(shellQuote).join(' ')}`,
  );
  const chunks: Buffer[] = [];
  handle.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const result = await handle.done;
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
    throw new DrctlError(
      'DRCTL_PG_COMMAND_FAILED',
      `pg_waldump failed on ${options.executor.where} for ${subject} (exit ${result.exitCode}): ${tail}`,
      { details: { program: 'pg_waldump', args, exitCode: result.exitCode, stderr: tail } },
    );
  }
  return Buffer.concat(chunks).toString('utf8');
}
