/**
 * Reading stored content back: a chunk checked against its name as it is read, a format 1 blob streamed
 * and hashed, and manifest entries written out as files or symlinks. A whole tree and a verification go
 * through the worker threads of content-workers.ts; a single file (a database) is restored here.
 */
import { createHash } from 'node:crypto';
import { open, symlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkDecodeError, chunkName, chunkProblem, decodeChunk } from './chunks.ts';
import type { ChunkFile, ContentResult, RestoreItem } from './content-worker.ts';
import { contentWorkers } from './content-workers.ts';
import { cancelled, isErrno, verifyFailed } from './errors.ts';
import type { Subject } from './errors.ts';
import { BLOCK, batches, mapPool, readChunkFile, workerError, writeAll } from './io.ts';
import type { ChunkRef, ManifestEntry } from './manifest.ts';

/** Files restored at once by the format 1 path (streamed on this thread). */
const CONCURRENCY = 8;

/** Where stored content lives: the repository, as far as reading it back needs to know it. */
export interface StoredContent {
  readonly root: string;
  chunkPath(sha256: string): string;
  blobPath(sha256: string): string;
}

/**
 * Write every entry of a backup under `root`, whose directories exist. Each chunk is checked against its
 * name on the way, so a damaged backup fails with DRCTL_BACKUP_VERIFY_FAILED naming the file.
 */
export async function restoreEntries(
  repository: StoredContent,
  entries: readonly ManifestEntry[],
  root: string,
  subject: Subject,
  signal?: AbortSignal,
): Promise<void> {
  const isLegacy = (entry: ManifestEntry): boolean => entry.type === 'file' && entry.chunks === undefined;
  const items = entries
    .filter((entry) => !isLegacy(entry))
    .map((entry): RestoreItem => ({
      path: entry.path,
      destination: join(root, entry.path),
      mode: entry.mode & 0o7777,
      mtimeMs: entry.mtimeMs,
      ...(entry.type === 'symlink' ? { target: entry.target ?? '' } : {}),
      chunks: chunkFiles(repository, entry.chunks ?? []),
    }));
  const workers = contentWorkers();
  await mapPool(
    batches(items, (item) => item.chunks.reduce((sum, [, , size]) => sum + size, 0)),
    workers.size * 2,
    async (batch) => {
      if (signal?.aborted === true) throw cancelled(subject, 'the restore');
      const result = expect(await workers.run({ op: 'restore', items: batch }), 'restore');
      if (result.damaged !== undefined)
        throw verifyFailed(subject, repository.root, result.damaged.path, result.damaged.reason);
    },
  );
  await mapPool(entries.filter(isLegacy), CONCURRENCY, async (entry) => {
    if (signal?.aborted === true) throw cancelled(subject, 'the restore');
    await restoreEntry(repository, entry, join(root, entry.path), subject, false);
  });
}

/**
 * Read and check each chunk once: what is wrong with each damaged one (by SHA-256), and the bytes of
 * those that are intact.
 */
export async function checkChunks(
  repository: StoredContent,
  refs: readonly ChunkRef[],
  subject: Subject,
  signal?: AbortSignal,
): Promise<{ problems: Map<string, string>; bytes: number }> {
  const problems = new Map<string, string>();
  let bytes = 0;
  const workers = contentWorkers();
  await mapPool(
    batches(chunkFiles(repository, refs), ([, , size]) => size),
    workers.size * 2,
    async (batch) => {
      if (signal?.aborted === true) throw cancelled(subject, 'the verification');
      const result = expect(await workers.run({ op: 'check', chunks: batch }), 'check');
      bytes += result.bytes;
      result.problems.forEach((problem, index) => {
        if (problem !== null) problems.set((batch[index] as ChunkFile)[1], problem);
      });
    },
  );
  return { problems, bytes };
}

function chunkFiles(repository: StoredContent, refs: readonly ChunkRef[]): ChunkFile[] {
  return refs.map(([sha256, size]) => [repository.chunkPath(sha256), sha256, size]);
}

/** A worker's answer of the kind asked for; a system error it met is thrown here, as if met here. */
function expect<K extends 'restore' | 'check'>(
  result: ContentResult,
  op: K,
): Extract<ContentResult, { op: K }> {
  if (result.op === 'failed') throw workerError(result.error);
  if (result.op !== op) throw new Error(`a content worker answered ${result.op} to ${op}`);
  return result as Extract<ContentResult, { op: K }>;
}

export async function restoreEntry(
  repository: StoredContent,
  entry: ManifestEntry,
  destination: string,
  subject: Subject,
  sync: boolean,
): Promise<void> {
  if (entry.type === 'symlink') {
    await symlink(entry.target ?? '', destination);
    return;
  }
  const output = await open(destination, 'wx', entry.mode & 0o7777);
  try {
    if (entry.chunks === undefined) await copyBlob(repository, entry, output, subject);
    else {
      const chunks = entry.chunks;
      // Restoring is reading the backup, so it verifies on the way: a damaged chunk never lands unnoticed.
      const read = (index: number): Promise<Buffer> | undefined => {
        const ref = chunks[index];
        if (ref === undefined) return undefined;
        const reading = readChunk(repository, ref, entry.path, subject);
        reading.catch(() => undefined); // awaited below; this only keeps an early failure handled
        return reading;
      };
      let next = read(0);
      for (let index = 0; next !== undefined; index += 1) {
        const data = await next;
        next = read(index + 1); // the next chunk is read and checked while this one is written
        await writeAll(output, data);
      }
    }
    if (sync) await output.sync();
    await output.chmod(entry.mode & 0o7777);
    const mtime = new Date(entry.mtimeMs);
    await output.utimes(mtime, mtime);
  } finally {
    await output.close();
  }
}

/** A chunk's bytes, checked against its name; a missing or damaged chunk is a verification failure. */
export async function readChunk(
  repository: StoredContent,
  ref: ChunkRef,
  path: string,
  subject: Subject,
): Promise<Buffer> {
  const loaded = await loadChunk(repository, ref);
  if (typeof loaded === 'string') throw verifyFailed(subject, repository.root, path, loaded);
  return loaded;
}

/** A chunk's bytes, or what is wrong with it. */
export async function loadChunk(
  repository: StoredContent,
  [sha256, size]: ChunkRef,
): Promise<Buffer | string> {
  const name = chunkName(sha256);
  let stored: Buffer;
  try {
    stored = await readChunkFile(repository.chunkPath(sha256), size);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return `${name} is missing`;
    throw error;
  }
  let data: Buffer;
  try {
    data = await decodeChunk(stored, size);
  } catch (error) {
    if (error instanceof ChunkDecodeError) return `${name} cannot be decoded: ${error.message}`;
    throw error;
  }
  return chunkProblem(name, data, sha256, size) ?? data;
}

/** A format 1 file: one blob holding the whole content, streamed since it may be of any size. */
async function copyBlob(
  repository: StoredContent,
  entry: ManifestEntry,
  output: FileHandle,
  subject: Subject,
): Promise<void> {
  const sha256 = entry.sha256 ?? '';
  const hash = createHash('sha256');
  const input = await open(repository.blobPath(sha256), 'r').catch((error: unknown) => {
    throw verifyFailed(
      subject,
      repository.root,
      entry.path,
      `its content (blob ${sha256.slice(0, 12)}) is missing`,
      error,
    );
  });
  try {
    const buffer = Buffer.allocUnsafe(BLOCK);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, BLOCK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      await writeAll(output, buffer.subarray(0, bytesRead));
    }
  } finally {
    await input.close();
  }
  if (hash.digest('hex') !== sha256) {
    throw verifyFailed(
      subject,
      repository.root,
      entry.path,
      'its content does not match the SHA-256 in the manifest',
    );
  }
}
