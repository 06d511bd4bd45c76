/**
 * The backup repository both the files and the SQLite providers write to: one directory at the backup
 * site per component, laid out as
 *
 *   blobs/ab/ab12…   file contents, named by their SHA-256, shared by every backup
 *   backups/<id>/manifest.json   one directory per complete backup
 *   backups/.tmp-<id>/           a backup being written (never listed)
 *   verifications/<id>.json      the latest verification of a backup
 *   lock                         held by the one backup or prune running (restores and verifications read without it)
 *
 * Contents are addressed by hash so an incremental backup copies a file only when its bytes are new
 * anywhere in the repository (a renamed or duplicated file costs nothing), every backup is still a full
 * listing that restores on its own (no chain of incrementals to replay, so pruning any backup is safe),
 * and verification is a re-hash of each blob against its name.
 *
 * A backup becomes visible only by the rename of its staging directory, after every blob and the
 * manifest are fsynced: a crash at any point leaves either the previous set of backups or the new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
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
  utimes,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { DrctlError } from '../../errors.ts';
import type { Retention } from '../../plan/model.ts';
import { BACKUP_ERRORS, cancelled, describe, isErrno, locationError } from './errors.ts';
import type { Subject } from './errors.ts';
import { fsyncDir, syncAll } from './durable.ts';
import { applyRetention } from './retention.ts';
import type { RetentionDecision } from './retention.ts';

export const MANIFEST_FORMAT = 1;
const CHUNK = 1 << 20;
/** Files hashed and copied at once; I/O bound, so a few more than the cores keeps the disk busy. */
const CONCURRENCY = 4;

export interface ManifestEntry {
  /** Relative to the backed-up root, `/`-separated. */
  path: string;
  type: 'file' | 'symlink';
  size: number;
  mode: number;
  mtimeMs: number;
  /** SHA-256 of the content (of the link text for a symlink); names the blob. */
  sha256: string;
  /** Link text, for symlinks. */
  target?: string;
  /** Source-side identity, only used to skip re-reading an unchanged file on the next backup. */
  ino?: number;
  ctimeMs?: number;
}

export interface BackupStats {
  files: number;
  bytes: number;
  /** Files whose content was new to the repository and was written to it. */
  copiedFiles: number;
  copiedBytes: number;
  /** Files not re-read because size, times and inode matched the parent backup. */
  unchangedFiles: number;
  /** Sockets, FIFOs and devices: not backed up. */
  skipped: string[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
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
  /** Blobs no kept backup references, removed (or that would be). */
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

  blobPath(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  /** Every complete backup, oldest first. A directory without a readable manifest is not a backup. */
  async list(): Promise<Manifest[]> {
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
    if (parsed.format !== MANIFEST_FORMAT) throw invalid(`unknown format ${String(parsed.format)}`);
    return parsed;
  }

  /** Back up a directory tree, copying only files whose content the repository does not hold yet. */
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
      const store = new BlobWriter(this, join(staging, 'incoming'));
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

  /** Back up what `produce` writes into a staging directory; its files are moved, not copied. */
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
      const store = new BlobWriter(this, join(staging, 'incoming'));
      const entries = await mapPool(tree.items, CONCURRENCY, async (item) => {
        const sha256 = await store.adopt(item.absolute);
        return fileEntry(item, sha256);
      });
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
    store: BlobWriter,
    rehash: boolean,
  ): Promise<ManifestEntry | undefined> {
    if (item.type === 'symlink') {
      const target = await readlink(item.absolute);
      return {
        ...fileEntry(item, sha256Of(target)),
        type: 'symlink',
        target,
        size: Buffer.byteLength(target),
      };
    }
    const unchanged =
      !rehash &&
      before !== undefined &&
      before.type === 'file' &&
      before.size === item.stat.size &&
      before.mtimeMs === item.stat.mtimeMs &&
      before.ctimeMs === item.stat.ctimeMs &&
      before.ino === item.stat.ino &&
      (await exists(this.blobPath(before.sha256)));
    if (unchanged) {
      store.unchanged += 1;
      return fileEntry(item, before.sha256);
    }
    const sha256 = await store.copy(item.absolute);
    return sha256 === undefined ? undefined : fileEntry(item, sha256);
  }

  private async beginStaging(id: string): Promise<string> {
    const staging = join(this.backupsDir, `.tmp-${id}`);
    try {
      await makeDir(join(staging, 'incoming'));
      await makeDir(this.blobsDir);
    } catch (error) {
      throw locationError(error, this.subject, this.root, 'write the backup to');
    }
    return staging;
  }

  private async commit(
    staging: string,
    store: BlobWriter,
    draft: Omit<Manifest, 'format' | 'finishedAt' | 'checksum'>,
  ): Promise<Manifest> {
    try {
      await store.flush();
      const body = { format: MANIFEST_FORMAT, ...draft, finishedAt: this.clock().toISOString() } as const;
      const manifest: Manifest = { ...body, checksum: sha256Of(JSON.stringify(body)) };
      await writeDurably(join(staging, 'manifest.json'), JSON.stringify(manifest));
      await rm(join(staging, 'incoming'), { recursive: true, force: true });
      await rm(join(staging, 'data'), { recursive: true, force: true });
      await fsyncDir(staging);
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
        if (await treeMatches(target, manifest)) return restoreResult(manifest, target, true, false);
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
        if (existing.isFile() && existing.size === entry.size && (await hashFile(target)) === entry.sha256) {
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
    const source = this.blobPath(entry.sha256);
    const hash = createHash('sha256');
    const input = await open(source, 'r').catch((error: unknown) => {
      throw verifyFailed(
        subject,
        this.root,
        entry.path,
        `its content (blob ${entry.sha256.slice(0, 12)}) is missing`,
        error,
      );
    });
    let output: FileHandle | undefined;
    try {
      output = await open(destination, 'wx', entry.mode & 0o7777);
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        await output.write(buffer, 0, bytesRead);
      }
      if (sync) await output.sync();
    } finally {
      await input.close();
      await output?.close();
    }
    // Restoring is reading the backup, so it verifies on the way: a damaged blob never lands unnoticed.
    if (hash.digest('hex') !== entry.sha256) {
      throw verifyFailed(
        subject,
        this.root,
        entry.path,
        'its content does not match the SHA-256 in the manifest',
      );
    }
    await chmod(destination, entry.mode & 0o7777);
    const mtime = new Date(entry.mtimeMs);
    await utimes(destination, mtime, mtime);
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
    await mapPool(manifest.entries, CONCURRENCY, async (entry) => {
      if (options.signal?.aborted === true) throw cancelled(this.subject, 'the verification');
      if (entry.type === 'symlink') {
        if (sha256Of(entry.target ?? '') !== entry.sha256)
          problems.push({ path: entry.path, reason: 'link target does not match its hash' });
        return;
      }
      try {
        const { sha256, size } = await hashFileWithSize(this.blobPath(entry.sha256));
        bytes += size;
        if (size !== entry.size)
          problems.push({ path: entry.path, reason: `size ${size} bytes, manifest says ${entry.size}` });
        else if (sha256 !== entry.sha256)
          problems.push({ path: entry.path, reason: 'SHA-256 does not match the manifest' });
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        problems.push({ path: entry.path, reason: `blob ${entry.sha256.slice(0, 12)} is missing` });
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
      for (const manifest of manifests) {
        if (!kept.has(manifest.id)) continue;
        for (const entry of manifest.entries) if (entry.type === 'file') referenced.add(entry.sha256);
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
      // A damaged manifest cannot say which blobs it needs, so nothing is collected while one exists.
      if (damaged.length === 0)
        for await (const blob of listBlobs(this.blobsDir)) {
          if (referenced.has(blob.sha256)) continue;
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
    if (id !== undefined) return this.manifest(id);
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

/** Writes blobs into the store: staged under the backup's own directory, renamed into place when new. */
class BlobWriter {
  copiedFiles = 0;
  copiedBytes = 0;
  unchanged = 0;
  private readonly touched = new Set<string>();
  /** Copied blobs not yet durable: hash → temporary path. */
  private readonly pending = new Map<string, string>();
  private counter = 0;
  private readonly repository: BackupRepository;
  private readonly incoming: string;

  constructor(repository: BackupRepository, incoming: string) {
    this.repository = repository;
    this.incoming = incoming;
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
   * Copy a file into the store, hashing while copying so each byte is read once. Undefined when the
   * file vanished between listing and reading, as files in a live directory do.
   */
  async copy(path: string): Promise<string | undefined> {
    const temp = join(this.incoming, String((this.counter += 1)));
    const hash = createHash('sha256');
    let input: FileHandle;
    try {
      input = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    let size = 0;
    try {
      const output = await this.write('write the backup to', temp, () => open(temp, 'wx'));
      try {
        const buffer = Buffer.allocUnsafe(CHUNK);
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
          if (bytesRead === 0) break;
          hash.update(buffer.subarray(0, bytesRead));
          await this.write('write the backup to', temp, () => output.write(buffer, 0, bytesRead));
          size += bytesRead;
        }
      } finally {
        await output.close();
      }
    } finally {
      await input.close();
    }
    return this.stage(temp, hash.digest('hex'), size);
  }

  /**
   * Keep a copied file under its temporary name until `flush`: fsyncing there, all at once, lets the
   * file system write them back together instead of one journal commit per file, and a blob only ever
   * gets its final name once durable, so a crash can never leave a truncated file under a valid hash.
   */
  private async stage(temp: string, sha256: string, size: number): Promise<string> {
    if (this.pending.has(sha256) || (await exists(this.repository.blobPath(sha256)))) {
      await unlink(temp);
      return sha256;
    }
    this.pending.set(sha256, temp);
    this.copiedFiles += 1;
    this.copiedBytes += size;
    return sha256;
  }

  /** Move a file already inside the repository into the store. */
  async adopt(path: string): Promise<string> {
    await this.write('write the backup to', path, async () => {
      const handle = await open(path, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    const { sha256, size } = await hashFileWithSize(path);
    return this.place(path, sha256, size);
  }

  private async place(temp: string, sha256: string, size: number): Promise<string> {
    const final = this.repository.blobPath(sha256);
    return this.write('write the backup to', final, async () => {
      if (await exists(final)) {
        await unlink(temp);
        return sha256;
      }
      await makeDir(dirname(final));
      await rename(temp, final);
      this.touched.add(dirname(final));
      this.copiedFiles += 1;
      this.copiedBytes += size;
      return sha256;
    });
  }

  /** Make the renames of new blobs durable before the manifest that names them is written. */
  async flush(): Promise<void> {
    await this.write('write the backup to', this.incoming, () =>
      syncAll(this.incoming, [...this.pending.values()], []),
    );
    await mapPool([...this.pending], 16, async ([sha256, temp]) => {
      const final = this.repository.blobPath(sha256);
      await this.write('write the backup to', temp, async () => {
        await makeDir(dirname(final));
        await rename(temp, final);
      });
      this.touched.add(dirname(final));
    });
    this.pending.clear();
    for (const dir of this.touched) await fsyncDir(dir);
    const first = [...this.touched][0];
    if (first !== undefined) await fsyncDir(dirname(first));
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
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const absolute = join(dir, name);
      const path = relative(root, absolute).split(sep).join('/');
      const info = await lstat(absolute);
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

function fileEntry(item: TreeItem, sha256: string): ManifestEntry {
  return {
    path: item.path,
    type: item.type,
    size: item.stat.size,
    mode: item.stat.mode & 0o7777,
    mtimeMs: item.stat.mtimeMs,
    sha256,
    ino: item.stat.ino,
    ctimeMs: item.stat.ctimeMs,
  };
}

function statsOf(entries: ManifestEntry[], store: BlobWriter, skipped: string[]): BackupStats {
  return {
    files: entries.length,
    bytes: entries.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0),
    copiedFiles: store.copiedFiles,
    copiedBytes: store.copiedBytes,
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

/** Does a directory already hold exactly this backup? Makes a repeated restore a no-op, not an error. */
async function treeMatches(target: string, manifest: Manifest): Promise<boolean> {
  const tree = await walkTree(target);
  if (tree.items.length !== manifest.entries.length) return false;
  const byPath = new Map(tree.items.map((item) => [item.path, item]));
  for (const entry of manifest.entries) {
    const item = byPath.get(entry.path);
    if (item === undefined || item.type !== entry.type) return false;
    if (entry.type === 'symlink') {
      if ((await readlink(item.absolute)) !== entry.target) return false;
    } else if (item.stat.size !== entry.size || (await hashFile(item.absolute)) !== entry.sha256) {
      return false;
    }
  }
  return true;
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
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
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
