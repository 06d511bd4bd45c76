/**
 * Point-in-time restore of a base backup into a new instance, replaying archived WAL up to a target: on
 * this machine or on the database's host, written once against ServerFiles and BackupFiles.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { describe, one, withClient, type Subject } from '../../../pg/client.ts';
import { quoteConf } from '../../../pg/server.ts';
import { BACKUP_RECORD, type BackupFiles } from '../backup-location.ts';
import type { ServerFiles, StartedServer } from '../server-files.ts';
import { findBackups, type BackupRecord } from './backup.ts';

export interface RestoreOptions {
  /** The component's backup location (as given to baseBackup), where `backups` are. */
  location: string;
  backups: BackupFiles;
  /** Recover up to this moment: commits at or before it are kept, later ones are not. */
  targetTime: Date;
  /**
   * Stop just before this transaction instead (recovery_target_xid, not inclusive): every commit before it
   * is kept, it and what came after are not. `targetTime` then only picks the base backup (one that ended
   * before it), so pass the moment the transaction began.
   */
  beforeXid?: string;
  /** The new instance's files, on the same machine as the location; its data directory must not exist or be empty. */
  files: ServerFiles;
  /** @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RestoreResult {
  backup: BackupRecord & { path: string };
  /** The restored instance's postmaster pid, where it runs. */
  pid: number | undefined;
  url: string;
  recoveredInMs: number;
}

/** The recovery_target_* settings: before a transaction, or up to a moment. */
export function recoveryTarget(target: { targetTime: Date; beforeXid?: string | undefined }): string[] {
  if (target.beforeXid !== undefined) {
    return [`recovery_target_xid = ${quoteConf(target.beforeXid)}`, "recovery_target_inclusive = 'off'"];
  }
  // recovery_target_time does not take ISO 8601's "T" and "Z".
  return [
    `recovery_target_time = ${quoteConf(target.targetTime.toISOString().replace('T', ' ').replace('Z', '+00'))}`,
  ];
}

/**
 * Restore a base backup into a new instance and replay archived WAL up to `targetTime`, then promote it.
 * The new instance does not archive (it must not write into the location it was restored from).
 * On failure the new instance is stopped and its data directory removed: a half-restored database is
 * never left looking like a restore.
 */
export async function restorePointInTime(
  subject: Subject,
  url: string,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const where = describe(subject);
  const { files } = options;
  const occupancy = await files.occupancy();
  if (occupancy === 'occupied' || occupancy === 'running') {
    throw new DrctlError(
      'DRCTL_PG_RESTORE_TARGET_NOT_EMPTY',
      `cannot restore ${where} into ${files.dataDir} on ${files.where}: ${occupancy === 'running' ? 'a server runs there' : 'the directory already holds data'}`,
      { hint: 'restore into a new, empty directory; drctl never overwrites a data directory' },
    );
  }
  const backup = (await findBackups(options.backups, options.location)).find(
    (candidate) => new Date(candidate.finishedAt) <= options.targetTime,
  );
  if (backup === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NO_BACKUP',
      `no finished base backup of ${where} in ${options.location} on ${options.backups.where} ends before ${options.targetTime.toISOString()}`,
      { hint: 'take a base backup first (postgres.basebackup), or pick a later target time' },
    );
  }
  const started = Date.now();
  const failed = async (reason: string): Promise<DrctlError> =>
    new DrctlError(
      'DRCTL_PG_RESTORE_FAILED',
      `restoring ${where} to ${options.targetTime.toISOString()} ${reason}:\n${await files.logTail(8)}`,
      { hint: 'the server log above says why; a target after the newest archived WAL cannot be reached' },
    );
  let server: StartedServer | undefined;
  try {
    await files.restoreFrom(backup.path, restoreSettings(join(options.location, 'wal'), options), [
      BACKUP_RECORD,
    ]);
    server = await files
      .start(options.signal === undefined ? {} : { signal: options.signal })
      .catch(async (cause: unknown) => {
        throw Object.assign(await failed('failed'), { cause });
      });
    const deadline = started + (options.timeoutMs ?? 120_000);
    for (;;) {
      const done = await withClient(
        subject,
        url,
        async (client) => (await one<{ r: boolean }>(client, 'select pg_is_in_recovery() as r'))?.r === false,
        { timeoutMs: 1_000 },
      ).catch(() => false);
      if (done) break;
      if (!(await server.running())) throw await failed('failed');
      if (Date.now() > deadline || options.signal?.aborted === true)
        throw await failed('did not finish in time');
      await sleep(50);
    }
    return { backup, pid: server.pid, url, recoveredInMs: Date.now() - started };
  } catch (error) {
    await server?.stop().catch(() => undefined);
    await files.remove({ contentsOnly: occupancy === 'empty' });
    throw error;
  }
}

/** What the restored instance starts with: WAL from the location, the target, and nothing of its source's role. */
function restoreSettings(
  walDir: string,
  target: { targetTime: Date; beforeXid?: string | undefined },
): string[] {
  const dir = walDir.replace(/'/g, `'\\''`);
  return [
    '# drctl point-in-time restore',
    `restore_command = ${quoteConf(`cp '${dir}/%f' %p`)}`,
    ...recoveryTarget(target),
    "recovery_target_action = 'promote'",
    "archive_mode = 'off'",
    "synchronous_standby_names = ''",
    "primary_conninfo = ''",
    "primary_slot_name = ''",
  ];
}
