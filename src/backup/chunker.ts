/**
 * Content-defined chunking (FastCDC's gear hash with normalised chunking), so that a few bytes changed
 * in a large file change one or two chunks, not the whole stored copy: a cut falls where the bytes say,
 * not at fixed offsets, so an insertion shifts nothing after the next cut.
 *
 * Written here rather than taken from npm because it is thirty lines at the centre of the repository
 * format (the cut points must never change, or deduplication across versions breaks) and the npm
 * packages for it are WebAssembly builds with one maintainer each.
 *
 * The parameters are restic's (512 KiB minimum, 1 MiB average, 8 MiB maximum): chunks large enough to
 * keep one file per chunk cheap, small enough that a 4 KiB change stores about a megabyte.
 */
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

export const CHUNK_MIN = 512 << 10;
export const CHUNK_AVG = 1 << 20;
export const CHUNK_MAX = 8 << 20;
/** Described in repository.json, so a repository says how its chunks were cut. */
export const CHUNKER = 'fastcdc-gear32-512k-1m-8m';

/**
 * 256 fixed pseudo-random words, from SHA-256 so anyone can rebuild them: part of the format. A 32-bit
 * gear hash looks at the last 32 bytes; only its high bits depend on all of them, so masks test those.
 */
const GEAR = new Uint32Array(256);
for (let i = 0; i < 256; i += 1)
  GEAR[i] = createHash('sha256').update(`drctl gear ${i}`).digest().readUInt32BE(0);

const highBits = (bits: number): number => (~0 << (32 - bits)) >>> 0;
/** Harder to match before the average size, easier after: sizes cluster near the average. */
const MASK_SMALL = highBits(22);
const MASK_LARGE = highBits(18);

/**
 * Length of the first chunk of `buffer`, or 0 when more bytes are needed to know it. `final` says no
 * more bytes follow. The cut depends only on the chunk's own bytes, never on how they were read.
 */
export function cutPoint(buffer: Uint8Array, final: boolean): number {
  const length = buffer.length;
  if (length <= CHUNK_MIN) return final ? length : 0;
  const limit = Math.min(length, CHUNK_MAX);
  const normal = Math.min(limit, CHUNK_AVG);
  let hash = 0;
  let i = CHUNK_MIN;
  for (; i < normal; i += 1) {
    hash = ((hash << 1) + (GEAR[buffer[i] as number] as number)) >>> 0;
    if ((hash & MASK_SMALL) === 0) return i + 1;
  }
  for (; i < limit; i += 1) {
    hash = ((hash << 1) + (GEAR[buffer[i] as number] as number)) >>> 0;
    if ((hash & MASK_LARGE) === 0) return i + 1;
  }
  return final || limit === CHUNK_MAX ? limit : 0;
}

/** Bytes read at once; chunks are cut from it without copying, and only a partial chunk is carried over. */
const WINDOW = 16 << 20;

/** The chunks of an open file of about `size` bytes, read from its start to its end, in order. */
export function* chunksOf(fd: number, size: number): Generator<Buffer> {
  let window = Buffer.alloc(0);
  let start = 0;
  let end = 0;
  let left = size;
  let ended = false;
  for (;;) {
    const cut = end === start ? 0 : cutPoint(window.subarray(start, end), ended);
    if (cut > 0) {
      yield window.subarray(start, start + cut);
      start += cut;
      continue;
    }
    if (ended) return;
    // The partial chunk moves to a new window: a chunk already handed out keeps the old one alive.
    const carried = end - start;
    const next = Buffer.allocUnsafe(Math.max(CHUNK_MAX, Math.min(WINDOW, carried + left + (64 << 10))));
    window.copy(next, 0, start, end);
    window = next;
    start = 0;
    end = carried;
    while (!ended && end < window.length) {
      const bytesRead = readSync(fd, window, end, window.length - end, null);
      if (bytesRead === 0) ended = true;
      end += bytesRead;
      left = Math.max(0, left - bytesRead);
    }
  }
}
