/**
 * Directory trees on either side of a backup: walking a source in a stable order, listing the stored
 * chunks, and putting a restored tree in place of its target (or finding it is there already).
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, opendir, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { sha256Hex } from './chunks.ts';
import { fsyncDir } from './durable.ts';
import { isErrno } from './errors.ts';
import { hashFile, mapPool } from './io.ts';
import type { Manifest, ManifestEntry } from './manifest.ts';

export interface TreeItem {
  path: string;
  absolute: string;
  type: 'file' | 'symlink';
  stat: { size: number; mode: number; mtimeMs: number; ctimeMs: number; ino: number };
}

export async function walkTree(
  root: string,
): Promise<{ directories: string[]; items: TreeItem[]; skipped: string[] }> {
  const directories: string[] = [];
  const items: TreeItem[] = [];
  const skipped: string[] = [];
  type Node = { path: string; absolute: string; info: Stats };
  // A directory's entries are lstat'ed together (one round trip each through the thread pool would
  // bound an incremental backup), then visited in name order, so the listing never depends on timing.
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    const nodes: Node[] = await mapPool(names, 64, async (name) => {
      const absolute = join(dir, name);
      return { path: relative(root, absolute).split(sep).join('/'), absolute, info: await lstat(absolute) };
    });
    for (const { path, absolute, info } of nodes) {
      if (info.isDirectory()) {
        directories.push(path);
        await visit(absolute);
      } else if (info.isFile() || info.isSymbolicLink()) {
        items.push({
          path,
          absolute,
          type: info.isFile() ? 'file' : 'symlink',
          stat: {
            size: info.size,
            mode: info.mode,
            mtimeMs: info.mtimeMs,
            ctimeMs: info.ctimeMs,
            ino: info.ino,
          },
        });
      } else {
        skipped.push(path);
      }
    }
  };
  await visit(root);
  return { directories, items, skipped };
}

export async function* listBlobs(
  dir: string,
): AsyncGenerator<{ path: string; sha256: string; size: number }> {
  let shards;
  try {
    shards = await opendir(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  for await (const shard of shards) {
    if (!shard.isDirectory()) continue;
    for (const name of await readdir(join(dir, shard.name))) {
      const path = join(dir, shard.name, name);
      yield { path, sha256: name, size: (await stat(path)).size };
    }
  }
}

export function fileEntry(item: TreeItem): ManifestEntry {
  return {
    path: item.path,
    type: item.type,
    size: item.stat.size,
    mode: item.stat.mode & 0o7777,
    mtimeMs: item.stat.mtimeMs,
    ino: item.stat.ino,
    ctimeMs: item.stat.ctimeMs,
  };
}

export async function inspectTarget(target: string): Promise<'missing' | 'empty' | 'non-empty'> {
  try {
    const info = await lstat(target);
    if (!info.isDirectory()) return 'non-empty';
    return (await readdir(target)).length === 0 ? 'empty' : 'non-empty';
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'missing';
    throw error;
  }
}

/** Put a fully written temporary directory where the target is, moving the old target aside first. */
export async function swapInto(temp: string, target: string, targetExists: boolean): Promise<void> {
  if (!targetExists) {
    await rename(temp, target);
  } else {
    const old = siblingTemp(target, 'replaced');
    await rename(target, old);
    await rename(temp, target);
    await rm(old, { recursive: true, force: true });
  }
  await fsyncDir(dirname(target));
}

export function siblingTemp(target: string, what: string): string {
  return join(dirname(target), `.${basename(target)}.drctl-${what}-${randomBytes(4).toString('hex')}`);
}

/** Does a file hold exactly an entry's content? Compared chunk by chunk, so no re-chunking. */
export async function fileMatches(path: string, entry: ManifestEntry): Promise<boolean> {
  const info = await stat(path);
  if (info.size !== entry.size) return false;
  if (entry.chunks === undefined) return (await hashFile(path)) === entry.sha256;
  const handle = await open(path, 'r');
  try {
    let position = 0;
    for (const [sha256, size] of entry.chunks) {
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, position);
      if (bytesRead !== size || sha256Hex(buffer) !== sha256) return false;
      position += size;
    }
    return true;
  } finally {
    await handle.close();
  }
}

/** Does a directory already hold exactly this backup? Makes a repeated restore a no-op, not an error. */
export async function treeMatches(target: string, manifest: Manifest): Promise<boolean> {
  const tree = await walkTree(target);
  if (tree.items.length !== manifest.entries.length) return false;
  const byPath = new Map(tree.items.map((item) => [item.path, item]));
  for (const entry of manifest.entries) {
    const item = byPath.get(entry.path);
    if (item === undefined || item.type !== entry.type) return false;
    if (entry.type === 'symlink') {
      if ((await readlink(item.absolute)) !== entry.target) return false;
    } else if (!(await fileMatches(item.absolute, entry))) {
      return false;
    }
  }
  return true;
}
