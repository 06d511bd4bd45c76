/**
 * File primitives the repository is built on: hashing, reading and writing whole files in few calls,
 * durable and atomic writes, `mkdir -p` with the real cause, a bounded pool of concurrent work, and
 * the batches of work sent to the worker threads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';
import type { SystemError } from './content-worker.ts';
import { isErrno } from './errors.ts';

/** Read size when streaming a whole file (hashing, format 1 blobs). */
export const BLOCK = 4 << 20;

export function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function hashFile(path: string): Promise<string> {
  return (await hashFileWithSize(path)).sha256;
}

export async function hashFileWithSize(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  let size = 0;
  try {
    const buffer = Buffer.allocUnsafe(BLOCK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, BLOCK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * `mkdir -p` that reports the real cause: Node's recursive mkdir answers ENOENT when a step fails for
 * another reason (EROFS, EACCES), so the path is walked again one directory at a time to learn it.
 */
export async function makeDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    const parts = path.split(sep);
    for (let i = 2; i <= parts.length; i += 1) {
      const prefix = parts.slice(0, i).join(sep);
      try {
        await mkdir(prefix);
      } catch (inner) {
        if (!isErrno(inner, 'EEXIST')) throw inner;
      }
    }
  }
}

/**
 * A stored chunk: its decoded size plus the header byte is the most it can hold (a compressed one holds
 * less), so one read into a buffer one byte larger returns all of it and shows the end.
 */
export async function readChunkFile(path: string, size: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readWhole(handle, size + 1);
  } finally {
    await handle.close();
  }
}

/** A file's bytes read with as few calls as its size allows; one that grew is read to its end. */
export async function readWhole(handle: FileHandle, size: number): Promise<Buffer> {
  // One byte more than expected, so a single read both fills the buffer and shows the end was reached.
  const buffer = Buffer.allocUnsafe(size + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) return buffer.subarray(0, filled);
    filled += bytesRead;
  }
  return Buffer.concat([buffer, await handle.readFile()]);
}

/** Write every byte of the pieces at the handle's position; a write may take fewer bytes than offered. */
export async function writeAll(handle: FileHandle, ...pieces: Buffer[]): Promise<void> {
  let rest = pieces.filter((piece) => piece.length > 0);
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest);
    while (rest.length > 0 && bytesWritten >= (rest[0] as Buffer).length) {
      bytesWritten -= (rest[0] as Buffer).length;
      rest = rest.slice(1);
    }
    if (bytesWritten > 0) rest = [(rest[0] as Buffer).subarray(bytesWritten), ...rest.slice(1)];
  }
}

export async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeDurably(temp, text);
  await rename(temp, path);
}

export async function writeFileExclusive(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** Map with at most `limit` calls in flight, results in input order; the first failure rejects. */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a failure no worker starts another item, so nothing writes behind the caller's cleanup.
    while (!failed) {
      const index = next;
      next += 1;
      if (index >= items.length) return;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejection = settled.find(
    (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
  );
  if (rejection !== undefined) throw rejection.reason;
  return results;
}

/**
 * What one task for a worker holds: enough that messages between threads cost little against the work,
 * little enough that the workers share a tree evenly and a cancellation is seen soon.
 */
const BATCH_ITEMS = 64;
const BATCH_BYTES = 16 << 20;

/** Consecutive runs of items, each up to BATCH_ITEMS long and BATCH_BYTES large (or one larger item). */
export function batches<T>(items: readonly T[], bytesOf: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (current.length > 0 && (current.length === BATCH_ITEMS || bytes + size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A system call's error a worker thread met, as if met on this thread (with its code and path). */
export function workerError(error: SystemError): Error {
  return Object.assign(new Error(error.message), {
    code: error.code,
    syscall: error.syscall,
    path: error.path,
  });
}
