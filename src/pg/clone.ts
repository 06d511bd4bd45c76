/**
 * A throw-away copy of a running PostgreSQL server, for an isolated test failover: `pg_basebackup` of the
 * server (a standby, usually) into a new directory, started on its own port as a standby with nowhere to
 * stream from. It replays what the copy holds and waits, as the real standby would after losing its
 * primary, so the runbook's own promotion step can promote it.
 *
 * The copy must never reach production: the settings copied with the data (primary_conninfo, the archive
 * and restore commands, synchronous standbys) are overridden on the command line, which wins over every
 * configuration file. The source is only read (a base backup, one query).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownToServer, runPgTool, type PgBinaries } from './binaries.ts';
import { one, toolConnection, withClient, type Subject } from './client.ts';
import { PgServer } from './server.ts';

export interface ServerCloneOptions {
  binaries: PgBinaries;
  /** The server to copy: a URL with credentials allowed to take a base backup. Only read. */
  sourceUrl: string;
  subject: Subject;
  /** Port the copy listens on (127.0.0.1). */
  port: number;
  /** @default os.tmpdir() */
  parentDir?: string;
  signal?: AbortSignal;
}

export interface ServerClone {
  /** The copy's own directory (data directory and log); removed by `remove()`. */
  dir: string;
  dataDir: string;
  port: number;
  pid: number;
  /** The source's last replayed commit before the copy was taken: the copy holds at least that much. */
  dataAsOf: string | undefined;
  /** Kills the copy and removes its directory; returns what it removed, for people. */
  remove(): Promise<string[]>;
}

/** Settings that cut the copy off from production, whatever its configuration files say. */
export const CUT_OFF: Record<string, string> = {
  primary_conninfo: '',
  primary_slot_name: '',
  restore_command: '',
  archive_mode: 'off',
  synchronous_standby_names: '',
  hot_standby: 'on',
};

export async function cloneServer(options: ServerCloneOptions): Promise<ServerClone> {
  const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'drctl-copy-'));
  chownToServer(dir);
  const dataDir = join(dir, 'data');
  let server: PgServer | undefined;
  const remove = async (): Promise<string[]> => {
    const removed: string[] = [];
    if (server?.running === true) {
      await server.kill();
      removed.push(`postgres (pid ${server.pid}) on 127.0.0.1:${options.port}`);
    }
    rmSync(dir, { recursive: true, force: true });
    removed.push(`directory ${dir}`);
    return removed;
  };
  try {
    const dataAsOf = await withClient(options.subject, options.sourceUrl, async (client) => {
      const row = await one<{ at: Date | null }>(client, 'select pg_last_xact_replay_timestamp() as at');
      return row?.at?.toISOString();
    });
    const connection = toolConnection(options.sourceUrl, { application_name: 'drctl-isolated-copy' });
    await runPgTool(
      options.binaries,
      'pg_basebackup',
      ['-D', dataDir, '-d', connection.conninfo, '-X', 'stream', '--checkpoint=fast', '--no-sync'],
      {
        subject: `a copy of component ${options.subject.component} at site ${options.subject.site}`,
        env: connection.env,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    const signalFile = join(dataDir, 'standby.signal');
    writeFileSync(signalFile, '');
    chownToServer(signalFile);
    server = await PgServer.start({
      binaries: options.binaries,
      dataDir,
      port: options.port,
      logFile: join(dir, 'postgres.log'),
      settings: CUT_OFF,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return { dir, dataDir, port: options.port, pid: server.pid, dataAsOf, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
