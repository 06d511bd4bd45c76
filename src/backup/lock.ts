/**
 * One writer per repository: a lock file naming the process, host and operation holding it, taken over
 * when the process that wrote it is gone. The file lives beside the repository, on this machine or on the
 * repository's host (`LockFile` says how to reach it).
 */
import { randomBytes } from 'node:crypto';
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
  /** Names one taking of the lock, so this process can tell a lock it holds from one it lost. */
  token?: string;
}

/** The lock file and the staging directories beside it, wherever the repository is. */
export interface LockFile {
  /** For messages: the repository's path (and host). */
  readonly where: string;
  /** Create the file holding `text` unless it exists; false when it does. */
  create(text: string): Promise<boolean>;
  /** Its text, or undefined when it is gone. */
  read(): Promise<string | undefined>;
  /** How long ago it was written, or undefined when it is gone. */
  ageMs(): Promise<number | undefined>;
  remove(): Promise<void>;
  /** Remove the staging directories of interrupted backups (no one else can be writing). */
  clearStaging(): Promise<void>;
}

/**
 * Locks this process took and has not released. A lock of this process that is not among them was left
 * by an operation that could not remove it (its host dropped off mid-backup): it is taken over too.
 */
const held = new Set<string>();

/**
 * One writer at a time. A lock whose process is gone (killed mid-backup) is taken over, and since no
 * one else can be writing then, staging directories of interrupted backups are removed.
 */
export async function withLock<T>(
  file: LockFile,
  subject: Subject,
  operation: string,
  work: () => Promise<T>,
): Promise<T> {
  const token = randomBytes(8).toString('hex');
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    operation,
    at: new Date().toISOString(),
    token,
  };
  for (let attempt = 0; ; attempt += 1) {
    if (await file.create(JSON.stringify(info))) break;
    const holder = parse(await file.read());
    if (attempt >= 3 || !(await isStale(file, holder))) {
      const who =
        holder === undefined
          ? 'another process'
          : `${holder.operation} by pid ${holder.pid} on ${holder.host} since ${holder.at}`;
      throw new DrctlError(
        BACKUP_ERRORS.LOCKED,
        `${describe(subject)}: the repository ${file.where} is busy (${who})`,
        {
          hint: 'Wait for the other backup or prune to finish. If that process is gone on another host, remove the lock file by hand.',
          details: { repository: file.where, holder },
        },
      );
    }
    await file.remove();
  }
  held.add(token);
  let failure: unknown;
  try {
    await file.clearStaging();
    return await work();
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    held.delete(token);
    // A host that dropped off keeps the lock (reaching it again would only wait out the connect timeout);
    // the next taker sees it was this process's, or of a process gone, and takes it over.
    if (!unreachable(failure)) await file.remove().catch(() => undefined);
  }
}

/** The failure was losing the repository's host: nothing more can be done there now. */
export function unreachable(error: unknown): boolean {
  return error instanceof DrctlError && error.code === 'DRCTL_HOST_UNREACHABLE';
}

function parse(text: string | undefined): LockInfo | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * A lock is stale when it was taken on this machine by a process that no longer exists, or by this
 * process in an operation that has ended. A lock file that cannot be read was left by a crash between
 * creating and writing it, unless it is brand new.
 */
async function isStale(file: LockFile, lock: LockInfo | undefined): Promise<boolean> {
  if (lock === undefined) {
    const age = await file.ageMs();
    return age === undefined || age > 60_000;
  }
  if (lock.host !== hostname()) return false;
  if (lock.pid === process.pid) return lock.token === undefined || !held.has(lock.token);
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
  }
}

/** The lock of a repository on this machine. */
export function localLockFile(root: string, subject: Subject): LockFile {
  const file = join(root, 'lock');
  const backupsDir = join(root, 'backups');
  return {
    where: root,
    async create(text) {
      try {
        await makeDir(root);
      } catch (error) {
        throw locationError(error, subject, root, 'create the backup repository');
      }
      try {
        await writeFileExclusive(file, text);
        return true;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw locationError(error, subject, root, 'lock');
        return false;
      }
    },
    read: () => readFile(file, 'utf8').catch(() => undefined),
    ageMs: async () => {
      const info = await stat(file).catch(() => undefined);
      return info === undefined ? undefined : Date.now() - info.mtimeMs;
    },
    remove: () => rm(file, { force: true }),
    async clearStaging() {
      const names = await readdir(backupsDir).catch(() => [] as string[]);
      for (const name of names)
        if (name.startsWith('.')) await rm(join(backupsDir, name), { recursive: true, force: true });
    },
  };
}
