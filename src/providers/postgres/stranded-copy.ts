/**
 * The read-only copy of a former primary that stranded writes are read from. The stopped data directory is
 * copied and the copy started as a hot standby with nowhere to stream from, on a free port: it replays its
 * own WAL to the end and answers read-only queries, while the original stays exactly as it was (a capture
 * that fails never costs the data twice, and pg_rewind still finds what it expects).
 */
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../system/ports.ts';
import { chownToServer, runAsServer, runPgTool, type PgBinaries } from '../../pg/binaries.ts';
import { PgServer, stopDataDir } from '../../pg/server.ts';

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
export const READ_ONLY_COPY: Record<string, string> = {
  hot_standby: 'on',
  primary_conninfo: '',
  primary_slot_name: '',
  restore_command: '',
  recovery_min_apply_delay: '0',
  archive_mode: 'off',
  synchronous_standby_names: '',
};

/** Appended to the copy's postgresql.auto.conf: replay the copy's own timeline to its end, no further. */
export const COPY_AUTO_CONF =
  "\n# drctl: a read-only copy, to find stranded writes\nrecovery_target_timeline = 'current'\n";

/** Files of the original that must not come along: its pid, its recovery mode, a stale backup label. */
export const NOT_COPIED = ['postmaster.pid', 'recovery.signal', 'backup_label.old'];

export interface LocalCopyOptions {
  binaries: PgBinaries;
  /** The stopped data directory, on this machine. */
  dataDir: string;
  /** Where the copy goes; removed afterwards. */
  scratchDir: string;
  /** For messages. */
  where: string;
  signal?: AbortSignal;
}

/** Copy a stopped data directory on this machine and start the copy read-only on a free local port. */
export async function startLocalCopy(options: LocalCopyOptions): Promise<ReadOnlyCopy> {
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
      settings: { ...READ_ONLY_COPY, listen_addresses: '127.0.0.1', unix_socket_directories: '' },
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
