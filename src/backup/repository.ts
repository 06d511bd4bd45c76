/**
 * The backup repository both the files and the SQLite providers write to: one directory at the backup
 * site per component, laid out as
 *
 *   repository.json              {"format": 2, "chunker": …}: which format this drctl writes here
 *   chunks/ab/ab12…              one chunk of file content, named by its SHA-256, shared by every backup
 *   blobs/ab/ab12…               whole files, named by their SHA-256: backups of format 1 only
 *   backups/<id>/manifest.json   one directory per complete backup
 *   backups/.tmp-<id>/           a backup being written (never listed)
 *   verifications/<id>.json      the latest verification of a backup
 *   lock                         held by the one backup or prune running (restores and verifications read without it)
 *
 * A file is stored as content-defined chunks (chunker.ts), so a small change in a large file stores a
 * chunk or two, and an incremental backup stores a chunk only when its bytes are new anywhere in the
 * repository (a renamed or duplicated file costs nothing); yet every backup is a full listing that
 * restores on its own (no chain of incrementals to replay, so pruning any backup is safe), and
 * verification is a re-hash of each chunk against its name. Chunks may be compressed (chunks.ts).
 *
 * A backup becomes visible only by the rename of its staging directory, after every chunk and the
 * manifest are durable: a crash at any point leaves either the previous set of backups or the new one.
 *
 * Format 1 (before chunking) stored each file whole under blobs/. Its backups keep restoring, verifying
 * and pruning as before; the first new backup into such a repository writes format 2 and reads every
 * file once more, since no chunk of it is known yet. A repository or manifest of a newer format is
 * refused with DRCTL_BACKUP_FORMAT_UNSUPPORTED rather than misread.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  open,
  opendir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { DrctlError } from '../errors.ts';
import type { Retention } from '../plan/model.ts';
import { CHUNK_MAX, CHUNKER, chunksOf, cutPoint } from './chunker.ts';
import { ChunkDecodeError, decodeChunk, encodeChunk, sha256Hex } from './chunks.ts';
import type { Compression } from './chunks.ts';
import { fsyncDir, syncAll } from './durable.ts';
import { BACKUP_ERRORS, cancelled, describe, isErrno, locationError } from './errors.ts';
import type { Subject } from './errors.ts';
import { applyRetention } from './retention.ts';
import type { RetentionDecision } from './retention.ts';

/** The format this code writes; it reads every format from 1 up to this one. */
export const MANIFEST_FORMAT = 2;
const LEGACY_FORMAT = 1;
const BLOCK = 4 << 20;
/** Files read, chunked and written at once: enough to keep the thread pool and the disk busy. */
const CONCURRENCY = 8;
/** Chunks of one large file hashed, compressed and written while the next ones are cut. */
const CHUNKS_IN_FLIGHT = 3;

/** One chunk of a file: the SHA-256 that names it and its length, in file order. */
export type ChunkRef = [sha256: string, size: number];

export interface ManifestEntry {
  /** Relative to the backed-up root, `/`-separated. */
  path: string;
  type: 'file' | 'symlink';
  size: number;
  mode: number;
  mtimeMs: number;
  /** Format 2 files: the chunks that make up the content, in order (none for an empty file). */
  chunks?: ChunkRef[];
  /** Format 1: SHA-256 of the whole content (of the link text for a symlink); names the blob. */
  sha256?: string;
  /** Link text, for symlinks. */
  target?: string;
  /** Source-side identity, only used to skip re-reading an unchanged file on the next backup. */
  ino?: number;
  ctimeMs?: number;
}

export interface BackupStats {
  files: number;
  bytes: number;
  /** Files with content new to the repository, written to it. */
  copiedFiles: number;
  /** Bytes of new chunks, before compression. */
  copiedBytes: number;
  /** What the new chunks take in the repository, after compression. */
  storedBytes?: number;
  /** Files not re-read because size, times and inode matched the parent backup. */
  unchangedFiles: number;
  /** Sockets, FIFOs and devices: not backed up. */
  skipped: string[];
}

export interface Manifest {
  /** 2 (chunks) or 1 (whole files under blobs/, read only). */
  format: typeof MANIFEST_FORMAT | typeof LEGACY_FORMAT;
  id: string;
  /** Which provider wrote it: `files` or `sqlite`. */
  kind: string;
  component: string;
  /** Site the data came from. */
  site: string;
  source: string;
  startedAt: string;
  finishedAt: string;
  /** The backup this one was compared with to skip unchanged files; null for the first. */
  parent: string | null;
  directories: string[];
  entries: ManifestEntry[];
  stats: BackupStats;
  meta: Record<string, unknown>;
  /** SHA-256 of the manifest's JSON without this field: a flipped byte here is caught too. */
  checksum: string;
}

export interface Progress {
  done: number;
  total: number;
  path: string;
}

export interface BackupOptions {
  /** Provider writing the backup; incrementals compare only with backups of the same kind. */
  kind: string;
  /** Site the data comes from. */
  site: string;
  /** Read every file even when it looks unchanged since the parent backup. @default false */
  rehash?: boolean;
  /** How new chunks are stored; see chunks.ts. @default 'auto' */
  compression?: Compression;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  meta?: Record<string, unknown>;
}

export interface ProducedBackupOptions extends BackupOptions {
  /**
   * Writes the data to back up into `dir` (inside the repository, so adopting it is a rename) and
   * says what it is. Used for a database's online backup, which is already a copy.
   */
  produce(dir: string): Promise<{ source: string; meta?: Record<string, unknown> }>;
}

export interface VerifyProblem {
  path: string;
  reason: string;
}

export interface VerifyReport {
  backup: string;
  ok: boolean;
  at: string;
  files: number;
  bytes: number;
  problems: VerifyProblem[];
  /** Extra results a provider adds (integrity check, validation queries). */
  checks?: Record<string, unknown>;
}

export interface RestoreOptions {
  /** Replace what is at the target. @default false */
  force?: boolean;
  signal?: AbortSignal;
  /** Site being restored to, for errors. */
  site: string;
}

export interface RestoreResult {
  backup: string;
  target: string;
  files: number;
  bytes: number;
  /** The target already held exactly this backup, so nothing was written. */
  alreadyRestored: boolean;
  /** Something was at the target and was replaced (force). */
  replaced: boolean;
}

export interface PruneOptions {
  dryRun?: boolean;
}

export interface PruneReport {
  dryRun: boolean;
  policy: Retention;
  decisions: RetentionDecision[];
  kept: string[];
  pruned: string[];
  /** Chunks (and format 1 blobs) no kept backup references, removed (or that would be). */
  blobsRemoved: number;
  bytesFreed: number;
  /** Staging directories of interrupted backups, removed (or that would be). */
  incomplete: string[];
  /** Backups whose manifest is damaged: left alone, and no blob is removed while they exist. */
  damaged: string[];
}

export interface RepositoryOptions {
  /** Where the repository lives: the component and the backup site, for errors. */
  subject: Subject;
  /** @default () => new Date() */
  clock?: () => Date;
}

interface LockInfo {
  pid: number;
  host: string;
  operation: string;
  at: string;
}

export class BackupRepository {
  readonly root: string;
  readonly subject: Subject;
  private readonly clock: () => Date;
  private damagedIds: string[] = [];

  constructor(root: string, options: RepositoryOptions) {
    this.root = root;
    this.subject = options.subject;
    this.clock = options.clock ?? (() => new Date());
  }

  private get backupsDir(): string {
    return join(this.root, 'backups');
  }

  private get blobsDir(): string {
    return join(this.root, 'blobs');
  }

  private get chunksDir(): string {
    return join(this.root, 'chunks');
  }

  /** Where a format 1 backup keeps a whole file. */
  blobPath(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  chunkPath(sha256: string): string {
    return join(this.chunksDir, sha256.slice(0, 2), sha256);
  }

  /** The files in the repository holding an entry's content, in order. */
  contentPaths(entry: ManifestEntry): string[] {
    if (entry.chunks !== undefined) return entry.chunks.map(([sha256]) => this.chunkPath(sha256));
    return entry.type === 'file' && entry.sha256 !== undefined ? [this.blobPath(entry.sha256)] : [];
  }

  /**
   * Refuse a repository a newer drctl wrote; record the format on the first backup. A repository
   * without repository.json is of format 1 (or new).
   */
  private async checkFormat(write: boolean): Promise<void> {
    const file = join(this.root, 'repository.json');
    let format: unknown = LEGACY_FORMAT;
    try {
      format = (JSON.parse(await readFile(file, 'utf8')) as { format?: unknown }).format;
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw this.formatUnsupported(`${file} cannot be read`, error);
      if (write) await writeAtomically(file, JSON.stringify({ format: MANIFEST_FORMAT, chunker: CHUNKER }));
      return;
    }
    if (format !== MANIFEST_FORMAT) throw this.formatUnsupported(`it is of format ${String(format)}`);
  }

  private formatUnsupported(why: string, cause?: unknown): DrctlError {
    return new DrctlError(
      BACKUP_ERRORS.FORMAT_UNSUPPORTED,
      `${describe(this.subject)}: the backup repository ${this.root} is not one this drctl reads: ${why}; it reads formats ${LEGACY_FORMAT} to ${MANIFEST_FORMAT}`,
      {
        hint: 'Use the drctl version that wrote it (or a newer one). Nothing in the repository was changed.',
        details: { repository: this.root, supported: [LEGACY_FORMAT, MANIFEST_FORMAT] },
        ...(cause === undefined ? {} : { cause }),
      },
    );
  }

  /** Every complete backup, oldest first. A directory without a readable manifest is not a backup. */
  async list(): Promise<Manifest[]> {
    await this.checkFormat(false);
    let names: string[];
    try {
      names = await readdir(this.backupsDir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    const manifests: Manifest[] = [];
    this.damagedIds = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      try {
        manifests.push(await this.manifest(name));
      } catch (error) {
        // A damaged manifest must not stop new backups; verify reports it and prune leaves it alone.
        if (!(error instanceof DrctlError) || error.code !== BACKUP_ERRORS.MANIFEST_INVALID) throw error;
        this.damagedIds.push(name);
      }
    }
    return manifests.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  }

  /** Backups whose manifest failed its checksum at the last `list()`. */
  get damaged(): readonly string[] {
    return this.damagedIds;
  }

  async newest(kind?: string): Promise<Manifest | undefined> {
    const all = await this.list();
    return all.filter((manifest) => kind === undefined || manifest.kind === kind).at(-1);
  }

  /** One backup's manifest, its checksum checked. */
  async manifest(id: string): Promise<Manifest> {
    const file = join(this.backupsDir, id, 'manifest.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
        throw new DrctlError(
          BACKUP_ERRORS.NOT_FOUND,
          `${describe(this.subject)}: no backup "${id}" in ${this.root}`,
          {
            hint: 'List the backups with files.list (or sqlite.list) and pass one of their ids, or omit the id for the newest.',
            details: { repository: this.root, backup: id },
            cause: error,
          },
        );
      }
      throw error;
    }
    const invalid = (why: string, cause?: unknown): DrctlError =>
      new DrctlError(
        BACKUP_ERRORS.MANIFEST_INVALID,
        `${describe(this.subject)}: manifest of backup "${id}" is damaged: ${why}`,
        {
          hint: 'Do not restore from this backup; restore an older one and take a fresh backup. Run files.verify on the others.',
          details: { repository: this.root, backup: id, file },
          ...(cause === undefined ? {} : { cause }),
        },
      );
    let parsed: Manifest;
    try {
      parsed = JSON.parse(text) as Manifest;
    } catch (error) {
      throw invalid('not valid JSON', error);
    }
    const { checksum, ...rest } = parsed;
    if (typeof checksum !== 'string' || sha256Of(JSON.stringify(rest)) !== checksum)
      throw invalid('checksum mismatch');
    if (typeof parsed.format === 'number' && parsed.format > MANIFEST_FORMAT)
      throw this.formatUnsupported(`backup "${id}" is of format ${parsed.format}`);
    if (parsed.format !== MANIFEST_FORMAT && parsed.format !== LEGACY_FORMAT)
      throw invalid(`unknown format ${String(parsed.format)}`);
    return parsed;
  }

  /** Back up a directory tree, storing only chunks the repository does not hold yet. */
  async backupDirectory(source: string, options: BackupOptions): Promise<Manifest> {
    const subject = { component: this.subject.component, site: options.site };
    let rootStat;
    try {
      rootStat = await stat(source);
    } catch (error) {
      throw sourceMissing(subject, source, error);
    }
    if (!rootStat.isDirectory()) throw sourceMissing(subject, source, undefined, 'is not a directory');
    return this.withLock('backup', async () => {
      const startedAt = this.clock();
      const id = backupId(startedAt);
      const staging = await this.beginStaging(id);
      const parent = await this.newest(options.kind);
      const tree = await walkTree(source);
      const previous = new Map(parent?.entries.map((entry) => [entry.path, entry]) ?? []);
      const store = this.chunkWriter(staging, options.compression);
      let done = 0;
      const captured = await mapPool(tree.items, CONCURRENCY, async (item) => {
        if (options.signal?.aborted === true) throw cancelled(subject, 'the backup');
        const entry = await this.captureEntry(item, previous.get(item.path), store, options.rehash === true);
        done += 1;
        options.onProgress?.({ done, total: tree.items.length, path: item.path });
        return entry;
      });
      const entries = captured.filter((entry): entry is ManifestEntry => entry !== undefined);
      const vanished = tree.items
        .filter((_, index) => captured[index] === undefined)
        .map((item) => item.path);
      return this.commit(staging, store, {
        id,
        kind: options.kind,
        component: this.subject.component,
        site: options.site,
        source,
        startedAt: startedAt.toISOString(),
        parent: parent?.id ?? null,
        directories: tree.directories,
        entries,
        stats: statsOf(entries, store, [...tree.skipped, ...vanished]),
        meta: options.meta ?? {},
      });
    });
  }

  /** Back up what `produce` writes into a staging directory (a database's online copy), chunked. */
  async backupProduced(options: ProducedBackupOptions): Promise<Manifest> {
    return this.withLock('backup', async () => {
      const startedAt = this.clock();
      const id = backupId(startedAt);
      const staging = await this.beginStaging(id);
      const dataDir = join(staging, 'data');
      await mkdir(dataDir).catch((error: unknown) => {
        throw locationError(error, this.subject, dataDir, 'create');
      });
      const produced = await options.produce(dataDir);
      const parent = await this.newest(options.kind);
      const tree = await walkTree(dataDir);
      const store = this.chunkWriter(staging, options.compression);
      const captured = await mapPool(tree.items, CONCURRENCY, (item) =>
        this.captureEntry(item, undefined, store, true),
      );
      const entries = captured.filter((entry): entry is ManifestEntry => entry !== undefined);
      return this.commit(staging, store, {
        id,
        kind: options.kind,
        component: this.subject.component,
        site: options.site,
        source: produced.source,
        startedAt: startedAt.toISOString(),
        parent: parent?.id ?? null,
        directories: tree.directories,
        entries,
        stats: statsOf(entries, store, tree.skipped),
        meta: { ...options.meta, ...produced.meta },
      });
    });
  }

  private async captureEntry(
    item: TreeItem,
    before: ManifestEntry | undefined,
    store: ChunkWriter,
    rehash: boolean,
  ): Promise<ManifestEntry | undefined> {
    if (item.type === 'symlink') {
      const target = await readlink(item.absolute);
      return { ...fileEntry(item), type: 'symlink', target, size: Buffer.byteLength(target) };
    }
    // A chunk the parent names is not stat'ed: prune never removes it while the parent exists, and a
    // chunk lost to the disk is what verify finds; `rehash` then stores it again.
    const chunks = before?.type === 'file' ? before.chunks : undefined;
    const unchanged =
      !rehash &&
      chunks !== undefined &&
      before?.size === item.stat.size &&
      before.mtimeMs === item.stat.mtimeMs &&
      before.ctimeMs === item.stat.ctimeMs &&
      before.ino === item.stat.ino;
    if (unchanged) {
      store.unchanged += 1;
      return { ...fileEntry(item), chunks };
    }
    const content = await store.storeFile(item.absolute, item.stat.size);
    return content === undefined ? undefined : { ...fileEntry(item), ...content };
  }

  private chunkWriter(staging: string, compression: Compression = 'auto'): ChunkWriter {
    return new ChunkWriter(this, join(staging, 'incoming'), compression, this.chunksDir);
  }

  private async beginStaging(id: string): Promise<string> {
    const staging = join(this.backupsDir, `.tmp-${id}`);
    try {
      await makeDir(join(staging, 'incoming'));
      await makeDir(this.chunksDir);
    } catch (error) {
      throw locationError(error, this.subject, this.root, 'write the backup to');
    }
    await this.checkFormat(true).catch((error: unknown) => {
      throw locationError(error, this.subject, this.root, 'write the backup to');
    });
    return staging;
  }

  private async commit(
    staging: string,
    store: ChunkWriter,
    draft: Omit<Manifest, 'format' | 'finishedAt' | 'checksum'>,
  ): Promise<Manifest> {
    try {
      await store.flush();
      const body = { format: MANIFEST_FORMAT, ...draft, finishedAt: this.clock().toISOString() } as const;
      const manifest: Manifest = { ...body, checksum: sha256Of(JSON.stringify(body)) };
      const manifestFile = join(staging, 'manifest.json');
      await writeFile(manifestFile, JSON.stringify(manifest), { flag: 'wx' });
      await rm(join(staging, 'incoming'), { recursive: true, force: true });
      await rm(join(staging, 'data'), { recursive: true, force: true });
      // The chunks' renames and the manifest become durable together before the backup is named.
      await syncAll(staging, [manifestFile], [...store.touched, this.chunksDir, staging]);
      const final = join(this.backupsDir, draft.id);
      await rename(staging, final);
      await fsyncDir(this.backupsDir);
      return manifest;
    } catch (error) {
      throw locationError(error, this.subject, this.root, 'write the backup to');
    }
  }

  /** Restore a whole backup as a directory tree at `target`. */
  async restoreTree(id: string | undefined, target: string, options: RestoreOptions): Promise<RestoreResult> {
    const manifest = await this.resolve(id);
    const subject = { component: this.subject.component, site: options.site };
    const current = await inspectTarget(target);
    let replaced = false;
    if (current === 'non-empty') {
      if (options.force !== true) {
        if (await this.treeMatches(target, manifest)) return restoreResult(manifest, target, true, false);
        throw targetNotEmpty(subject, target);
      }
      replaced = true;
    }
    const temp = siblingTemp(target, 'restore');
    try {
      await makeDir(temp);
      for (const directory of manifest.directories) await mkdir(join(temp, directory), { recursive: true });
      await mapPool(manifest.entries, CONCURRENCY, async (entry) => {
        if (options.signal?.aborted === true) throw cancelled(subject, 'the restore');
        await this.restoreEntry(entry, join(temp, entry.path), subject, false);
      });
      // Synced together, after all are written: one journal commit per file would bound the restore.
      await syncAll(
        temp,
        manifest.entries.filter((entry) => entry.type === 'file').map((entry) => join(temp, entry.path)),
        [...manifest.directories.map((directory) => join(temp, directory)), temp],
      );
      await swapInto(temp, target, current !== 'missing');
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw locationError(error, subject, target, 'restore into');
    }
    return restoreResult(manifest, target, false, replaced);
  }

  /** Restore one file of a backup (a database) to the file `target`. */
  async restoreFile(
    id: string | undefined,
    target: string,
    options: RestoreOptions & {
      entry?: string;
      /** Runs after the new file is complete, just before it is renamed over the target. */
      beforeReplace?: () => Promise<void>;
    },
  ): Promise<RestoreResult> {
    const manifest = await this.resolve(id);
    const subject = { component: this.subject.component, site: options.site };
    const entry =
      options.entry === undefined
        ? manifest.entries[0]
        : manifest.entries.find((e) => e.path === options.entry);
    if (entry === undefined) {
      throw new DrctlError(
        BACKUP_ERRORS.NOT_FOUND,
        `${describe(this.subject)}: backup "${manifest.id}" holds no file ${options.entry ?? ''}`,
        {
          hint: 'Check the backup id: it may belong to another provider or component.',
        },
      );
    }
    let replaced = false;
    const existing = await lstat(target).catch(() => undefined);
    if (existing !== undefined && (existing.isDirectory() || existing.size > 0)) {
      if (options.force !== true) {
        if (existing.isFile() && (await this.fileMatches(target, entry))) {
          return { ...restoreResult(manifest, target, true, false), files: 1, bytes: entry.size };
        }
        throw targetNotEmpty(subject, target);
      }
      replaced = true;
    }
    const temp = siblingTemp(target, 'restore');
    try {
      await makeDir(dirname(target));
      await this.restoreEntry(entry, temp, subject, true);
      await options.beforeReplace?.();
      await rename(temp, target);
      await fsyncDir(dirname(target));
    } catch (error) {
      await rm(temp, { force: true });
      throw locationError(error, subject, target, 'restore into');
    }
    return { ...restoreResult(manifest, target, false, replaced), files: 1, bytes: entry.size };
  }

  private async restoreEntry(
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
      if (entry.chunks === undefined) await this.copyBlob(entry, output, subject);
      else {
        const chunks = entry.chunks;
        // Restoring is reading the backup, so it verifies on the way: a damaged chunk never lands unnoticed.
        const read = (index: number): Promise<Buffer> | undefined => {
          const ref = chunks[index];
          if (ref === undefined) return undefined;
          const reading = this.readChunk(ref, entry.path, subject);
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
  private async readChunk(ref: ChunkRef, path: string, subject: Subject): Promise<Buffer> {
    const loaded = await this.loadChunk(ref);
    if (typeof loaded === 'string') throw verifyFailed(subject, this.root, path, loaded);
    return loaded;
  }

  /** A chunk's bytes, or what is wrong with it. */
  private async loadChunk([sha256, size]: ChunkRef): Promise<Buffer | string> {
    const name = `chunk ${sha256.slice(0, 12)}`;
    let stored: Buffer;
    try {
      stored = await readChunkFile(this.chunkPath(sha256), size);
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
  private async copyBlob(entry: ManifestEntry, output: FileHandle, subject: Subject): Promise<void> {
    const sha256 = entry.sha256 ?? '';
    const hash = createHash('sha256');
    const input = await open(this.blobPath(sha256), 'r').catch((error: unknown) => {
      throw verifyFailed(
        subject,
        this.root,
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
        this.root,
        entry.path,
        'its content does not match the SHA-256 in the manifest',
      );
    }
  }

  /** Does a file hold exactly an entry's content? Compared chunk by chunk, so no re-chunking. */
  private async fileMatches(path: string, entry: ManifestEntry): Promise<boolean> {
    const info = await stat(path);
    if (info.size !== entry.size) return false;
    if (entry.chunks === undefined) return (await hashFile(path)) === entry.sha256;
    const handle = await open(path, 'r');
    try {
      let position = 0;
      for (const [sha256, size] of entry.chunks) {
        const buffer = Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(buffer, 0, size, position);
        if (bytesRead !== size || sha256Hex(buffer) !== sha256) return false;
        position += size;
      }
      return true;
    } finally {
      await handle.close();
    }
  }

  /** Does a directory already hold exactly this backup? Makes a repeated restore a no-op, not an error. */
  private async treeMatches(target: string, manifest: Manifest): Promise<boolean> {
    const tree = await walkTree(target);
    if (tree.items.length !== manifest.entries.length) return false;
    const byPath = new Map(tree.items.map((item) => [item.path, item]));
    for (const entry of manifest.entries) {
      const item = byPath.get(entry.path);
      if (item === undefined || item.type !== entry.type) return false;
      if (entry.type === 'symlink') {
        if ((await readlink(item.absolute)) !== entry.target) return false;
      } else if (!(await this.fileMatches(item.absolute, entry))) {
        return false;
      }
    }
    return true;
  }

  /** Re-hash every file of a backup against its manifest; records the result beside the backups. */
  async verify(
    id: string | undefined,
    options: { signal?: AbortSignal; record?: boolean } = {},
  ): Promise<VerifyReport> {
    const at = this.clock().toISOString();
    let manifest: Manifest;
    try {
      manifest = await this.resolve(id);
    } catch (error) {
      if (!(error instanceof DrctlError) || error.code !== BACKUP_ERRORS.MANIFEST_INVALID || id === undefined)
        throw error;
      const report: VerifyReport = {
        backup: id,
        ok: false,
        at,
        files: 0,
        bytes: 0,
        problems: [{ path: 'manifest.json', reason: error.message }],
      };
      if (options.record !== false) await this.recordVerification(report);
      return report;
    }
    const problems: VerifyProblem[] = [];
    let bytes = 0;
    // A chunk shared by several files (or several times by one) is read once.
    const checked = new Map<string, Promise<string | undefined>>();
    const checkChunk = (ref: ChunkRef): Promise<string | undefined> => {
      let result = checked.get(ref[0]);
      if (result === undefined) {
        result = this.loadChunk(ref).then((loaded) => {
          if (typeof loaded === 'string') return loaded;
          bytes += loaded.length;
          return undefined;
        });
        checked.set(ref[0], result);
      }
      return result;
    };
    await mapPool(manifest.entries, CONCURRENCY, async (entry) => {
      if (options.signal?.aborted === true) throw cancelled(this.subject, 'the verification');
      if (entry.type === 'symlink') {
        if (entry.sha256 !== undefined && sha256Of(entry.target ?? '') !== entry.sha256)
          problems.push({ path: entry.path, reason: 'link target does not match its hash' });
        return;
      }
      if (entry.chunks !== undefined) {
        const total = entry.chunks.reduce((sum, [, size]) => sum + size, 0);
        if (total !== entry.size) {
          problems.push({
            path: entry.path,
            reason: `chunks hold ${total} bytes, manifest says ${entry.size}`,
          });
          return;
        }
        for (const ref of entry.chunks) {
          const reason = await checkChunk(ref);
          if (reason !== undefined) {
            problems.push({ path: entry.path, reason });
            return;
          }
        }
        return;
      }
      const sha = entry.sha256 ?? '';
      try {
        const { sha256, size } = await hashFileWithSize(this.blobPath(sha));
        bytes += size;
        if (size !== entry.size)
          problems.push({ path: entry.path, reason: `size ${size} bytes, manifest says ${entry.size}` });
        else if (sha256 !== sha)
          problems.push({ path: entry.path, reason: 'SHA-256 does not match the manifest' });
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        problems.push({ path: entry.path, reason: `blob ${sha.slice(0, 12)} is missing` });
      }
    });
    // Workers finish out of order; report problems in manifest order so "the first bad file" is stable.
    const order = new Map(manifest.entries.map((entry, index) => [entry.path, index]));
    problems.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
    const report: VerifyReport = {
      backup: manifest.id,
      ok: problems.length === 0,
      at,
      files: manifest.entries.length,
      bytes,
      problems,
    };
    if (options.record !== false) await this.recordVerification(report);
    return report;
  }

  /** Keep a verification's result with the backups, so readiness can tell how long ago one passed. */
  async recordVerification(report: VerifyReport): Promise<boolean> {
    const dir = join(this.root, 'verifications');
    try {
      await mkdir(dir, { recursive: true });
      await writeAtomically(join(dir, `${report.backup}.json`), JSON.stringify(report));
      return true;
    } catch {
      // An immutable (read-only) repository can still be verified; it only cannot remember it.
      return false;
    }
  }

  /** The newest passed verification of any backup still in the repository. */
  async lastVerification(): Promise<VerifyReport | undefined> {
    const dir = join(this.root, 'verifications');
    const names = await readdir(dir).catch(() => [] as string[]);
    let newest: VerifyReport | undefined;
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const report = JSON.parse(await readFile(join(dir, name), 'utf8')) as VerifyReport;
      if (report.ok && (newest === undefined || report.at > newest.at)) newest = report;
    }
    return newest;
  }

  /** Apply a retention policy; a dry run reports the same decisions and frees nothing. */
  async prune(policy: Retention, options: PruneOptions = {}): Promise<PruneReport> {
    const dryRun = options.dryRun === true;
    const run = async (): Promise<PruneReport> => {
      const manifests = await this.list();
      const decisions = applyRetention(
        manifests.map((manifest) => ({ id: manifest.id, time: new Date(manifest.startedAt) })),
        policy,
      );
      const kept = new Set(decisions.filter((d) => d.keep).map((d) => d.id));
      const pruned = decisions.filter((d) => !d.keep).map((d) => d.id);
      const referenced = new Set<string>();
      const referencedBlobs = new Set<string>();
      for (const manifest of manifests) {
        if (!kept.has(manifest.id)) continue;
        for (const entry of manifest.entries) {
          if (entry.type !== 'file') continue;
          for (const [sha256] of entry.chunks ?? []) referenced.add(sha256);
          if (entry.sha256 !== undefined) referencedBlobs.add(entry.sha256);
        }
      }
      const incomplete = (await readdir(this.backupsDir).catch(() => [] as string[])).filter((name) =>
        name.startsWith('.'),
      );
      if (!dryRun) {
        for (const id of pruned) {
          // Rename first: a prune killed half-way leaves a hidden directory, never a half-deleted backup.
          const trash = join(this.backupsDir, `.trash-${id}`);
          await rename(join(this.backupsDir, id), trash);
          await rm(trash, { recursive: true, force: true });
          await rm(join(this.root, 'verifications', `${id}.json`), { force: true });
        }
        for (const name of incomplete)
          await rm(join(this.backupsDir, name), { recursive: true, force: true });
        await fsyncDir(this.backupsDir).catch(() => undefined);
      }
      let blobsRemoved = 0;
      let bytesFreed = 0;
      const damaged = [...this.damaged];
      // A damaged manifest cannot say which chunks it needs, so nothing is collected while one exists.
      if (damaged.length === 0)
        for (const [dir, keep] of [
          [this.chunksDir, referenced],
          [this.blobsDir, referencedBlobs],
        ] as const)
          for await (const blob of listBlobs(dir)) {
            if (keep.has(blob.sha256)) continue;
            blobsRemoved += 1;
            bytesFreed += blob.size;
            if (!dryRun) await unlink(blob.path);
          }
      return {
        dryRun,
        policy,
        decisions,
        kept: [...kept],
        pruned,
        blobsRemoved,
        bytesFreed,
        incomplete,
        damaged,
      };
    };
    try {
      return dryRun ? await run() : await this.withLock('prune', run);
    } catch (error) {
      throw locationError(error, this.subject, this.root, 'prune');
    }
  }

  private async resolve(id: string | undefined): Promise<Manifest> {
    if (id !== undefined) {
      await this.checkFormat(false);
      return this.manifest(id);
    }
    const newest = await this.newest();
    if (newest === undefined) {
      throw new DrctlError(BACKUP_ERRORS.NOT_FOUND, `${describe(this.subject)}: no backup in ${this.root}`, {
        hint: 'Take a backup first (files.backup or sqlite.backup), or check the backup policy path.',
        details: { repository: this.root },
      });
    }
    return newest;
  }

  /**
   * One writer at a time. A lock whose process is gone (killed mid-backup) is taken over, and since no
   * one else can be writing then, staging directories of interrupted backups are removed.
   */
  private async withLock<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const file = join(this.root, 'lock');
    try {
      await makeDir(this.root);
    } catch (error) {
      throw locationError(error, this.subject, this.root, 'create the backup repository');
    }
    const info: LockInfo = { pid: process.pid, host: hostname(), operation, at: new Date().toISOString() };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await writeFileExclusive(file, JSON.stringify(info));
        break;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw locationError(error, this.subject, this.root, 'lock');
        const holder = await readLock(file);
        if (attempt >= 3 || !(await isStale(file, holder))) {
          const who =
            holder === undefined
              ? 'another process'
              : `${holder.operation} by pid ${holder.pid} on ${holder.host} since ${holder.at}`;
          throw new DrctlError(
            BACKUP_ERRORS.LOCKED,
            `${describe(this.subject)}: the repository ${this.root} is busy (${who})`,
            {
              hint: 'Wait for the other backup or prune to finish. If that process is gone on another host, remove the lock file by hand.',
              details: { repository: this.root, holder },
            },
          );
        }
        await rm(file, { force: true });
      }
    }
    try {
      const names = await readdir(this.backupsDir).catch(() => [] as string[]);
      for (const name of names)
        if (name.startsWith('.')) await rm(join(this.backupsDir, name), { recursive: true, force: true });
      return await work();
    } finally {
      await rm(file, { force: true });
    }
  }
}

/** Writes chunks into the store: staged under the backup's own directory, renamed into place when new. */
class ChunkWriter {
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
  private readonly repository: BackupRepository;
  private readonly incoming: string;
  private readonly compression: Compression;

  /** No chunk in the repository yet (a first backup): nothing to look up before writing one. */
  private readonly empty: Promise<boolean>;

  constructor(repository: BackupRepository, incoming: string, compression: Compression, chunksDir: string) {
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

interface TreeItem {
  path: string;
  absolute: string;
  type: 'file' | 'symlink';
  stat: { size: number; mode: number; mtimeMs: number; ctimeMs: number; ino: number };
}

async function walkTree(
  root: string,
): Promise<{ directories: string[]; items: TreeItem[]; skipped: string[] }> {
  const directories: string[] = [];
  const items: TreeItem[] = [];
  const skipped: string[] = [];
  type Node = { path: string; absolute: string; info: Stats };
  // A directory's entries are lstat'ed together (one round trip each through the thread pool would
  // bound an incremental backup), then visited in name order, so the listing never depends on timing.
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    const nodes: Node[] = await mapPool(names, 64, async (name) => {
      const absolute = join(dir, name);
      return { path: relative(root, absolute).split(sep).join('/'), absolute, info: await lstat(absolute) };
    });
    for (const { path, absolute, info } of nodes) {
      if (info.isDirectory()) {
        directories.push(path);
        await visit(absolute);
      } else if (info.isFile() || info.isSymbolicLink()) {
        items.push({
          path,
          absolute,
          type: info.isFile() ? 'file' : 'symlink',
          stat: {
            size: info.size,
            mode: info.mode,
            mtimeMs: info.mtimeMs,
            ctimeMs: info.ctimeMs,
            ino: info.ino,
          },
        });
      } else {
        skipped.push(path);
      }
    }
  };
  await visit(root);
  return { directories, items, skipped };
}

async function* listBlobs(dir: string): AsyncGenerator<{ path: string; sha256: string; size: number }> {
  let shards;
  try {
    shards = await opendir(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  for await (const shard of shards) {
    if (!shard.isDirectory()) continue;
    for (const name of await readdir(join(dir, shard.name))) {
      const path = join(dir, shard.name, name);
      yield { path, sha256: name, size: (await stat(path)).size };
    }
  }
}

function fileEntry(item: TreeItem): ManifestEntry {
  return {
    path: item.path,
    type: item.type,
    size: item.stat.size,
    mode: item.stat.mode & 0o7777,
    mtimeMs: item.stat.mtimeMs,
    ino: item.stat.ino,
    ctimeMs: item.stat.ctimeMs,
  };
}

function statsOf(entries: ManifestEntry[], store: ChunkWriter, skipped: string[]): BackupStats {
  return {
    files: entries.length,
    bytes: entries.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0),
    copiedFiles: store.copiedFiles,
    copiedBytes: store.copiedBytes,
    storedBytes: store.storedBytes,
    unchangedFiles: store.unchanged,
    skipped,
  };
}

function restoreResult(
  manifest: Manifest,
  target: string,
  alreadyRestored: boolean,
  replaced: boolean,
): RestoreResult {
  return {
    backup: manifest.id,
    target,
    files: manifest.entries.length,
    bytes: manifest.stats.bytes,
    alreadyRestored,
    replaced,
  };
}

async function inspectTarget(target: string): Promise<'missing' | 'empty' | 'non-empty'> {
  try {
    const info = await lstat(target);
    if (!info.isDirectory()) return 'non-empty';
    return (await readdir(target)).length === 0 ? 'empty' : 'non-empty';
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'missing';
    throw error;
  }
}

/** Put a fully written temporary directory where the target is, moving the old target aside first. */
async function swapInto(temp: string, target: string, targetExists: boolean): Promise<void> {
  if (!targetExists) {
    await rename(temp, target);
  } else {
    const old = siblingTemp(target, 'replaced');
    await rename(target, old);
    await rename(temp, target);
    await rm(old, { recursive: true, force: true });
  }
  await fsyncDir(dirname(target));
}

function siblingTemp(target: string, what: string): string {
  return join(dirname(target), `.${basename(target)}.drctl-${what}-${randomBytes(4).toString('hex')}`);
}

function targetNotEmpty(subject: Subject, target: string): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.RESTORE_TARGET_NOT_EMPTY,
    `${describe(subject)}: restore target ${target} already holds data`,
    {
      hint: 'Restore to an empty or new path, or pass force: true to replace what is there (it is moved aside and removed only after the restore completes).',
      details: { target },
    },
  );
}

function sourceMissing(
  subject: Subject,
  source: string,
  cause: unknown,
  why = 'does not exist or cannot be read',
): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.SOURCE_MISSING,
    `${describe(subject)}: backup source ${source} ${why}`,
    {
      hint: "Check the component's placement path at that site, or pass source explicitly.",
      details: { source },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export function verifyFailed(
  subject: Subject,
  repository: string,
  path: string,
  why: string,
  cause?: unknown,
): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.VERIFY_FAILED,
    `${describe(subject)}: backup file ${path} is damaged: ${why}`,
    {
      hint: 'Do not trust this backup: restore an older one that verifies, take a new backup, and check the storage at the backup site.',
      details: { repository, file: path },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function backupId(time: Date): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function hashFile(path: string): Promise<string> {
  return (await hashFileWithSize(path)).sha256;
}

async function hashFileWithSize(path: string): Promise<{ sha256: string; size: number }> {
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
async function makeDir(path: string): Promise<void> {
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

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A stored chunk: its decoded size plus the header byte is the most it can hold (a compressed one holds
 * less), so one read into a buffer one byte larger returns all of it and shows the end.
 */
async function readChunkFile(path: string, size: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readWhole(handle, size + 1);
  } finally {
    await handle.close();
  }
}

/** A file's bytes read with as few calls as its size allows; one that grew is read to its end. */
async function readWhole(handle: FileHandle, size: number): Promise<Buffer> {
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
async function writeAll(handle: FileHandle, ...pieces: Buffer[]): Promise<void> {
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

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeDurably(temp, text);
  await rename(temp, path);
}

async function writeFileExclusive(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * A lock is stale when it was taken on this host by a process that no longer exists. A lock file that
 * cannot be read was left by a crash between creating and writing it, unless it is brand new.
 */
async function isStale(file: string, lock: LockInfo | undefined): Promise<boolean> {
  if (lock === undefined) {
    const info = await stat(file).catch(() => undefined);
    return info === undefined || Date.now() - info.mtimeMs > 60_000;
  }
  if (lock.host !== hostname()) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
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
