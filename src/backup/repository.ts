/**
 * The backup repository both the files and the SQLite providers write to: one directory at the backup
 * site per component, laid out as
 *
 *   repository.json              {"format": 3, "chunker": …}: which format this drctl writes here
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
 * and pruning as before; the first new backup into such a repository writes format 3 and reads every
 * file once more, since no chunk of it is known yet. Format 2 differs from 3 only in compressing with
 * Brotli where 3 uses deflate (chunks.ts); its chunks are shared with new backups as they are. A repository or manifest of a newer format is
 * refused with DRCTL_BACKUP_FORMAT_UNSUPPORTED rather than misread.
 *
 * Beside this file: manifest.ts (what a backup records), chunk-writer.ts (storing new chunks),
 * content.ts (reading them back, checked), tree.ts (source and target trees), lock.ts (one writer).
 */
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DrctlError } from '../errors.ts';
import { localExecutor } from '../exec/index.ts';
import type { Retention } from '../plan/model.ts';
import { CHUNKER } from './chunker.ts';
import { chunkPathIn } from './chunks.ts';
import type { Compression } from './chunks.ts';
import { ChunkWriter } from './chunk-writer.ts';
import { fsyncDir, syncAll } from './durable.ts';
import {
  BACKUP_ERRORS,
  cancelled,
  describe,
  isErrno,
  locationError,
  sourceMissing,
  targetNotEmpty,
} from './errors.ts';
import type { Subject } from './errors.ts';
import { hashFileWithSize, makeDir, mapPool, sha256Of, writeAtomically } from './io.ts';
import { checkChunks, restoreEntries, restoreEntry } from './content.ts';
import { HostRepository } from './host-repository.ts';
import { localLockFile, withLock } from './lock.ts';
import {
  backupId,
  byStart,
  formatUnsupported,
  noBackup,
  parseManifest,
  repositoryFormat,
  restoreResult,
} from './manifest-read.ts';
import { MANIFEST_FORMAT } from './manifest.ts';
import type {
  BackupOptions,
  BackupStats,
  Manifest,
  ManifestEntry,
  PruneOptions,
  PruneReport,
  ProducedBackupOptions,
  Repository,
  RepositoryOptions,
  RestoreFileOptions,
  RestoreOptions,
  RestoreResult,
  VerifyReport,
} from './manifest.ts';
import { newestPassed, retentionPlan, verifyBackup } from './assess.ts';
import type { VerifyPlan } from './assess.ts';
import {
  fileEntry,
  fileMatches,
  inspectTarget,
  listBlobs,
  siblingTemp,
  swapInto,
  treeMatches,
  walkTree,
} from './tree.ts';
import type { TreeItem } from './tree.ts';

/** Files read, chunked and written at once: enough to keep the thread pool and the disk busy. */
const CONCURRENCY = 8;

export class BackupRepository implements Repository {
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
    return chunkPathIn(this.chunksDir, sha256);
  }

  /** The files in the repository holding an entry's content, in order. */
  contentPaths(entry: ManifestEntry): string[] {
    if (entry.chunks !== undefined) return entry.chunks.map(([sha256]) => this.chunkPath(sha256));
    return entry.type === 'file' && entry.sha256 !== undefined ? [this.blobPath(entry.sha256)] : [];
  }

  /**
   * Refuse a repository a newer drctl wrote; record the format on the first backup. A repository
   * without repository.json is of format 1 (or new). One of format 2 is marked format 3 before a backup
   * adds chunks a drctl of format 2 could not decode, so that drctl refuses it instead of calling them
   * damaged.
   */
  private async checkFormat(write: boolean): Promise<void> {
    const file = join(this.root, 'repository.json');
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw formatUnsupported(this, `${file} cannot be read`, error);
    }
    const format = repositoryFormat(this, text);
    if (write && format !== MANIFEST_FORMAT)
      await writeAtomically(file, JSON.stringify({ format: MANIFEST_FORMAT, chunker: CHUNKER }));
  }

  /** For messages: the repository's path. */
  get where(): string {
    return this.root;
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
    return manifests.sort(byStart);
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
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw noBackup(this, id, error);
      throw error;
    }
    return parseManifest(this, id, text);
  }

  /** Back up a directory tree, storing only chunks the repository does not hold yet. */
  async backupDirectory(source: string, options: BackupOptions): Promise<Manifest> {
    if (options.from?.host !== undefined) return this.overExec().backupDirectory(source, options);
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
      const captured = await this.captureAll(tree.items, previous, store, subject, options);
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
      const captured = await this.captureAll(tree.items, new Map(), store, this.subject, {
        ...options,
        rehash: true,
      });
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

  /**
   * The manifest entry of each item, in order: a symlink's target; a file unchanged since its entry in
   * `previous`, from the listing alone; every other file read and stored. Undefined where a file
   * vanished between listing and reading.
   */
  private async captureAll(
    items: readonly TreeItem[],
    previous: ReadonlyMap<string, ManifestEntry>,
    store: ChunkWriter,
    subject: Subject,
    options: BackupOptions,
  ): Promise<(ManifestEntry | undefined)[]> {
    const captured = new Array<ManifestEntry | undefined>(items.length);
    let done = 0;
    const progress = (path: string): void => {
      done += 1;
      void options.onProgress?.({ done, total: items.length, path });
    };
    const reads: number[] = [];
    for (const [index, item] of items.entries()) {
      if (item.type === 'symlink') {
        const target = await readlink(item.absolute);
        captured[index] = { ...fileEntry(item), type: 'symlink', target, size: Buffer.byteLength(target) };
        progress(item.path);
        continue;
      }
      // A chunk the parent names is not stat'ed: prune never removes it while the parent exists, and a
      // chunk lost to the disk is what verify finds; `rehash` then stores it again.
      const before = previous.get(item.path);
      const chunks = before?.type === 'file' ? before.chunks : undefined;
      const unchanged =
        options.rehash !== true &&
        chunks !== undefined &&
        before?.size === item.stat.size &&
        before.mtimeMs === item.stat.mtimeMs &&
        before.ctimeMs === item.stat.ctimeMs &&
        before.ino === item.stat.ino;
      if (unchanged) {
        store.unchanged += 1;
        captured[index] = { ...fileEntry(item), chunks };
        progress(item.path);
      } else reads.push(index);
    }
    const toRead = reads.map((index) => items[index] as TreeItem);
    const contents = await store.storeFiles(toRead, {
      onFile: progress,
      cancelled: () => {
        if (options.signal?.aborted === true) throw cancelled(subject, 'the backup');
      },
    });
    reads.forEach((index, position) => {
      const content = contents[position];
      if (content !== undefined) captured[index] = { ...fileEntry(items[index] as TreeItem), ...content };
    });
    return captured;
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
    if (options.to?.host !== undefined) return this.overExec().restoreTree(id, target, options);
    const manifest = await this.resolve(id);
    const subject = { component: this.subject.component, site: options.site };
    const current = await inspectTarget(target);
    let replaced = false;
    if (current === 'non-empty') {
      if (options.force !== true) {
        if (await treeMatches(target, manifest)) return restoreResult(manifest, target, true, false);
        throw targetNotEmpty(subject, target);
      }
      replaced = true;
    }
    const temp = siblingTemp(target, 'restore');
    try {
      await makeDir(temp);
      for (const directory of manifest.directories) await mkdir(join(temp, directory), { recursive: true });
      await restoreEntries(this, manifest.entries, temp, subject, options.signal);
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
    options: RestoreFileOptions,
  ): Promise<RestoreResult> {
    if (options.to?.host !== undefined) return this.overExec().restoreFile(id, target, options);
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
        if (existing.isFile() && (await fileMatches(target, entry))) {
          return { ...restoreResult(manifest, target, true, false), files: 1, bytes: entry.size };
        }
        throw targetNotEmpty(subject, target);
      }
      replaced = true;
    }
    const temp = siblingTemp(target, 'restore');
    try {
      await makeDir(dirname(target));
      await restoreEntry(this, entry, temp, subject, true);
      for (const suffix of options.removeBeside ?? []) await rm(`${target}${suffix}`, { force: true });
      await rename(temp, target);
      await fsyncDir(dirname(target));
    } catch (error) {
      await rm(temp, { force: true });
      throw locationError(error, subject, target, 'restore into');
    }
    return { ...restoreResult(manifest, target, false, replaced), files: 1, bytes: entry.size };
  }

  /** Re-hash every file of a backup against its manifest; records the result beside the backups. */
  async verify(
    id: string | undefined,
    options: { signal?: AbortSignal; record?: boolean } = {},
  ): Promise<VerifyReport> {
    return verifyBackup(
      {
        resolve: (backup) => this.resolve(backup),
        recordVerification: (report) => this.recordVerification(report),
        check: (_, plan) => this.checkStored(plan, options.signal),
      },
      id,
      this.clock().toISOString(),
      options.record !== false,
    );
  }

  /** Read every chunk of a verification once (on the worker threads), and each format 1 blob. */
  private async checkStored(
    plan: VerifyPlan,
    signal: AbortSignal | undefined,
  ): Promise<{ problems: ReadonlyMap<string, string>; bytes: number }> {
    const checked = await checkChunks(this, plan.unique, this.subject, signal);
    let bytes = checked.bytes;
    await mapPool(plan.legacy, CONCURRENCY, async (entry) => {
      if (signal?.aborted === true) throw cancelled(this.subject, 'the verification');
      const sha = entry.sha256 ?? '';
      try {
        const { sha256, size } = await hashFileWithSize(this.blobPath(sha));
        bytes += size;
        if (size !== entry.size)
          plan.problems.push({ path: entry.path, reason: `size ${size} bytes, manifest says ${entry.size}` });
        else if (sha256 !== sha)
          plan.problems.push({ path: entry.path, reason: 'SHA-256 does not match the manifest' });
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        plan.problems.push({ path: entry.path, reason: `blob ${sha.slice(0, 12)} is missing` });
      }
    });
    return { problems: checked.problems, bytes };
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
    const reports = names.filter((name) => name.endsWith('.json'));
    return newestPassed(await Promise.all(reports.map((name) => readFile(join(dir, name), 'utf8'))));
  }

  /** Apply a retention policy; a dry run reports the same decisions and frees nothing. */
  async prune(policy: Retention, options: PruneOptions = {}): Promise<PruneReport> {
    const dryRun = options.dryRun === true;
    const run = async (): Promise<PruneReport> => {
      const { decisions, kept, pruned, referenced, referencedBlobs } = retentionPlan(
        await this.list(),
        policy,
      );
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
        kept,
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
    if (newest === undefined) throw noBackup(this, undefined);
    return newest;
  }

  /** This repository driven through the execution layer, for a source or target on a host. */
  private overExec(): HostRepository {
    return new HostRepository(localExecutor, this.root, { subject: this.subject, clock: this.clock });
  }

  /**
   * One writer at a time. A lock whose process is gone (killed mid-backup) is taken over, and since no
   * one else can be writing then, staging directories of interrupted backups are removed.
   */
  private withLock<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return withLock(localLockFile(this.root, this.subject), this.subject, operation, work);
  }
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
