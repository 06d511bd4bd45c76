/**
 * What a backup repository holds, as data: the manifest of one backup (its files and the chunks of
 * each) and what the repository's operations take and report. repository.ts describes the layout.
 */
import type { Executor } from '../exec/index.ts';
import type { Retention } from '../plan/model.ts';
import type { Compression } from './chunks.ts';
import type { Subject } from './errors.ts';
import type { RetentionDecision } from './retention.ts';

/**
 * The format this code writes; it reads every format from 1 up to this one. 1: whole files under blobs/;
 * 2: chunks, compressed with Brotli; 3: chunks, compressed with deflate (or Brotli, by `max`).
 */
export const MANIFEST_FORMAT = 3;
export const LEGACY_FORMAT = 1;
/** The first format of chunks: a repository of format 2 gets new chunks and is marked format 3. */
export const CHUNKED_FORMAT = 2;

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
  /** 3 or 2 (chunks) or 1 (whole files under blobs/, read only). */
  format: typeof MANIFEST_FORMAT | typeof CHUNKED_FORMAT | typeof LEGACY_FORMAT;
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
  /** 0 when not known in advance (a tree streamed from a host is counted as it arrives). */
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
  /** Called as each file is stored; a backup streamed from a host waits for a promise it returns. */
  onProgress?: (progress: Progress) => void | Promise<void>;
  meta?: Record<string, unknown>;
  /** Where the source is: a host's executor. @default this machine */
  from?: Executor;
  /** What the manifest records as the source. @default the source path */
  sourceName?: string;
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
  /** Where the target is: a host's executor. @default this machine */
  to?: Executor;
}

export interface RestoreFileOptions extends RestoreOptions {
  /** The entry to restore. @default the backup's first */
  entry?: string;
  /** Suffixes of files beside the target removed just before the new file replaces it (a database's -wal). */
  removeBeside?: readonly string[];
}

/**
 * A backup repository, on this machine (repository.ts) or on a host (host-repository.ts): what the
 * providers and readiness use, wherever it is.
 */
export interface Repository {
  readonly root: string;
  /** For messages and evidence: the path, with its host when on one. */
  readonly where: string;
  /** Backups whose manifest failed its checksum at the last `list()`. */
  readonly damaged: readonly string[];
  list(): Promise<Manifest[]>;
  newest(kind?: string): Promise<Manifest | undefined>;
  manifest(id: string): Promise<Manifest>;
  backupDirectory(source: string, options: BackupOptions): Promise<Manifest>;
  backupProduced(options: ProducedBackupOptions): Promise<Manifest>;
  restoreTree(id: string | undefined, target: string, options: RestoreOptions): Promise<RestoreResult>;
  restoreFile(id: string | undefined, target: string, options: RestoreFileOptions): Promise<RestoreResult>;
  verify(id: string | undefined, options?: { signal?: AbortSignal; record?: boolean }): Promise<VerifyReport>;
  recordVerification(report: VerifyReport): Promise<boolean>;
  lastVerification(): Promise<VerifyReport | undefined>;
  prune(policy: Retention, options?: PruneOptions): Promise<PruneReport>;
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
  /** When the restored backup was taken: what the restored data is current to (ISO 8601). */
  dataAsOf: string;
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
