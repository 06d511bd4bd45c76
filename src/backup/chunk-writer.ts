/**
 * Writing a backup's chunks: each file read once and cut into content-defined chunks, each chunk new to
 * the repository compressed and written under a temporary name, then all made durable and named at once.
 */
import { open, readdir, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHUNK_MAX, chunksOf, cutPoint } from './chunker.ts';
import { encodeChunk, sha256Hex } from './chunks.ts';
import type { Compression } from './chunks.ts';
import { syncAll } from './durable.ts';
import { isErrno, locationError } from './errors.ts';
import type { Subject } from './errors.ts';
import { exists, makeDir, mapPool, readWhole, writeAll } from './io.ts';
import type { ChunkRef } from './manifest.ts';

/** Chunks of one large file hashed, compressed and written while the next ones are cut. */
const CHUNKS_IN_FLIGHT = 3;

/** Where chunks go: the repository, as far as writing chunks needs to know it. */
export interface ChunkStore {
  readonly subject: Subject;
  chunkPath(sha256: string): string;
}

/** Writes chunks into the store: staged under the backup's own directory, renamed into place when new. */
export class ChunkWriter {
  copiedFiles = 0;
  copiedBytes = 0;
  storedBytes = 0;
  unchanged = 0;
  /**
   * Chunks first met in this backup: hash → the temporary file being written (undefined when the
   * repository had it already). Set before any await, so a chunk two files share is written once.
   */
  private readonly pending = new Map<string, Promise<string | undefined>>();
  private readonly shards = new Map<string, Promise<void>>();
  private counter = 0;
  private readonly repository: ChunkStore;
  private readonly incoming: string;
  private readonly compression: Compression;

  /** No chunk in the repository yet (a first backup): nothing to look up before writing one. */
  private readonly empty: Promise<boolean>;

  constructor(repository: ChunkStore, incoming: string, compression: Compression, chunksDir: string) {
    this.repository = repository;
    this.incoming = incoming;
    this.compression = compression;
    this.empty = readdir(chunksDir).then(
      (names) => names.length === 0,
      () => false,
    );
  }

  /** Shard directories chunks were renamed into. */
  get touched(): string[] {
    return [...this.shards.keys()];
  }

  /** Errors writing to the repository name the location; errors reading the source pass unchanged. */
  private async write<T>(doing: string, path: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw locationError(error, this.repository.subject, path, doing);
    }
  }

  /**
   * Read a file once, cut it into chunks and store the new ones. Undefined when the file vanished
   * between listing and reading, as files in a live directory do.
   */
  async storeFile(path: string, size: number): Promise<{ size: number; chunks: ChunkRef[] } | undefined> {
    let input: FileHandle;
    try {
      input = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    const stored: Promise<{ ref: ChunkRef; isNew: boolean }>[] = [];
    let total = 0;
    const add = (chunk: Buffer): void => {
      total += chunk.length;
      const storing = this.put(chunk);
      storing.catch(() => undefined); // awaited below; this only keeps an early failure handled
      stored.push(storing);
    };
    try {
      if (size <= CHUNK_MAX) {
        // Most files: one read, cut in memory (the whole file is there, so every cut is final).
        const data = await readWhole(input, size);
        for (let start = 0; start < data.length;) {
          const chunk = data.subarray(start, start + cutPoint(data.subarray(start), true));
          add(chunk);
          start += chunk.length;
        }
      } else {
        for await (const chunk of chunksOf(input, size)) {
          add(chunk);
          // Bounded: the chunks in flight hold memory, and the disk is the limit anyway.
          const waitFor = stored[stored.length - CHUNKS_IN_FLIGHT];
          if (waitFor !== undefined) await waitFor;
        }
      }
    } finally {
      await input.close();
    }
    const results = await Promise.all(stored);
    if (results.some((result) => result.isNew)) this.copiedFiles += 1;
    return { size: total, chunks: results.map((result) => result.ref) };
  }

  private async put(data: Buffer): Promise<{ ref: ChunkRef; isNew: boolean }> {
    const sha256 = sha256Hex(data);
    const ref: ChunkRef = [sha256, data.length];
    if (this.pending.has(sha256)) return { ref, isNew: false };
    const writing = this.writeNew(sha256, data);
    this.pending.set(sha256, writing);
    return { ref, isNew: (await writing) !== undefined };
  }

  /**
   * A chunk keeps a temporary name until `flush`: made durable there, all at once, it only ever gets
   * its final name once complete, so a crash can never leave a truncated chunk under a valid hash.
   */
  private async writeNew(sha256: string, data: Buffer): Promise<string | undefined> {
    if (!(await this.empty) && (await exists(this.repository.chunkPath(sha256)))) return undefined;
    const pieces = await encodeChunk(data, this.compression);
    const temp = join(this.incoming, String((this.counter += 1)));
    await this.write('write the backup to', temp, async () => {
      const handle = await open(temp, 'wx');
      try {
        await writeAll(handle, ...pieces);
      } finally {
        await handle.close();
      }
    });
    this.copiedBytes += data.length;
    this.storedBytes += pieces.reduce((sum, piece) => sum + piece.length, 0);
    return temp;
  }

  /** Make the new chunks durable, then give them their names, before the manifest naming them is written. */
  async flush(): Promise<void> {
    const written: [string, string][] = [];
    for (const [sha256, writing] of this.pending) {
      const temp = await writing;
      if (temp !== undefined) written.push([sha256, temp]);
    }
    await this.write('write the backup to', this.incoming, () =>
      syncAll(
        this.incoming,
        written.map(([, temp]) => temp),
        [],
      ),
    );
    await mapPool(written, 16, async ([sha256, temp]) => {
      const final = this.repository.chunkPath(sha256);
      await this.write('write the backup to', final, async () => {
        const shard = dirname(final);
        let made = this.shards.get(shard);
        if (made === undefined) {
          made = makeDir(shard);
          this.shards.set(shard, made);
        }
        await made;
        await rename(temp, final);
      });
    });
    this.pending.clear();
  }
}
