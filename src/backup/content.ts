/**
 * Reading stored content back: a chunk checked against its name as it is read, a format 1 blob streamed
 * and hashed, and one manifest entry written out as a file or a symlink.
 */
import { createHash } from 'node:crypto';
import { open, symlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ChunkDecodeError, decodeChunk, sha256Hex } from './chunks.ts';
import { isErrno, verifyFailed } from './errors.ts';
import type { Subject } from './errors.ts';
import { BLOCK, readChunkFile, writeAll } from './io.ts';
import type { ChunkRef, ManifestEntry } from './manifest.ts';

/** Where stored content lives: the repository, as far as reading it back needs to know it. */
export interface StoredContent {
  readonly root: string;
  chunkPath(sha256: string): string;
  blobPath(sha256: string): string;
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
  const name = `chunk ${sha256.slice(0, 12)}`;
  let stored: Buffer;
  try {
    stored = await readChunkFile(repository.chunkPath(sha256), size);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return `${name} is missing`;
    throw error;
  }
  let data: Buffer;
  try {
    data = await decodeChunk(stored);
  } catch (error) {
    if (error instanceof ChunkDecodeError) return `${name} cannot be decoded: ${error.message}`;
    throw error;
  }
  if (data.length !== size) return `${name} holds ${data.length} bytes, the manifest says ${size}`;
  if (sha256Hex(data) !== sha256) return `${name} does not match its SHA-256`;
  return data;
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
