/**
 * How one chunk is stored: a one-byte header saying how its bytes are encoded (0 as is, 1 Brotli, 2 raw
 * deflate), then the bytes; the file is named by the SHA-256 of the chunk's own (decoded) bytes. Backups,
 * restores and verifications encode and decode on worker threads (content-worker.ts); a single file
 * restored on the main thread decodes on libuv's thread pool.
 *
 * `auto` compresses with deflate at level 1. Node 20 has no zstd (restic's choice). Measured here on the
 * 373 MB of text chunks of the benchmark's mixed tree: deflate level 1 stores 0.248 of the bytes and
 * decompresses in 0.55 s of CPU, Brotli at quality 1 stores 0.237 and needs 1.1–1.4 s (quality 2 and 3:
 * 0.22, 0.7 s); compressing costs 1.9–2.1 s against Brotli's 1.5–1.7 s. A restore is on the recovery
 * time's critical path and a backup is not, so deflate (format 3; format 2 repositories hold Brotli
 * chunks, which still decode). Compressing costs about half a millisecond per call to set up, which on
 * 10,000 small files is seconds; so `auto` first measures the byte entropy of an 8 KiB sample on the
 * main thread (microseconds) and stores a chunk that looks random (compressed media, archives,
 * encrypted data: most of a file share's bytes) as is.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { join } from 'node:path';
import {
  brotliCompressSync,
  brotliDecompress,
  brotliDecompressSync,
  deflateRawSync,
  inflateRaw,
  inflateRawSync,
  constants as zlib,
} from 'node:zlib';

/** `auto`: deflate level 1, skipped for chunks that do not compress; `max`: Brotli quality 9; `off`: as is. */
export const COMPRESSIONS = ['auto', 'max', 'off'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const ENCODING = { RAW: 0, BROTLI: 1, DEFLATE: 2 } as const;

const unbrotliAsync = promisify(brotliDecompress);
const inflateAsync = promisify(inflateRaw);

const SAMPLE = 4 << 10;
/**
 * Bits per byte above which a sample is taken for incompressible: 4 KiB of random bytes measure about
 * 7.95, text 4.5–5.5, already compressed formats 7.9 and up.
 */
const RANDOM_ENTROPY = 7.5;
/** Kept compressed only when that saves at least a tenth: decompressing costs restore time. */
const WORTH = 0.9;

/**
 * On the main thread, on purpose: OpenSSL's SHA-NI code hashes 1.6 GB/s here, while WebCrypto's
 * thread-pool digest first copies every chunk into a fresh buffer and hands it between threads, which
 * measured 5–10 % more CPU for a 1 GiB backup on two cores.
 */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Where a chunk is stored: under the repository's chunks/, in a directory per first two hex digits. */
export function chunkPathIn(chunksDir: string, sha256: string): string {
  return join(chunksDir, sha256.slice(0, 2), sha256);
}

/**
 * The output buffer holds the whole result: zlib's default of 16 KiB would cut it into pieces to
 * concatenate (and, called asynchronously, a trip through the thread pool for each).
 */
function compress(data: Buffer, compression: 'auto' | 'max'): Buffer {
  const chunkSize = Math.max(zlib.Z_MIN_CHUNK, data.length);
  if (compression === 'auto') return deflateRawSync(data, { level: 1, memLevel: 9, chunkSize });
  return brotliCompressSync(data, {
    chunkSize,
    params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
}

/** Order-0 entropy in bits per byte of a 4 KiB sample from the start and one from the middle. */
export function sampleEntropy(data: Uint8Array): number {
  const counts = new Uint32Array(256);
  const middle = Math.max(SAMPLE, data.length >> 1);
  for (const [from, to] of [
    [0, Math.min(SAMPLE, data.length)],
    [middle, Math.min(middle + SAMPLE, data.length)],
  ] as const)
    for (let i = from; i < to; i += 1) counts[data[i] as number] = (counts[data[i] as number] as number) + 1;
  let total = 0;
  for (const count of counts) total += count;
  let bits = 0;
  for (const count of counts) if (count > 0) bits -= (count / total) * Math.log2(count / total);
  return bits;
}

/** The stored form of a chunk, as the pieces to write one after the other (on a worker thread). */
export function encodeChunk(data: Buffer, compression: Compression): Buffer[] {
  const worthTrying =
    compression === 'max' ||
    (compression === 'auto' && data.length > 64 && sampleEntropy(data) < RANDOM_ENTROPY);
  if (worthTrying) {
    const packed = compress(data, compression);
    if (packed.length < data.length * WORTH)
      return [Buffer.of(compression === 'max' ? ENCODING.BROTLI : ENCODING.DEFLATE), packed];
  }
  return [Buffer.of(ENCODING.RAW), data];
}

/** A chunk file that cannot be decoded: damaged (or written by a newer drctl with another encoding). */
export class ChunkDecodeError extends Error {
  override name = 'ChunkDecodeError';
}

/** The chunk's bytes from its stored form, `size` of them when intact (output sized as in `compress`). */
export async function decodeChunk(stored: Buffer, size: number): Promise<Buffer> {
  const encoding = stored[0];
  if (encoding === ENCODING.RAW) return stored.subarray(1);
  const decode =
    encoding === ENCODING.BROTLI ? unbrotliAsync : encoding === ENCODING.DEFLATE ? inflateAsync : undefined;
  if (decode === undefined) throw unknownEncoding(stored);
  try {
    return await decode(stored.subarray(1), { chunkSize: outputSize(size) });
  } catch (error) {
    throw damagedStream(encoding, error);
  }
}

/** `decodeChunk` on the calling thread, for the worker threads that restore and verify (content-worker.ts). */
export function decodeChunkSync(stored: Buffer, size: number): Buffer {
  const encoding = stored[0];
  if (encoding === ENCODING.RAW) return stored.subarray(1);
  const decode =
    encoding === ENCODING.BROTLI
      ? brotliDecompressSync
      : encoding === ENCODING.DEFLATE
        ? inflateRawSync
        : undefined;
  if (decode === undefined) throw unknownEncoding(stored);
  try {
    return decode(stored.subarray(1), { chunkSize: outputSize(size) });
  } catch (error) {
    throw damagedStream(encoding, error);
  }
}

function damagedStream(encoding: number | undefined, cause: unknown): ChunkDecodeError {
  const codec = encoding === ENCODING.BROTLI ? 'Brotli' : 'deflate';
  return new ChunkDecodeError(`its ${codec} stream is damaged`, { cause });
}

/** One byte more than expected, so a chunk that decodes longer still ends in one call (and fails the check). */
function outputSize(size: number): number {
  return Math.max(zlib.Z_MIN_CHUNK, size + 1);
}

function unknownEncoding(stored: Buffer): ChunkDecodeError {
  return new ChunkDecodeError(
    stored.length === 0 ? 'it is empty' : `unknown encoding ${String(stored[0])} in its first byte`,
  );
}

/** What is wrong with a decoded chunk, or undefined when it is the one its name and the manifest say. */
export function chunkProblem(name: string, data: Buffer, sha256: string, size: number): string | undefined {
  if (data.length !== size) return `${name} holds ${data.length} bytes, the manifest says ${size}`;
  if (sha256Hex(data) !== sha256) return `${name} does not match its SHA-256`;
  return undefined;
}

export function chunkName(sha256: string): string {
  return `chunk ${sha256.slice(0, 12)}`;
}
