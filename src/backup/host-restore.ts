/**
 * Reading a backup back through the execution layer: the chunks it needs come from the repository's side
 * as one `tar` (in the order the backup first uses them), each checked against its name as it arrives, and
 * the files go to the target's side as one `tar` unpacked into a directory beside the target, which
 * replaces the target only once everything is there and synced. Verification reads the chunks the same
 * way. Either side may be a host or this machine.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { runChecked, shellQuote } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import { ChunkDecodeError, chunkName, chunkProblem, decodeChunkSync, sha256Hex } from './chunks.ts';
import { cancelled, verifyFailed } from './errors.ts';
import type { Subject } from './errors.ts';
import { treePath } from './host-backup.ts';
import { pathWord } from './host-store.ts';
import type { HostStore } from './host-store.ts';
import type { ChunkRef, ManifestEntry } from './manifest.ts';
import { TarWriter, readBody, tarEntries } from './tar.ts';
import { Transfer } from './transfer.ts';

/** A path on a side of a transfer. */
export interface Place {
  executor: Executor;
  path: string;
}

function chunkFile(sha256: string): string {
  return `chunks/${sha256.slice(0, 2)}/${sha256}`;
}

/** A stored chunk's bytes, or what is wrong with them. */
function decoded(stored: Buffer, [sha256, size]: ChunkRef): Buffer | string {
  let data: Buffer;
  try {
    data = decodeChunkSync(stored, size);
  } catch (error) {
    if (error instanceof ChunkDecodeError) return `${chunkName(sha256)} cannot be decoded: ${error.message}`;
    throw error;
  }
  return chunkProblem(chunkName(sha256), data, sha256, size) ?? data;
}

/**
 * Read chunks in the order given (each once), calling `each` with its bytes or what is wrong with it
 * (`is missing` for one the repository does not hold).
 */
export async function readChunks(
  store: HostStore,
  refs: readonly ChunkRef[],
  transfer: Transfer,
  each: (ref: ChunkRef, data: Buffer | string) => Promise<void>,
): Promise<void> {
  const reading = store.readFiles(
    refs.map(([sha256]) => chunkFile(sha256)),
    transfer.signal,
  );
  const read = transfer.watch(reading, store.executor, 'reading chunks');
  let index = 0;
  const skipTo = async (name: string | undefined): Promise<void> => {
    for (; index < refs.length && chunkFile((refs[index] as ChunkRef)[0]) !== name; index += 1)
      await each(refs[index] as ChunkRef, `${chunkName((refs[index] as ChunkRef)[0])} is missing`);
  };
  const entries = tarEntries(reading.stdout);
  for (;;) {
    const next = await transfer.guard(entries.next());
    if (next.done === true) break;
    await skipTo(next.value.header.name);
    const ref = refs[index];
    if (ref === undefined) continue;
    index += 1;
    await each(ref, decoded(await readBody(next.value.body), ref));
  }
  await transfer.guard(read);
  await skipTo(undefined);
}

/** The chunks of entries in the order they are first used, and how often each is used. */
function chunkPlan(entries: readonly ManifestEntry[]): { order: ChunkRef[]; uses: Map<string, number> } {
  const uses = new Map<string, number>();
  const order: ChunkRef[] = [];
  for (const entry of entries)
    for (const ref of entry.chunks ?? []) {
      const count = uses.get(ref[0]) ?? 0;
      if (count === 0) order.push(ref);
      uses.set(ref[0], count + 1);
    }
  return { order, uses };
}

export interface SendFilesOptions {
  subject: Subject;
  signal?: AbortSignal | undefined;
  /** Directories to make before the files (relative). */
  directories?: readonly string[];
  /** The entry's name in the tar: its manifest path unless given. */
  rename?: (entry: ManifestEntry) => string;
}

/** Write entries of a backup into `into` on the target's side (made, and unpacked there), checked. */
export async function sendFiles(
  store: HostStore,
  entries: readonly ManifestEntry[],
  into: Place,
  options: SendFilesOptions,
): Promise<void> {
  const { subject } = options;
  const legacy = entries.find((entry) => entry.type === 'file' && entry.chunks === undefined);
  if (legacy !== undefined)
    throw verifyFailed(
      subject,
      store.where,
      legacy.path,
      'a backup of format 1 restores only from a repository on this machine',
    );
  const transfer = new Transfer(options.signal, () => cancelled(subject, 'the restore'));
  const writer = new TarWriter();
  const unpacking = into.executor.stream(
    `mkdir -p ${pathWord(into.path)} && tar -C ${pathWord(into.path)} --no-same-owner -xpf -`,
    { stdin: writer.stream, signal: transfer.signal },
  );
  const unpacked = transfer.watch(unpacking, into.executor, `writing into ${into.path}`);
  const { order, uses } = chunkPlan(entries);
  const held = new Map<string, Buffer>();
  const files = entries.filter((entry) => entry.type === 'file');
  let nextFile = 0;
  let current: { entry: ManifestEntry; next: number; out: ReturnType<TarWriter['file']> } | undefined;
  const name = (entry: ManifestEntry): string => options.rename?.(entry) ?? entry.path;
  const mtime = (entry: ManifestEntry): Date => new Date(entry.mtimeMs);
  // Writes what can be written: the current file's chunks while they are at hand, then the next file.
  const advance = async (): Promise<void> => {
    for (;;) {
      if (current === undefined) {
        const entry = files[nextFile];
        if (entry === undefined) return;
        nextFile += 1;
        const header = {
          name: name(entry),
          size: entry.size,
          mode: entry.mode & 0o7777,
          mtime: mtime(entry),
        };
        current = { entry, next: 0, out: writer.file(header) };
      }
      const chunks = current.entry.chunks ?? [];
      for (; current.next < chunks.length; current.next += 1) {
        const [sha256] = chunks[current.next] as ChunkRef;
        const data = held.get(sha256);
        if (data === undefined) return;
        const left = (uses.get(sha256) ?? 1) - 1;
        uses.set(sha256, left);
        if (left === 0) held.delete(sha256);
        await transfer.guard(current.out.write(data));
      }
      await transfer.guard(current.out.end());
      current = undefined;
    }
  };
  try {
    for (const directory of options.directories ?? [])
      await transfer.guard(writer.add({ name: directory, type: 'directory', mode: 0o755 }));
    for (const entry of entries)
      if (entry.type === 'symlink')
        await transfer.guard(
          writer.add({
            name: name(entry),
            type: 'symlink',
            linkname: entry.target ?? '',
            mtime: mtime(entry),
          }),
        );
    await advance();
    await readChunks(store, order, transfer, async (ref, data) => {
      if (typeof data === 'string') {
        const user = entries.find((entry) => entry.chunks?.some(([sha256]) => sha256 === ref[0]));
        throw verifyFailed(subject, store.where, user?.path ?? '?', data);
      }
      held.set(ref[0], data);
      await advance();
    });
    await advance();
    writer.finish();
    await transfer.guard(unpacked);
  } catch (error) {
    transfer.fail(error);
    writer.stream.destroy();
    throw transfer.reason(error);
  }
}

/** A directory beside `target` for writing its replacement: `.NAME.drctl-WHAT-RANDOM`. */
export function besideTarget(target: string, what: string): string {
  return posix.join(
    posix.dirname(target),
    `.${posix.basename(target)}.drctl-${what}-${randomBytes(4).toString('hex')}`,
  );
}

/** What is at a target path: nothing, an empty directory, or data (a non-empty directory or a non-empty file). */
export async function inspectPlace(place: Place): Promise<'missing' | 'empty' | 'non-empty'> {
  const p = pathWord(place.path);
  const out = await runChecked(
    place.executor,
    `if [ -d ${p} ] && [ ! -L ${p} ]; then if [ -z "$(ls -A ${p})" ]; then echo empty; else echo non-empty; fi; elif [ -s ${p} ] || [ -L ${p} ]; then echo non-empty; elif [ -e ${p} ]; then echo empty; else echo missing; fi`,
    { what: `looking at ${place.path}` },
  );
  return out.stdout.trim() as 'missing' | 'empty' | 'non-empty';
}

/**
 * Does the tree at `place` hold exactly these entries (a file: `place` is the file and the one entry)?
 * Read back as a tar from its side and compared chunk by chunk, so a repeated restore writes nothing.
 */
export async function holdsExactly(
  place: Place,
  entries: readonly ManifestEntry[],
  file: boolean,
  subject: Subject,
  signal?: AbortSignal,
): Promise<boolean> {
  const command = file
    ? `tar -C ${pathWord(posix.dirname(place.path))} -cf - ${shellQuote(posix.basename(place.path))}`
    : `tar -C ${pathWord(place.path)} -cf - .`;
  const transfer = new Transfer(signal, () => cancelled(subject, 'the restore'));
  const reading = place.executor.stream(command, { signal: transfer.signal });
  const read = transfer.watch(reading, place.executor, `reading ${place.path}`);
  const byPath = new Map(entries.map((entry) => [file ? posix.basename(place.path) : entry.path, entry]));
  let seen = 0;
  let same = true;
  try {
    const list = tarEntries(reading.stdout);
    for (;;) {
      const next = await transfer.guard(list.next());
      if (next.done === true) break;
      const { header, body } = next.value;
      const path = treePath(header.name);
      if (header.type === 'directory') continue;
      const entry = byPath.get(path);
      seen += 1;
      if (entry === undefined || header.type !== entry.type) same = false;
      else if (entry.type === 'symlink') same &&= header.linkname === entry.target;
      else if (same) same = sameContent(await readBody(body), entry);
      if (!same) break;
    }
    // the answer is known: the rest of the tree need not be read
    transfer.end();
    await read.catch(() => undefined);
  } catch (error) {
    transfer.fail(error);
    throw transfer.reason(error);
  }
  return same && seen === entries.length;
}

function sameContent(data: Buffer, entry: ManifestEntry): boolean {
  if (data.length !== entry.size || entry.chunks === undefined) return false;
  let at = 0;
  for (const [sha256, size] of entry.chunks) {
    if (sha256Hex(data.subarray(at, at + size)) !== sha256) return false;
    at += size;
  }
  return true;
}
