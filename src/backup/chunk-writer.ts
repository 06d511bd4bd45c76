/**
 * Writing a backup's chunks: each file read once and cut into content-defined chunks, each chunk new to
 * the repository compressed and written under a temporary name (on the worker threads of
 * content-workers.ts), then all made durable and named at once.
 */
import { readdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Compression } from './chunks.ts';
import type { ContentResult, StoredFile } from './content-worker.ts';
import { contentWorkers } from './content-workers.ts';
import { syncAll } from './durable.ts';
import { locationError } from './errors.ts';
import type { Subject } from './errors.ts';
import { batches, makeDir, mapPool, workerError } from './io.ts';
import type { ChunkRef } from './manifest.ts';

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
   * Chunks first met in this backup: hash → the temporary file holding it. Two workers meeting the same
   * new chunk both write it; the first answer names it, the other copy goes with the staging directory.
   */
  private readonly pending = new Map<string, string>();
  private readonly shards = new Map<string, Promise<void>>();
  private readonly repository: ChunkStore;
  private readonly incoming: string;
  private readonly compression: Compression;
  private readonly chunksDir: string;

  /** No chunk in the repository yet (a first backup): nothing to look up before writing one. */
  private readonly empty: Promise<boolean>;

  constructor(repository: ChunkStore, incoming: string, compression: Compression, chunksDir: string) {
    this.repository = repository;
    this.incoming = incoming;
    this.compression = compression;
    this.chunksDir = chunksDir;
    this.empty = readdir(chunksDir).then(
      (names) => names.length === 0,
      () => false,
    );
  }

  /** Shard directories chunks were renamed into. */
  get touched(): string[] {
    return [...this.shards.keys()];
  }

  /**
   * Read files once, cut them into chunks and store the new ones; for each file its size and chunks, or
   * undefined when it vanished between listing and reading, as files in a live directory do. Errors
   * writing to the repository name the location; errors reading the source pass unchanged.
   */
  async storeFiles(
    files: readonly { absolute: string; path: string; stat: { size: number } }[],
    options: {
      onFile?: (path: string) => void;
      /** Throws when the backup was cancelled: called before each batch. */
      cancelled?: () => void;
    } = {},
  ): Promise<({ size: number; chunks: ChunkRef[] } | undefined)[]> {
    const workers = contentWorkers();
    const chunksDir = (await this.empty) ? undefined : this.chunksDir;
    const indexed = files.map((file, index) => ({ file, index }));
    const out = new Array<{ size: number; chunks: ChunkRef[] } | undefined>(files.length);
    await mapPool(
      batches(indexed, ({ file }) => file.stat.size),
      workers.size * 2,
      async (batch) => {
        options.cancelled?.();
        const result: ContentResult = await workers.run({
          op: 'store',
          files: batch.map(({ file }) => ({ path: file.absolute, size: file.stat.size })),
          incoming: this.incoming,
          ...(chunksDir === undefined ? {} : { chunksDir }),
          compression: this.compression,
        });
        if (result.op === 'failed') {
          const error = workerError(result.error);
          throw result.error.writing === true
            ? locationError(
                error,
                this.repository.subject,
                result.error.path ?? this.incoming,
                'write the backup to',
              )
            : error;
        }
        if (result.op !== 'store') throw new Error(`a content worker answered ${result.op} to store`);
        result.files.forEach((stored, position) => {
          const { file, index } = batch[position] as (typeof batch)[number];
          out[index] = stored === null ? undefined : this.adopt(stored);
          options.onFile?.(file.path);
        });
      },
    );
    return out;
  }

  private adopt(stored: StoredFile): { size: number; chunks: ChunkRef[] } {
    let isNew = false;
    for (const chunk of stored.written) {
      if (this.pending.has(chunk.sha256)) continue;
      this.pending.set(chunk.sha256, chunk.temp);
      this.copiedBytes += chunk.size;
      this.storedBytes += chunk.stored;
      isNew = true;
    }
    if (isNew) this.copiedFiles += 1;
    return { size: stored.size, chunks: stored.chunks };
  }

  /** Make the new chunks durable, then give them their names, before the manifest naming them is written. */
  async flush(): Promise<void> {
    const written = [...this.pending];
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

  private async write<T>(doing: string, path: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw locationError(error, this.repository.subject, path, doing);
    }
  }
}
