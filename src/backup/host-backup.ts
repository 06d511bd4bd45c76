/**
 * A backup whose source or repository is on a host: the source directory comes over one channel as a
 * `tar` from its side, drctl cuts each file into chunks as they arrive (the same cut points as on this
 * machine, so both share chunks), and only chunks the repository does not hold yet go to the repository's
 * side, in one `tar` unpacked into the backup's staging directory, the manifest last. The staging
 * directory becomes the backup only in a separate commit (host-repository.ts), so a transfer cut short
 * leaves nothing that looks like a backup.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { runChecked } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import { CHUNK_MAX, cutPoint } from './chunker.ts';
import { encodeChunk, sha256Hex } from './chunks.ts';
import type { Compression } from './chunks.ts';
import { cancelled, sourceMissing } from './errors.ts';
import type { Subject } from './errors.ts';
import { pathWord } from './host-store.ts';
import type { HostStore } from './host-store.ts';
import type { BackupStats, ChunkRef, ManifestEntry, Progress } from './manifest.ts';
import { TarWriter, tarEntries } from './tar.ts';
import { Transfer } from './transfer.ts';

export interface SendOptions {
  from: Executor;
  source: string;
  /** The backup's staging directory, relative to the repository's root. */
  staging: string;
  /** Chunks the repository holds: not sent again. */
  known: ReadonlySet<string>;
  compression: Compression;
  subject: Subject;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: Progress) => void | Promise<void>) | undefined;
}

export interface SentTree {
  directories: string[];
  entries: ManifestEntry[];
  stats: Omit<BackupStats, 'files' | 'bytes'>;
}

/** The chunks of a stream of bytes, cut exactly as chunker.ts cuts a file. */
async function* chunksOfStream(body: Readable): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const cutAll = function* (final: boolean): Generator<Buffer> {
    let buffer = Buffer.concat(held, heldBytes);
    let start = 0;
    while (buffer.length - start > 0 && (final || buffer.length - start >= CHUNK_MAX)) {
      const cut = cutPoint(buffer.subarray(start), final);
      if (cut === 0) break;
      yield buffer.subarray(start, start + cut);
      start += cut;
    }
    buffer = buffer.subarray(start);
    held = buffer.length === 0 ? [] : [buffer];
    heldBytes = buffer.length;
  };
  for await (const piece of body) {
    held.push(piece as Buffer);
    heldBytes += (piece as Buffer).length;
    if (heldBytes >= CHUNK_MAX) yield* cutAll(false);
  }
  yield* cutAll(true);
}

/** Source-tree path of a tar entry (`./a/b` → `a/b`); '' for the root itself. */
export function treePath(name: string): string {
  return posix.normalize(name).replace(/^(\.\/)+|^\.$|\/$/g, '');
}

/**
 * Send a source tree's new chunks into the staging directory; `finish` is given what was found and
 * answers the manifest's bytes, which are sent last. Resolves once the repository's side has them all.
 */
export async function sendTree(
  store: HostStore,
  options: SendOptions,
  finish: (tree: SentTree) => Buffer,
): Promise<void> {
  const { from, source, subject } = options;
  const kind = (
    await runChecked(
      from,
      `if [ -d ${pathWord(source)} ]; then echo d; elif [ -e ${pathWord(source)} ]; then echo f; else echo -; fi`,
      { what: `looking at ${source}` },
    )
  ).stdout.trim();
  if (kind === '-') throw sourceMissing(subject, `${source} on ${from.where}`, undefined);
  if (kind !== 'd')
    throw sourceMissing(subject, `${source} on ${from.where}`, undefined, 'is not a directory');
  const transfer = new Transfer(options.signal, () => cancelled(subject, 'the backup'));
  const reading = from.stream(`tar -C ${pathWord(source)} --hard-dereference -cf - .`, {
    signal: transfer.signal,
  });
  // exit 1: a file changed or vanished while it was read, as files in a live directory do
  const read = transfer.watch(reading, from, `reading ${source}`, [0, 1]);
  const writer = new TarWriter();
  const sent = transfer.watch(
    store.unpackInto(options.staging, writer.stream, transfer.signal),
    store.executor,
    'receiving the backup',
  );
  const tree: SentTree = {
    directories: [],
    entries: [],
    stats: { copiedFiles: 0, copiedBytes: 0, storedBytes: 0, unchangedFiles: 0, skipped: [] },
  };
  const queued = new Set<string>();
  const store1 = async (chunk: Buffer): Promise<ChunkRef> => {
    const sha256 = sha256Hex(chunk);
    if (!options.known.has(sha256) && !queued.has(sha256)) {
      queued.add(sha256);
      const stored = Buffer.concat(encodeChunk(chunk, options.compression));
      tree.stats.copiedBytes += chunk.length;
      tree.stats.storedBytes = (tree.stats.storedBytes ?? 0) + stored.length;
      await transfer.guard(writer.add({ name: `incoming/${sha256.slice(0, 2)}/${sha256}` }, stored));
    }
    return [sha256, chunk.length];
  };
  try {
    const entries = tarEntries(reading.stdout);
    for (;;) {
      const next = await transfer.guard(entries.next());
      if (next.done === true) break;
      const { header, body } = next.value;
      const path = treePath(header.name);
      if (path === '') continue;
      const base = { path, size: 0, mode: header.mode & 0o7777, mtimeMs: header.mtime.getTime() };
      if (header.type === 'directory') tree.directories.push(path);
      else if (header.type === 'symlink') {
        const target = header.linkname ?? '';
        tree.entries.push({ ...base, type: 'symlink', target, size: Buffer.byteLength(target) });
      } else if (header.type === 'file') {
        const before = tree.stats.copiedBytes;
        const chunks: ChunkRef[] = [];
        for await (const chunk of chunksOfStream(body)) chunks.push(await store1(chunk));
        if (tree.stats.copiedBytes > before) tree.stats.copiedFiles += 1;
        tree.entries.push({ ...base, type: 'file', size: header.size, chunks });
      } else {
        tree.stats.skipped.push(path);
        continue;
      }
      await options.onProgress?.({ done: tree.entries.length, total: 0, path });
    }
    await transfer.guard(read);
    // the listing in name order, as a walk of the directory on this machine gives it
    const order = (a: { path: string }, b: { path: string }): number => compareTreePaths(a.path, b.path);
    tree.directories.sort((a, b) => compareTreePaths(a, b));
    tree.entries.sort(order);
    await transfer.guard(writer.add({ name: 'manifest.json' }, finish(tree)));
    writer.finish();
    await transfer.guard(sent);
  } catch (error) {
    transfer.fail(error);
    writer.stream.destroy();
    throw transfer.reason(error);
  }
}

/** Depth-first name order: `a/b` before `a-c`, as a recursive walk visits them. */
export function compareTreePaths(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const l = left[i] as string;
    const r = right[i] as string;
    if (l !== r) return l < r ? -1 : 1;
  }
  return left.length - right.length;
}
