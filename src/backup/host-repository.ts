/**
 * drctl's backup repository reached through the execution layer: on a host of the plan (the backup
 * site's storage machine), or on this machine when the data backed up or restored is on a host. The
 * layout and guarantees are repository.ts's, kept with shell commands on the repository's side:
 *
 * - a backup's new chunks and its manifest arrive in one tar unpacked into `backups/.tmp-<id>`; a second
 *   command checks the manifest arrived whole, links the chunks into `chunks/`, syncs, and only then
 *   renames the staging directory to `backups/<id>` (and syncs again). A transfer cut short leaves a
 *   hidden staging directory, removed by the next writer, never a backup that looks complete;
 * - the lock is the same `lock` file, created with the shell's noclobber on the repository's side;
 * - restores and verifications read chunks as one tar and check each against its name on arrival.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { DrctlError } from '../errors.ts';
import { localExecutor, runChecked, shellQuote } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import type { Retention } from '../plan/model.ts';
import { newestPassed, retentionPlan, verifyBackup } from './assess.ts';
import { CHUNKER } from './chunker.ts';
import { BACKUP_ERRORS, cancelled, describe, targetNotEmpty } from './errors.ts';
import type { Subject } from './errors.ts';
import { sha256Of } from './io.ts';
import { sendTree } from './host-backup.ts';
import { besideTarget, holdsExactly, inspectPlace, readChunks, sendFiles } from './host-restore.ts';
import { HostStore, pathWord } from './host-store.ts';
import { unreachable, withLock } from './lock.ts';
import { MANIFEST_FORMAT } from './manifest.ts';
import type {
  BackupOptions,
  Manifest,
  ProducedBackupOptions,
  PruneOptions,
  PruneReport,
  Repository,
  RepositoryOptions,
  RestoreFileOptions,
  RestoreOptions,
  RestoreResult,
  VerifyReport,
} from './manifest.ts';
import {
  backupId,
  byStart,
  noBackup,
  parseManifest,
  repositoryFormat,
  restoreResult,
} from './manifest-read.ts';
import { Transfer } from './transfer.ts';

export class HostRepository implements Repository {
  readonly root: string;
  readonly subject: Subject;
  private readonly store: HostStore;
  private readonly clock: () => Date;
  private damagedIds: string[] = [];

  constructor(executor: Executor, root: string, options: RepositoryOptions) {
    this.root = root;
    this.subject = options.subject;
    this.store = new HostStore(executor, root);
    this.clock = options.clock ?? (() => new Date());
  }

  get where(): string {
    return this.store.where;
  }

  get damaged(): readonly string[] {
    return this.damagedIds;
  }

  /** Every complete backup, oldest first, read in one command. */
  async list(): Promise<Manifest[]> {
    return (await this.read()).manifests;
  }

  private async read(): Promise<{ manifests: Manifest[]; format: number | undefined }> {
    const listing = await this.store.listing();
    const format = repositoryFormat(this, listing.repositoryJson);
    const manifests: Manifest[] = [];
    this.damagedIds = [];
    for (const [id, text] of listing.manifests) {
      try {
        if (text === undefined) throw new DrctlError(BACKUP_ERRORS.MANIFEST_INVALID, 'no manifest');
        manifests.push(parseManifest(this, id, text));
      } catch (error) {
        if (!(error instanceof DrctlError) || error.code !== BACKUP_ERRORS.MANIFEST_INVALID) throw error;
        this.damagedIds.push(id);
      }
    }
    return { manifests: manifests.sort(byStart), format };
  }

  async newest(kind?: string): Promise<Manifest | undefined> {
    return (await this.list()).filter((manifest) => kind === undefined || manifest.kind === kind).at(-1);
  }

  async manifest(id: string): Promise<Manifest> {
    const found = (await this.list()).find((manifest) => manifest.id === id);
    if (found !== undefined) return found;
    if (this.damagedIds.includes(id)) {
      const text = (await this.store.texts(`backups/${shellQuote(id)}/manifest.json`))[0] ?? '';
      return parseManifest(this, id, text);
    }
    throw noBackup(this, id);
  }

  private async resolve(id: string | undefined): Promise<Manifest> {
    if (id !== undefined) return this.manifest(id);
    const newest = await this.newest();
    if (newest === undefined) throw noBackup(this, undefined);
    return newest;
  }

  /** Back up a directory on `options.from` (a host, or this machine), sending only chunks new to the repository. */
  async backupDirectory(source: string, options: BackupOptions): Promise<Manifest> {
    const from = options.from ?? localExecutor;
    const subject = { component: this.subject.component, site: options.site };
    return withLock(this.store.lockFile(), this.subject, 'backup', async () => {
      const startedAt = this.clock();
      const id = backupId(startedAt);
      const { manifests, format } = await this.read();
      const parent = manifests.filter((manifest) => manifest.kind === options.kind).at(-1);
      const known = new Set((await this.store.objects()).map((object) => object.name));
      let manifest: Manifest | undefined;
      const staging = `backups/.tmp-${id}`;
      await sendTree(
        this.store,
        {
          from,
          source,
          staging,
          known,
          compression: options.compression ?? 'auto',
          subject,
          signal: options.signal,
          onProgress: options.onProgress,
        },
        (tree) => {
          const body = {
            format: MANIFEST_FORMAT,
            id,
            kind: options.kind,
            component: this.subject.component,
            site: options.site,
            source: options.sourceName ?? source,
            startedAt: startedAt.toISOString(),
            parent: parent?.id ?? null,
            directories: tree.directories,
            entries: tree.entries,
            stats: {
              files: tree.entries.length,
              bytes: tree.entries.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0),
              ...tree.stats,
            },
            meta: options.meta ?? {},
            finishedAt: this.clock().toISOString(),
          } as const;
          manifest = { ...body, checksum: sha256Of(JSON.stringify(body)) };
          return Buffer.from(JSON.stringify(manifest));
        },
      );
      if (manifest === undefined) throw new Error('the backup ended without a manifest');
      if (options.signal?.aborted === true) throw cancelled(subject, 'the backup');
      await this.commit(staging, id, Buffer.byteLength(JSON.stringify(manifest)), format);
      return manifest;
    });
  }

  /**
   * Make a staged backup the newest: the manifest arrived whole, the chunks are linked into place, all is
   * synced, and then the staging directory is renamed to the backup's id — the one step that publishes it.
   */
  private async commit(
    staging: string,
    id: string,
    manifestBytes: number,
    format: number | undefined,
  ): Promise<void> {
    const st = shellQuote(staging);
    const formatFile = JSON.stringify({ format: MANIFEST_FORMAT, chunker: CHUNKER });
    await this.store.sh(
      [
        `[ "$(wc -c < ${st}/manifest.json)" -eq ${manifestBytes} ] || { echo 'the manifest arrived incomplete' >&2; exit 5; }`,
        // hard links: a chunk appears under its name already whole, and one `cp` merges every shard
        `if [ -d ${st}/incoming ]; then mkdir -p chunks && cp -Rl --remove-destination ${st}/incoming/. chunks/ && rm -rf ${st}/incoming || exit 6; fi`,
        format === MANIFEST_FORMAT
          ? ':'
          : `printf '%s' ${shellQuote(formatFile)} > repository.json.tmp && mv -f repository.json.tmp repository.json`,
        'sync -f . 2>/dev/null || sync',
        `mv ${st} backups/${shellQuote(id)}`,
        'sync -f backups 2>/dev/null || sync',
      ].join('\n'),
      'publishing the backup',
    );
  }

  /** A database's copy made here by `produce`, then backed up as a directory from this machine. */
  async backupProduced(options: ProducedBackupOptions): Promise<Manifest> {
    const dir = await mkdtemp(join(tmpdir(), 'drctl-produced-'));
    try {
      const produced = await options.produce(dir);
      return await this.backupDirectory(dir, {
        ...options,
        from: localExecutor,
        sourceName: produced.source,
        rehash: true,
        meta: { ...options.meta, ...produced.meta },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async restoreTree(id: string | undefined, target: string, options: RestoreOptions): Promise<RestoreResult> {
    const manifest = await this.resolve(id);
    const subject = { component: this.subject.component, site: options.site };
    const place = { executor: options.to ?? localExecutor, path: target };
    const current = await inspectPlace(place);
    if (current === 'non-empty' && options.force !== true) {
      if (await holdsExactly(place, manifest.entries, false, subject, options.signal))
        return restoreResult(manifest, target, true, false);
      throw targetNotEmpty(subject, target);
    }
    const temp = besideTarget(target, 'restore');
    await this.written(place.executor, temp, async () => {
      await sendFiles(
        this.store,
        manifest.entries,
        { executor: place.executor, path: temp },
        {
          subject,
          signal: options.signal,
          directories: manifest.directories,
        },
      );
      const [t, tmp, old] = [pathWord(target), pathWord(temp), pathWord(besideTarget(target, 'replaced'))];
      await runChecked(
        place.executor,
        [
          `sync -f ${tmp} 2>/dev/null || sync`,
          `if [ -e ${t} ]; then mv ${t} ${old} && mv ${tmp} ${t} && rm -rf ${old}; else mv ${tmp} ${t}; fi`,
          `sync -f ${pathWord(posix.dirname(target))} 2>/dev/null || sync`,
        ].join('\n'),
        { what: `putting the restored tree at ${target}` },
      );
    });
    return restoreResult(manifest, target, false, current === 'non-empty');
  }

  async restoreFile(
    id: string | undefined,
    target: string,
    options: RestoreFileOptions,
  ): Promise<RestoreResult> {
    const manifest = await this.resolve(id);
    const subject = { component: this.subject.component, site: options.site };
    const entry =
      options.entry === undefined
        ? manifest.entries[0]
        : manifest.entries.find((e) => e.path === options.entry);
    if (entry === undefined)
      throw new DrctlError(
        BACKUP_ERRORS.NOT_FOUND,
        `${describe(this.subject)}: backup "${manifest.id}" holds no file ${options.entry ?? ''}`,
        { hint: 'Check the backup id: it may belong to another provider or component.' },
      );
    const place = { executor: options.to ?? localExecutor, path: target };
    const result = { ...restoreResult(manifest, target, false, false), files: 1, bytes: entry.size };
    if ((await inspectPlace(place)) === 'non-empty') {
      if (options.force !== true) {
        if (await holdsExactly(place, [entry], true, subject, options.signal))
          return { ...result, alreadyRestored: true };
        throw targetNotEmpty(subject, target);
      }
      result.replaced = true;
    }
    const temp = besideTarget(target, 'restore');
    await this.written(place.executor, temp, async () => {
      await sendFiles(
        this.store,
        [entry],
        { executor: place.executor, path: temp },
        {
          subject,
          signal: options.signal,
          rename: () => 'file',
        },
      );
      const t = pathWord(target);
      const beside = (options.removeBeside ?? []).map((suffix) => pathWord(`${target}${suffix}`));
      await runChecked(
        place.executor,
        [
          `sync -f ${pathWord(temp)} 2>/dev/null || sync`,
          ...(beside.length === 0 ? [] : [`rm -f ${beside.join(' ')}`]),
          `mv -f ${pathWord(`${temp}/file`)} ${t} && rmdir ${pathWord(temp)}`,
          `sync -f ${pathWord(posix.dirname(target))} 2>/dev/null || sync`,
        ].join('\n'),
        { what: `putting the restored file at ${target}` },
      );
    });
    return result;
  }

  /** Run `work` that writes `temp` on a side; on failure, remove what it left there (if that side still answers). */
  private async written(executor: Executor, temp: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (!unreachable(error)) await executor.run(`rm -rf ${pathWord(temp)}`).catch(() => undefined);
      throw error;
    }
  }

  async verify(
    id: string | undefined,
    options: { signal?: AbortSignal; record?: boolean } = {},
  ): Promise<VerifyReport> {
    return verifyBackup(
      {
        resolve: (backup) => this.resolve(backup),
        recordVerification: (report) => this.recordVerification(report),
        check: async (_, plan) => {
          for (const entry of plan.legacy)
            plan.problems.push({
              path: entry.path,
              reason: 'a file of format 1 is verified only on this machine',
            });
          const problems = new Map<string, string>();
          let bytes = 0;
          const transfer = new Transfer(options.signal, () => cancelled(this.subject, 'the verification'));
          try {
            await readChunks(this.store, plan.unique, transfer, async (ref, data) => {
              if (typeof data === 'string') problems.set(ref[0], data);
              else bytes += data.length;
            });
          } catch (error) {
            transfer.fail(error);
            throw transfer.reason(error);
          }
          return { problems, bytes };
        },
      },
      id,
      this.clock().toISOString(),
      options.record !== false,
    );
  }

  async recordVerification(report: VerifyReport): Promise<boolean> {
    try {
      await this.store.writeText(
        `verifications/${report.backup}.json`,
        JSON.stringify(report),
        'recording a verification',
      );
      return true;
    } catch (error) {
      // a read-only repository can still be verified; it only cannot remember it (a lost host is an error)
      if (error instanceof DrctlError && error.code.startsWith('DRCTL_HOST_')) throw error;
      return false;
    }
  }

  async lastVerification(): Promise<VerifyReport | undefined> {
    return newestPassed(await this.store.texts('verifications/*.json'));
  }

  async prune(policy: Retention, options: PruneOptions = {}): Promise<PruneReport> {
    const dryRun = options.dryRun === true;
    const run = async (): Promise<PruneReport> => {
      const { decisions, kept, pruned, referenced, referencedBlobs } = retentionPlan(
        await this.list(),
        policy,
      );
      const damaged = [...this.damagedIds];
      const incomplete = (
        await this.store.sh(
          'for d in backups/.[!.]*; do [ -e "$d" ] && echo "${d#backups/}"; done; true',
          'listing',
        )
      )
        .split('\n')
        .filter((name) => name !== '');
      // A damaged manifest cannot say which chunks it needs, so nothing is collected while one exists.
      const unused =
        damaged.length > 0
          ? []
          : (await this.store.objects(['chunks', 'blobs'])).filter(
              (object) =>
                !(object.path.startsWith('chunks/') ? referenced : referencedBlobs).has(object.name),
            );
      if (!dryRun) {
        const script = [
          ...pruned.map((id) => {
            const [dir, trash] = [shellQuote(`backups/${id}`), shellQuote(`backups/.trash-${id}`)];
            // rename first: a prune cut short leaves a hidden directory, never a half-deleted backup
            return `mv ${dir} ${trash} && rm -rf ${trash} && rm -f ${shellQuote(`verifications/${id}.json`)} || exit 6`;
          }),
          ...incomplete.map((name) => `rm -rf ${shellQuote(`backups/${name}`)}`),
        ];
        if (script.length > 0) await this.store.sh(script.join('\n'), 'pruning backups');
        await this.store.removeFiles(unused.map((object) => object.path));
      }
      return {
        dryRun,
        policy,
        decisions,
        kept,
        pruned,
        blobsRemoved: unused.length,
        bytesFreed: unused.reduce((sum, object) => sum + object.size, 0),
        incomplete,
        damaged,
      };
    };
    return dryRun ? run() : withLock(this.store.lockFile(), this.subject, 'prune', run);
  }
}
