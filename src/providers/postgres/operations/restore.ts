/** Point-in-time restore of a base backup into a new instance, replaying archived WAL up to a target. */
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
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { chownToServer, runAsServer } from '../../../pg/binaries.ts';
import { describe, one, withClient, type Subject } from '../../../pg/client.ts';
import { logTail, quoteConf, runningPostmaster, type PgServer } from '../../../pg/server.ts';
import { BACKUP_RECORD, listBackups, type BackupRecord } from './backup.ts';
import { startLocal, type LocalServer } from './target.ts';

export interface RestoreOptions {
  /** The component's backup location (as given to baseBackup). */
  location: string;
  /** Recover up to this moment: commits at or before it are kept, later ones are not. */
  targetTime: Date;
  /**
   * Stop just before this transaction instead (recovery_target_xid, not inclusive): every commit before it
   * is kept, it and what came after are not. `targetTime` then only picks the base backup (one that ended
   * before it), so pass the moment the transaction began.
   */
  beforeXid?: string;
  /** The new instance; its data directory must not exist or be empty. */
  local: LocalServer;
  /** @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RestoreResult {
  backup: BackupRecord & { path: string };
  server: PgServer;
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
  const { local } = options;
  if (existsSync(local.dataDir) && readdirSync(local.dataDir).length > 0) {
    throw new DrctlError(
      'DRCTL_PG_RESTORE_TARGET_NOT_EMPTY',
      `cannot restore ${where} into ${local.dataDir}: the directory already holds data`,
      {
        hint: 'restore into a new, empty directory; drctl never overwrites a data directory',
      },
    );
  }
  if (runningPostmaster(local.dataDir) !== undefined) {
    throw new DrctlError(
      'DRCTL_PG_RESTORE_TARGET_NOT_EMPTY',
      `cannot restore ${where} into ${local.dataDir}: a server runs there`,
    );
  }
  const candidates = listBackups(options.location).filter(
    (backup) => new Date(backup.finishedAt) <= options.targetTime,
  );
  const backup = candidates[0];
  if (backup === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NO_BACKUP',
      `no finished base backup of ${where} in ${options.location} ends before ${options.targetTime.toISOString()}`,
      {
        hint: 'take a base backup first (postgres.basebackup), or pick a later target time',
      },
    );
  }
  const started = Date.now();
  const createdDir = !existsSync(local.dataDir);
  let server: PgServer | undefined;
  try {
    if (createdDir) mkdirSync(local.dataDir, { recursive: true });
    chownToServer(local.dataDir);
    await runAsServer('/bin/cp', ['-a', `${backup.path}/.`, local.dataDir], { subject: where });
    rmSync(join(local.dataDir, BACKUP_RECORD), { force: true });
    chmodSync(local.dataDir, 0o700);
    const walDir = join(options.location, 'wal').replace(/'/g, `'\\''`);
    appendFileSync(
      join(local.dataDir, 'postgresql.auto.conf'),
      [
        '# drctl point-in-time restore',
        `restore_command = ${quoteConf(`cp '${walDir}/%f' %p`)}`,
        ...recoveryTarget(options),
        "recovery_target_action = 'promote'",
        "archive_mode = 'off'",
        "synchronous_standby_names = ''",
        "primary_conninfo = ''",
        "primary_slot_name = ''",
        '',
      ].join('\n'),
    );
    rmSync(join(local.dataDir, 'standby.signal'), { force: true });
    writeFileSync(join(local.dataDir, 'recovery.signal'), '');
    chownToServer(join(local.dataDir, 'recovery.signal'));
    server = await startLocal(local, { noWait: true });
    const deadline = started + (options.timeoutMs ?? 120_000);
    for (;;) {
      if (!server.running) {
        throw new DrctlError(
          'DRCTL_PG_RESTORE_FAILED',
          `restoring ${where} to ${options.targetTime.toISOString()} failed:\n${logTail(local.logFile)}`,
          {
            hint: 'the server log above says why; a target after the newest archived WAL cannot be reached',
          },
        );
      }
      const done = await withClient(
        subject,
        url,
        async (client) => (await one<{ r: boolean }>(client, 'select pg_is_in_recovery() as r'))?.r === false,
        {
          timeoutMs: 1_000,
        },
      ).catch(() => false);
      if (done) break;
      if (Date.now() > deadline || options.signal?.aborted === true) {
        throw new DrctlError(
          'DRCTL_PG_RESTORE_FAILED',
          `restoring ${where} to ${options.targetTime.toISOString()} did not finish in time:\n${logTail(local.logFile)}`,
        );
      }
      await sleep(50);
    }
    return { backup, server, url, recoveredInMs: Date.now() - started };
  } catch (error) {
    await server?.kill();
    if (createdDir) rmSync(local.dataDir, { recursive: true, force: true });
    else
      for (const name of readdirSync(local.dataDir))
        rmSync(join(local.dataDir, name), { recursive: true, force: true });
    throw error;
  }
}
