/**
 * A worker thread that stores, restores and checks chunked content for the pool in content-workers.ts.
 *
 * Synchronous on purpose. Restoring a small file from the main thread took eight trips through libuv's
 * thread pool (open, read and close the chunk, decompress, open, write, chmod, set the times and close
 * the file), each a few tens of microseconds of callbacks and promises; on a tree of 10,000 small files
 * that bookkeeping, not the bytes, was most of the CPU. Here each of those is a plain system call on a
 * thread that has nothing else to do, and the pool gives the parallelism.
 */
import {
  closeSync,
  existsSync,
  fchmodSync,
  futimesSync,
  openSync,
  readSync,
  symlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { parentPort, threadId } from 'node:worker_threads';
import { CHUNK_MAX, chunksOf, cutPoint } from './chunker.ts';
import {
  ChunkDecodeError,
  chunkName,
  chunkPathIn,
  chunkProblem,
  decodeChunkSync,
  encodeChunk,
  sha256Hex,
} from './chunks.ts';
import type { Compression } from './chunks.ts';
import type { ChunkRef } from './manifest.ts';

/** A stored chunk to read: the file holding it, the SHA-256 naming it and its decoded size. */
export type ChunkFile = [file: string, sha256: string, size: number];

/** One manifest entry to write out: a file from its chunks, or a symlink. */
export interface RestoreItem {
  /** The manifest path, for errors. */
  path: string;
  destination: string;
  mode: number;
  mtimeMs: number;
  /** Link text: the entry is a symlink. */
  target?: string;
  chunks: ChunkFile[];
}

/** Source files to read, cut into chunks and store (the new chunks under temporary names). */
export interface StoreTask {
  op: 'store';
  files: { path: string; size: number }[];
  /** Where new chunks are written, each under a name of its own. */
  incoming: string;
  /** The repository's chunks, to look a chunk up before writing it; absent when there are none yet. */
  chunksDir?: string;
  compression: Compression;
}

/** A stored file: its chunks, and those this task wrote (a chunk another task wrote too is harmless). */
export interface StoredFile {
  size: number;
  chunks: ChunkRef[];
  written: { sha256: string; temp: string; size: number; stored: number }[];
}

export type ContentTask =
  { op: 'restore'; items: RestoreItem[] } | { op: 'check'; chunks: ChunkFile[] } | StoreTask;

/** A system call's error as it crosses threads (an Error loses `code` and `path` on the way). */
export interface SystemError {
  message: string;
  /** It happened writing to the repository (not reading the source). */
  writing?: boolean;
  code?: string;
  syscall?: string;
  path?: string;
}

export type ContentResult =
  /** `damaged`: the item at that path could not be restored since a chunk is missing or damaged. */
  | { op: 'restore'; damaged?: { path: string; reason: string } }
  /** One entry per chunk asked about: what is wrong with it, or null. */
  | { op: 'check'; problems: (string | null)[]; bytes: number }
  /** One entry per file asked about; null when it vanished before it could be opened. */
  | { op: 'store'; files: (StoredFile | null)[] }
  | { op: 'failed'; error: SystemError };

/** The stored form of one chunk read here; reused, since one worker does one chunk at a time. */
let scratch = Buffer.allocUnsafe(CHUNK_MAX + 2);

class Damaged extends Error {
  override name = 'Damaged';
}

/** A chunk's checked bytes (valid until the next call), or a Damaged error saying what is wrong. */
function readChunk([file, sha256, size]: ChunkFile): Buffer {
  const name = chunkName(sha256);
  // One byte more than the most it can hold, so one read shows both the bytes and the end of the file.
  if (scratch.length < size + 2) scratch = Buffer.allocUnsafe(size + 2);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Damaged(`${name} is missing`);
    throw error;
  }
  let filled = 0;
  try {
    for (;;) {
      const read = readSync(fd, scratch, filled, size + 2 - filled, null);
      if (read === 0) break;
      filled += read;
      if (filled === size + 2) break;
    }
  } finally {
    closeSync(fd);
  }
  let data: Buffer;
  try {
    data = decodeChunkSync(scratch.subarray(0, filled), size);
  } catch (error) {
    if (error instanceof ChunkDecodeError) throw new Damaged(`${name} cannot be decoded: ${error.message}`);
    throw error;
  }
  const problem = chunkProblem(name, data, sha256, size);
  if (problem !== undefined) throw new Damaged(problem);
  return data;
}

function writeFully(fd: number, data: Buffer): void {
  for (let written = 0; written < data.length;)
    written += writeSync(fd, data, written, data.length - written);
}

function restoreItem(item: RestoreItem): void {
  if (item.target !== undefined) {
    symlinkSync(item.target, item.destination);
    return;
  }
  const fd = openSync(item.destination, 'wx', item.mode);
  try {
    for (const chunk of item.chunks) writeFully(fd, readChunk(chunk));
    // The mode given to open is cut by the umask; the backup's mode is restored as it was.
    fchmodSync(fd, item.mode);
    const mtime = new Date(item.mtimeMs);
    futimesSync(fd, mtime, mtime);
  } finally {
    closeSync(fd);
  }
}

/** New chunks this thread wrote, for their temporary names. */
let written = 0;

function storeFile(task: StoreTask, path: string, size: number, seen: Set<string>): StoredFile | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const stored: StoredFile = { size: 0, chunks: [], written: [] };
  const put = (chunk: Buffer): void => {
    const sha256 = sha256Hex(chunk);
    stored.size += chunk.length;
    stored.chunks.push([sha256, chunk.length]);
    if (seen.has(sha256)) return;
    seen.add(sha256);
    if (task.chunksDir !== undefined && existsSync(chunkPathIn(task.chunksDir, sha256))) return;
    const pieces = encodeChunk(chunk, task.compression);
    const temp = join(task.incoming, `${threadId}-${(written += 1)}`);
    try {
      const out = openSync(temp, 'wx');
      try {
        const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
        const done = writevSync(out, pieces);
        if (done < total) writeFully(out, Buffer.concat(pieces).subarray(done));
      } finally {
        closeSync(out);
      }
    } catch (error) {
      throw Object.assign(error as Error, { writing: true });
    }
    stored.written.push({
      sha256,
      temp,
      size: chunk.length,
      stored: pieces.reduce((sum, piece) => sum + piece.length, 0),
    });
  };
  try {
    if (size <= CHUNK_MAX) {
      // Most files: one read, cut in memory (the whole file is there, so every cut is final).
      const data = readWhole(fd, size);
      for (let start = 0; start < data.length;) {
        const chunk = data.subarray(start, start + cutPoint(data.subarray(start), true));
        put(chunk);
        start += chunk.length;
      }
    } else for (const chunk of chunksOf(fd, size)) put(chunk);
  } finally {
    closeSync(fd);
  }
  return stored;
}

/** A file's bytes, read to its end even when it grew since it was listed. */
function readWhole(fd: number, size: number): Buffer {
  let buffer = Buffer.allocUnsafe(size + 1);
  let filled = 0;
  for (;;) {
    if (filled === buffer.length) {
      const larger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(larger);
      buffer = larger;
    }
    const read = readSync(fd, buffer, filled, buffer.length - filled, null);
    if (read === 0) return buffer.subarray(0, filled);
    filled += read;
  }
}

function run(task: ContentTask): ContentResult {
  if (task.op === 'store') {
    const seen = new Set<string>();
    return { op: 'store', files: task.files.map(({ path, size }) => storeFile(task, path, size, seen)) };
  }
  if (task.op === 'restore') {
    for (const item of task.items) {
      try {
        restoreItem(item);
      } catch (error) {
        if (error instanceof Damaged)
          return { op: 'restore', damaged: { path: item.path, reason: error.message } };
        throw error;
      }
    }
    return { op: 'restore' };
  }
  const problems: (string | null)[] = [];
  let bytes = 0;
  for (const chunk of task.chunks) {
    try {
      bytes += readChunk(chunk).length;
      problems.push(null);
    } catch (error) {
      if (!(error instanceof Damaged)) throw error;
      problems.push(error.message);
    }
  }
  return { op: 'check', problems, bytes };
}

function systemError(error: unknown): SystemError {
  const { message, code, syscall, path } = error as NodeJS.ErrnoException;
  return {
    message: String(message),
    ...((error as { writing?: boolean }).writing === true ? { writing: true } : {}),
    ...(code === undefined ? {} : { code }),
    ...(syscall === undefined ? {} : { syscall }),
    ...(path === undefined ? {} : { path }),
  };
}

parentPort?.on('message', ({ id, task }: { id: number; task: ContentTask }) => {
  let result: ContentResult;
  try {
    result = run(task);
  } catch (error) {
    result = { op: 'failed', error: systemError(error) };
  }
  parentPort?.postMessage({ id, result });
});
