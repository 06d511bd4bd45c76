/**
 * Making many new files durable at once. fsyncing each file costs a journal commit and a thread-pool
 * thread per file, which bounded restores and backups; `syncfs(2)` writes back the whole file system in
 * one call instead. Node has no binding for it, so it runs as coreutils' (or BusyBox's) `sync -f`, and
 * where that is missing (macOS, a stripped image) every file is fsynced as before.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';

let syncfsWorks: boolean | undefined;
const FEW = 32;

function syncfs(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('sync', ['-f', dir], { timeout: 600_000 }, (error) => resolve(error === null));
  });
}

/**
 * Make `files` (and the directories holding them) durable. One `sync -f` on the file system holding
 * `dir` when it works; otherwise each file is fsynced, so a write-back error still surfaces on the file
 * that has it, then each directory.
 */
export async function syncAll(
  dir: string,
  files: readonly string[],
  directories: readonly string[],
): Promise<void> {
  // A few files (a database snapshot every second in a drill) are cheaper to fsync than a spawn, and
  // syncfs would also write back whatever else is dirty on that file system.
  if (syncfsWorks !== false && files.length + directories.length > FEW) {
    const ok = await syncfs(dir);
    if (syncfsWorks === undefined) syncfsWorks = ok;
    if (ok) return;
  }
  await forEachLimited(files, 16, syncFile);
  await forEachLimited(directories, 16, fsyncDir);
}

async function forEachLimited(
  items: readonly string[],
  limit: number,
  work: (item: string) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next] as string;
        next += 1;
        await work(item);
      }
    }),
  );
}

export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
