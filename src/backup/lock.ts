/**
 * One writer per repository: a lock file naming the process, host and operation holding it, taken over
 * when the process that wrote it is gone.
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DrctlError } from '../errors.ts';
import { BACKUP_ERRORS, describe, isErrno, locationError } from './errors.ts';
import type { Subject } from './errors.ts';
import { makeDir, writeFileExclusive } from './io.ts';

interface LockInfo {
  pid: number;
  host: string;
  operation: string;
  at: string;
}

/**
 * One writer at a time. A lock whose process is gone (killed mid-backup) is taken over, and since no
 * one else can be writing then, staging directories of interrupted backups are removed.
 */
export async function withRepositoryLock<T>(
  root: string,
  subject: Subject,
  operation: string,
  work: () => Promise<T>,
): Promise<T> {
  const file = join(root, 'lock');
  const backupsDir = join(root, 'backups');
  try {
    await makeDir(root);
  } catch (error) {
    throw locationError(error, subject, root, 'create the backup repository');
  }
  const info: LockInfo = { pid: process.pid, host: hostname(), operation, at: new Date().toISOString() };
  for (let attempt = 0; ; attempt += 1) {
    try {
      await writeFileExclusive(file, JSON.stringify(info));
      break;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw locationError(error, subject, root, 'lock');
      const holder = await readLock(file);
      if (attempt >= 3 || !(await isStale(file, holder))) {
        const who =
          holder === undefined
            ? 'another process'
            : `${holder.operation} by pid ${holder.pid} on ${holder.host} since ${holder.at}`;
        throw new DrctlError(
          BACKUP_ERRORS.LOCKED,
          `${describe(subject)}: the repository ${root} is busy (${who})`,
          {
            hint: 'Wait for the other backup or prune to finish. If that process is gone on another host, remove the lock file by hand.',
            details: { repository: root, holder },
          },
        );
      }
      await rm(file, { force: true });
    }
  }
  try {
    const names = await readdir(backupsDir).catch(() => [] as string[]);
    for (const name of names)
      if (name.startsWith('.')) await rm(join(backupsDir, name), { recursive: true, force: true });
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * A lock is stale when it was taken on this host by a process that no longer exists. A lock file that
 * cannot be read was left by a crash between creating and writing it, unless it is brand new.
 */
async function isStale(file: string, lock: LockInfo | undefined): Promise<boolean> {
  if (lock === undefined) {
    const info = await stat(file).catch(() => undefined);
    return info === undefined || Date.now() - info.mtimeMs > 60_000;
  }
  if (lock.host !== hostname()) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
  }
}
