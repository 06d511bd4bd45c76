/**
 * Base backups with WAL archiving into a backup location (`<location>/base`, `<location>/wal`) on this
 * machine or on the database's host (backup-location.ts), and the records that mark a backup finished.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { describe, one, toolConnection, withClient } from '../../../pg/client.ts';
import { localRecords, type BackupFiles } from '../backup-location.ts';
import type { Target } from './target.ts';

/** What drctl writes beside a finished base backup. A backup without it is incomplete and never used. */
export interface BackupRecord {
  id: string;
  component: string;
  site: string;
  startedAt: string;
  finishedAt: string;
  bytes: number;
  verified: boolean;
  startWal: string | undefined;
}

export interface BaseBackupOptions {
  /** Where the location is and pg_basebackup runs: this machine (localBackupFiles) or the database's host. */
  files: BackupFiles;
  /** The component's backup location: base backups go to <location>/base, archived WAL to <location>/wal. */
  location: string;
  /** Check the copy against its manifest with pg_verifybackup. @default true */
  verify?: boolean;
  /** Set the server's archive_command to ship WAL into the location. @default true */
  archive?: boolean;
  signal?: AbortSignal;
}

/** The archive_command that ships WAL segments into `walDir`, never overwriting one already there. */
export function archiveCommand(walDir: string): string {
  const dir = walDir.replace(/'/g, `'\\''`);
  return `test ! -f '${dir}/%f' && cp %p '${dir}/%f'`;
}

/**
 * Take a base backup of a primary into a backup location and make sure WAL is archived next to it, so the
 * backup can be restored to any later point in time. The copy lands in a `.partial` directory and is
 * renamed only once complete (and verified), so an interrupted backup never looks like a backup.
 */
export async function baseBackup(
  target: Target,
  options: BaseBackupOptions,
): Promise<BackupRecord & { path: string; archiveCommand: string | undefined }> {
  const { files } = options;
  const where = describe(target.subject);
  const baseDir = join(options.location, 'base');
  const walDir = join(options.location, 'wal');
  // pg_basebackup and the archiver write here as the server's OS user: check it can, before anything starts.
  await files.prepare([options.location, baseDir, walDir]).catch((cause: unknown) => {
    throw new DrctlError(
      'DRCTL_PG_BACKUP_LOCATION',
      `cannot back up ${where}: the backup location ${options.location} on ${files.where} is not writable by the database server's OS user`,
      {
        hint: 'make the location (and every directory above it) reachable and writable by that user, or pick another location',
        cause,
      },
    );
  });
  const command = options.archive === false ? undefined : await archiveInto(target, walDir);
  const started = new Date();
  const id = started
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.(\d+)Z$/, '$1Z');
  const partial = join(baseDir, `${id}.partial`);
  const final = join(baseDir, id);
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  const connection = toolConnection(target.url);
  try {
    await files.tool(
      'pg_basebackup',
      ['-D', partial, '-d', connection.conninfo, '-X', 'stream', '--checkpoint=fast'],
      { subject: where, env: connection.env, ...signalOption },
    );
    let verified = false;
    if (options.verify !== false) {
      await files.tool('pg_verifybackup', ['--quiet', partial], { subject: where, ...signalOption });
      verified = true;
    }
    const { label, bytes } = await files.inspect(partial);
    const record: BackupRecord = {
      id,
      component: target.subject.component,
      site: target.subject.site,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      bytes,
      verified,
      startWal: /START WAL LOCATION: (\S+)/.exec(label)?.[1],
    };
    await files.seal(partial, final, `${JSON.stringify(record, null, 2)}\n`);
    return { ...record, path: final, archiveCommand: command };
  } catch (error) {
    await files.remove(partial);
    throw error;
  }
}

/** Points the server's archive_command at `walDir`; fails when archiving is off (that needs a restart). */
async function archiveInto(target: Target, walDir: string): Promise<string> {
  const command = archiveCommand(walDir);
  await withClient(target.subject, target.url, async (client) => {
    const row = await one<{ mode: string; command: string }>(
      client,
      "select current_setting('archive_mode') as mode, current_setting('archive_command') as command",
    );
    if (row?.mode === 'off') {
      throw new DrctlError(
        'DRCTL_PG_ARCHIVE_OFF',
        `cannot archive WAL of ${describe(target.subject)}: archive_mode is off`,
        {
          hint: 'set archive_mode = on in postgresql.conf and restart the server once; drctl sets archive_command itself',
        },
      );
    }
    if (row?.command !== command) {
      await client.query(`alter system set archive_command = ${client.escapeLiteral(command)}`);
      await client.query('select pg_reload_conf()');
    }
  });
  return command;
}

/** Finished base backups in a location on this machine, newest first. */
export function listBackups(location: string): Array<BackupRecord & { path: string }> {
  return parseBackups(localRecords(join(location, 'base')));
}

/** Finished base backups in a location where `files` are, newest first. */
export async function findBackups(
  files: BackupFiles,
  location: string,
): Promise<Array<BackupRecord & { path: string }>> {
  return parseBackups(await files.records(join(location, 'base')));
}

function parseBackups(
  records: Array<{ path: string; text: string }>,
): Array<BackupRecord & { path: string }> {
  const backups: Array<BackupRecord & { path: string }> = [];
  for (const { path, text } of records) {
    try {
      backups.push({ ...(JSON.parse(text) as BackupRecord), path });
    } catch {
      // A record that does not parse marks a backup we cannot trust; skip it.
    }
  }
  return backups.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
}

/** Ask the server to close its current WAL segment and wait until the archiver has shipped it. */
export async function flushWalArchive(target: Target, timeoutMs = 30_000): Promise<string> {
  return withClient(target.subject, target.url, async (client) => {
    const switched = await one<{ wal: string }>(client, 'select pg_walfile_name(pg_switch_wal()) as wal');
    const wanted = switched?.wal ?? '';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await one<{ last: string | null; failed: string | null }>(
        client,
        'select last_archived_wal as last, last_failed_wal as failed from pg_stat_archiver',
      );
      if (row?.last !== null && row?.last !== undefined && row.last >= wanted) return wanted;
      if (Date.now() > deadline) {
        throw new DrctlError(
          'DRCTL_PG_ARCHIVE_FAILED',
          `WAL segment ${wanted} of ${describe(target.subject)} was not archived in time (last failed: ${row?.failed ?? 'none'})`,
          {
            hint: 'check archive_command and that the backup location is writable by the server',
          },
        );
      }
      await sleep(50);
    }
  });
}
