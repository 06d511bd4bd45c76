import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import { filesProvider } from './index.ts';
import { CHUNK_MAX } from '../../backup/chunker.ts';
import { BackupRepository } from '../../backup/repository.ts';
import type { Manifest } from '../../backup/index.ts';
import { applyRetention } from '../../backup/retention.ts';
import { makeContext, makePlan, tempDir } from './testing.ts';
import type { TestContext } from './testing.ts';

const here = dirname(fileURLToPath(import.meta.url));

async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Every regular file and symlink under root, as path → content (or `-> target`). */
async function readTree(root: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, prefix))).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const info = await lstat(join(root, rel));
    if (info.isDirectory()) Object.assign(out, await readTree(root, rel));
    else if (info.isSymbolicLink()) out[rel] = `-> ${await readlink(join(root, rel))}`;
    else out[rel] = (await readFile(join(root, rel))).toString('base64');
  }
  return out;
}

async function countChunks(repository: string, store = 'chunks'): Promise<number> {
  let count = 0;
  for (const shard of await readdir(join(repository, store)).catch(() => [] as string[])) {
    count += (await readdir(join(repository, store, shard))).length;
  }
  return count;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * A repository as drctl wrote it before chunking (format 1): every file whole under blobs/, named by
 * its SHA-256, and a manifest without chunk lists. Built by hand, as the old code laid it out.
 */
async function writeFormat1Repository(
  root: string,
  source: string,
  files: Record<string, Buffer>,
): Promise<string> {
  const id = '20260101T000000Z-abc123';
  const entries = [];
  for (const [path, content] of Object.entries(files)) {
    const hash = sha256(content);
    await mkdir(join(root, 'blobs', hash.slice(0, 2)), { recursive: true });
    await writeFile(join(root, 'blobs', hash.slice(0, 2), hash), content);
    const info = await stat(join(source, path));
    entries.push({
      path,
      type: 'file',
      size: content.length,
      mode: info.mode & 0o7777,
      mtimeMs: info.mtimeMs,
      sha256: hash,
      ino: info.ino,
      ctimeMs: info.ctimeMs,
    });
  }
  const body = {
    format: 1,
    id,
    kind: 'files',
    component: 'docs',
    site: 'east',
    source,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    parent: null,
    directories: [],
    entries,
    stats: {
      files: entries.length,
      bytes: 0,
      copiedFiles: entries.length,
      copiedBytes: 0,
      unchangedFiles: 0,
      skipped: [],
    },
    meta: {},
  };
  await mkdir(join(root, 'backups', id), { recursive: true });
  await writeFile(
    join(root, 'backups', id, 'manifest.json'),
    JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) }),
  );
  return id;
}

async function expectDrctlError(promise: Promise<unknown>, code: string): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DrctlError);
  expect((error as DrctlError).code).toBe(code);
  return error as DrctlError;
}

function tryMount(args: string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let tmp: { path: string; remove: () => Promise<void> };
let source: string;
let backups: string;
let plan: Plan;
let ctx: TestContext;
const actions = filesProvider.actions;

beforeEach(async () => {
  tmp = await tempDir('files');
  source = join(tmp.path, 'east', 'docs');
  backups = join(tmp.path, 'west', 'backups');
  await mkdir(source, { recursive: true });
  plan = makePlan(tmp.path, [
    {
      id: 'docs',
      kind: 'files',
      placement: { east: 'east/docs', west: 'west/docs' },
      backup: { to: 'west', path: 'west/backups' },
    },
    { id: 'nopath', kind: 'files', placement: { east: 'east/other' } },
  ]);
  ctx = makeContext(plan, join(tmp.path, 'state'));
});

afterEach(async () => {
  await tmp.remove();
});

describe('files provider', () => {
  it('restores a backup byte for byte, with modes, times, empty directories and symlinks', async () => {
    await writeTree(source, {
      'a.txt': 'alpha',
      'nested/deep/b.bin': randomBytes(300_000),
      'nested/c.txt': 'gamma',
    });
    await mkdir(join(source, 'empty-dir'));
    await symlink('a.txt', join(source, 'link-to-a'));
    await chmod(join(source, 'nested/c.txt'), 0o640);
    await utimes(join(source, 'a.txt'), new Date('2025-01-02T03:04:05Z'), new Date('2025-01-02T03:04:05Z'));

    const backup = await actions.backup.run({ component: 'docs' }, ctx);
    expect(backup.summary).toMatch(/backed up 4 files/);
    const evidence = ctx.recorded.get('backup') as { id: string; repository: string };
    expect(evidence.repository).toBe(join(backups, 'docs'));

    const target = join(tmp.path, 'restored');
    await actions.restore.run({ component: 'docs', target }, ctx);
    expect(await readTree(target)).toEqual(await readTree(source));
    expect((await stat(join(target, 'empty-dir'))).isDirectory()).toBe(true);
    expect((await stat(join(target, 'nested/c.txt'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(target, 'a.txt'))).mtime.toISOString()).toBe('2025-01-02T03:04:05.000Z');
  });

  it('copies only changed or new content on an incremental backup', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i += 1) files[`f${String(i).padStart(2, '0')}.bin`] = randomBytes(10_000 + i);
    await writeTree(source, files);
    await actions.backup.run({ component: 'docs' }, ctx);
    const first = ctx.recorded.get('backup') as { id: string; copiedFiles: number };
    expect(first.copiedFiles).toBe(20);
    const firstTree = await readTree(source);

    await writeFile(join(source, 'f00.bin'), randomBytes(500)); // modified
    await writeFile(join(source, 'f01.bin'), randomBytes(500)); // modified
    await writeFile(join(source, 'new.bin'), randomBytes(700)); // added
    await rename(join(source, 'f02.bin'), join(source, 'renamed.bin')); // same content, new name
    await rm(join(source, 'f03.bin')); // deleted

    await actions.backup.run({ component: 'docs' }, ctx);
    const second = ctx.recorded.get('backup') as {
      id: string;
      parent: string;
      files: number;
      copiedFiles: number;
      unchangedFiles: number;
    };
    expect(second.parent).toBe(first.id);
    expect(second.files).toBe(20);
    expect(second.copiedFiles).toBe(3);
    expect(second.unchangedFiles).toBe(16);
    expect(await countChunks(join(backups, 'docs'))).toBe(23);

    // Each backup restores on its own: the first still gives the original tree.
    await actions.restore.run({ component: 'docs', backup: first.id, target: join(tmp.path, 'r1') }, ctx);
    expect(await readTree(join(tmp.path, 'r1'))).toEqual(firstTree);
    await actions.restore.run({ component: 'docs', target: join(tmp.path, 'r2') }, ctx);
    expect(await readTree(join(tmp.path, 'r2'))).toEqual(await readTree(source));
  });

  it('fails verification naming the file whose backup has a flipped byte', async () => {
    await writeTree(source, { 'good.txt': 'fine', 'reports/q1.csv': 'a,b,c\n1,2,3\n' });
    await actions.backup.run({ component: 'docs' }, ctx);
    await actions.verify.run({ component: 'docs' }, ctx);

    const repository = new BackupRepository(join(backups, 'docs'), {
      subject: { component: 'docs', site: 'west' },
    });
    const manifest = await repository.newest();
    const entry = manifest?.entries.find((e) => e.path === 'reports/q1.csv');
    const [blob] = entry === undefined ? [] : repository.contentPaths(entry);
    if (blob === undefined) throw new Error('no chunk');
    const bytes = await readFile(blob);
    bytes[3] = (bytes[3] ?? 0) ^ 0x01;
    await chmod(blob, 0o644);
    await writeFile(blob, bytes);

    const error = await expectDrctlError(
      actions.verify.run({ component: 'docs' }, ctx),
      'DRCTL_BACKUP_VERIFY_FAILED',
    );
    expect(error.message).toContain('reports/q1.csv');
    expect(error.message).toContain('component "docs" at site "west"');
    const evidence = ctx.recorded.get('verification') as {
      reports: { ok: boolean; problems: { path: string }[] }[];
    };
    expect(evidence.reports[0]?.problems.map((p) => p.path)).toEqual(['reports/q1.csv']);

    // A restore reads the same blob and refuses to land it, leaving no target behind.
    const target = join(tmp.path, 'restored');
    const restoreError = await expectDrctlError(
      actions.restore.run({ component: 'docs', target }, ctx),
      'DRCTL_BACKUP_VERIFY_FAILED',
    );
    expect(restoreError.message).toContain('reports/q1.csv');
    await expect(stat(target)).rejects.toThrow();
  });

  it('stores a chunk or two, not the whole file, when 4 KiB change in the middle of a large file', async () => {
    const big = randomBytes(40 << 20);
    await writeTree(source, { 'disk.img': big, 'small.txt': 'unchanged' });
    await actions.backup.run({ component: 'docs' }, ctx);
    const first = ctx.recorded.get('backup') as { copiedBytes: number };
    expect(first.copiedBytes).toBe(big.length + 'unchanged'.length);
    const chunksBefore = await countChunks(join(backups, 'docs'));
    expect(chunksBefore).toBeGreaterThan(20);

    randomBytes(4096).copy(big, 20 << 20);
    await writeFile(join(source, 'disk.img'), big);
    await actions.backup.run({ component: 'docs' }, ctx);
    const second = ctx.recorded.get('backup') as { copiedFiles: number; copiedBytes: number };
    expect(second.copiedFiles).toBe(1);
    expect(await countChunks(join(backups, 'docs'))).toBeLessThanOrEqual(chunksBefore + 2);
    expect(second.copiedBytes).toBeLessThanOrEqual(2 * CHUNK_MAX);
    expect(second.copiedBytes).toBeLessThan(big.length / 8);

    const target = join(tmp.path, 'restored');
    await actions.restore.run({ component: 'docs', target }, ctx);
    expect((await readFile(join(target, 'disk.img'))).equals(big)).toBe(true);
  });

  it('round-trips large, compressible and empty files with their modes, and compresses only what shrinks', async () => {
    const text = Buffer.from('2026-01-01T00:00:00Z INFO order accepted\n'.repeat(50_000));
    const noise = randomBytes(CHUNK_MAX + 3_000_000);
    await writeTree(source, { 'logs/app.log': text, 'media/noise.bin': noise, empty: '' });
    await chmod(join(source, 'media/noise.bin'), 0o600);
    await chmod(join(source, 'logs/app.log'), 0o755);
    await actions.backup.run({ component: 'docs' }, ctx);
    const evidence = ctx.recorded.get('backup') as { copiedBytes: number; storedBytes: number };
    expect(evidence.copiedBytes).toBe(text.length + noise.length);
    // the log shrinks to a few KiB; the random bytes are stored as they are, plus a byte per chunk
    expect(evidence.storedBytes).toBeLessThan(noise.length + text.length / 10);
    expect(evidence.storedBytes).toBeGreaterThanOrEqual(noise.length);

    const target = join(tmp.path, 'restored');
    await actions.restore.run({ component: 'docs', target }, ctx);
    expect(await readTree(target)).toEqual(await readTree(source));
    expect((await stat(join(target, 'media/noise.bin'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(target, 'logs/app.log'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(target, 'empty'))).size).toBe(0);
    await actions.verify.run({ component: 'docs' }, ctx);
  });

  it('finds a damaged compressed chunk and a missing one, naming each file', async () => {
    await writeTree(source, {
      'notes.txt': 'compressible '.repeat(10_000),
      'data.bin': randomBytes(100_000),
      'fine.txt': 'fine',
    });
    await actions.backup.run({ component: 'docs' }, ctx);
    const repository = new BackupRepository(join(backups, 'docs'), {
      subject: { component: 'docs', site: 'west' },
    });
    const manifest = (await repository.newest()) as Manifest;
    const pathOf = (name: string): string => {
      const entry = manifest.entries.find((e) => e.path === name);
      const [chunk] = entry === undefined ? [] : repository.contentPaths(entry);
      if (chunk === undefined) throw new Error(`no chunk for ${name}`);
      return chunk;
    };
    const notes = await readFile(pathOf('notes.txt'));
    expect(notes[0]).toBe(2); // stored deflate-compressed
    notes[notes.length >> 1] = (notes[notes.length >> 1] ?? 0) ^ 0x55;
    await writeFile(pathOf('notes.txt'), notes);
    await rm(pathOf('data.bin'));

    const error = await expectDrctlError(
      actions.verify.run({ component: 'docs' }, ctx),
      'DRCTL_BACKUP_VERIFY_FAILED',
    );
    expect(error.message).toContain('(and 1 more)');
    const report = ctx.recorded.get('verification') as {
      reports: { problems: { path: string; reason: string }[] }[];
    };
    const problems = report.reports[0]?.problems ?? [];
    expect(problems.map((p) => p.path).sort()).toEqual(['data.bin', 'notes.txt']);
    expect(problems.find((p) => p.path === 'data.bin')?.reason).toMatch(/^chunk [0-9a-f]{12} is missing$/);
    expect(problems.find((p) => p.path === 'notes.txt')?.reason).toMatch(/cannot be decoded|does not match/);
  });

  it('restores, verifies and prunes a repository of format 1, and backs up onto it in format 3', async () => {
    const files = { 'a.txt': Buffer.from('alpha'), 'b.bin': randomBytes(200_000) };
    await writeTree(source, files);
    const repo = join(backups, 'docs');
    const oldId = await writeFormat1Repository(repo, source, files);

    const target = join(tmp.path, 'from-format-1');
    await actions.restore.run({ component: 'docs', backup: oldId, target }, ctx);
    expect(await readTree(target)).toEqual(await readTree(source));
    await actions.verify.run({ component: 'docs', backup: oldId }, ctx);

    await writeFile(join(source, 'c.txt'), 'new');
    await actions.backup.run({ component: 'docs' }, ctx);
    const evidence = ctx.recorded.get('backup') as { id: string; parent: string; copiedFiles: number };
    expect(evidence.parent).toBe(oldId);
    // No chunk of the old backup is known, so every file is read and stored once more.
    expect(evidence.copiedFiles).toBe(3);
    expect(JSON.parse(await readFile(join(repo, 'repository.json'), 'utf8'))).toMatchObject({ format: 3 });
    const repository = new BackupRepository(repo, { subject: { component: 'docs', site: 'west' } });
    expect((await repository.list()).map((m) => m.format)).toEqual([1, 3]);
    await actions.verify.run({ component: 'docs', all: true }, ctx);

    // Both formats restore side by side; pruning the old backup frees its whole-file blobs.
    await actions.restore.run({ component: 'docs', target: join(tmp.path, 'from-format-3') }, ctx);
    expect(await readTree(join(tmp.path, 'from-format-3'))).toEqual(await readTree(source));
    const pruned = await actions.prune.run(
      { component: 'docs', keep: { daily: 1, weekly: 0, monthly: 0, yearly: 0 } },
      ctx,
    );
    expect(pruned.output?.['pruned']).toEqual([oldId]);
    expect(await countChunks(repo, 'blobs')).toBe(0);
    expect(await countChunks(repo)).toBe(3);
  });

  it('restores and verifies a repository of format 2 (Brotli chunks), and backs up onto it in format 3 sharing its chunks', async () => {
    const text = Buffer.from('2026-01-01T00:00:00Z INFO order accepted\n'.repeat(20_000));
    await writeTree(source, { 'logs/app.log': text, 'a.txt': 'alpha' });
    const repo = join(backups, 'docs');
    const repository = new BackupRepository(repo, { subject: { component: 'docs', site: 'west' } });
    // What a drctl of format 2 wrote: Brotli chunks, format 2 in repository.json and the manifest.
    const written = await repository.backupDirectory(source, {
      kind: 'files',
      site: 'east',
      compression: 'max',
    });
    const { checksum: _checksum, ...body } = { ...written, format: 2 };
    await writeFile(
      join(repo, 'backups', written.id, 'manifest.json'),
      JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) }),
    );
    await writeFile(join(repo, 'repository.json'), JSON.stringify({ format: 2 }));
    const log = written.entries.find((entry) => entry.path === 'logs/app.log');
    const [chunk] = log === undefined ? [] : repository.contentPaths(log);
    expect((await readFile(chunk ?? ''))[0]).toBe(1); // Brotli

    await actions.restore.run({ component: 'docs', target: join(tmp.path, 'from-format-2') }, ctx);
    expect(await readTree(join(tmp.path, 'from-format-2'))).toEqual(await readTree(source));
    await actions.verify.run({ component: 'docs' }, ctx);

    await writeFile(join(source, 'b.txt'), 'new');
    await actions.backup.run({ component: 'docs' }, ctx);
    const evidence = ctx.recorded.get('backup') as { copiedFiles: number; unchangedFiles: number };
    expect(evidence).toMatchObject({ copiedFiles: 1, unchangedFiles: 2 });
    expect(JSON.parse(await readFile(join(repo, 'repository.json'), 'utf8'))).toMatchObject({ format: 3 });
    expect((await repository.list()).map((m) => m.format)).toEqual([2, 3]);
    await actions.restore.run({ component: 'docs', target: join(tmp.path, 'from-format-3') }, ctx);
    expect(await readTree(join(tmp.path, 'from-format-3'))).toEqual(await readTree(source));
  });

  it('refuses a repository or a backup of a newer format, changing nothing', async () => {
    await writeTree(source, { 'a.txt': 'alpha' });
    await actions.backup.run({ component: 'docs' }, ctx);
    const repo = join(backups, 'docs');
    const repository = new BackupRepository(repo, { subject: { component: 'docs', site: 'west' } });
    const [manifest] = await repository.list();
    if (manifest === undefined) throw new Error('no backup');

    const { checksum: _checksum, ...body } = { ...manifest, format: 4 };
    const file = join(repo, 'backups', manifest.id, 'manifest.json');
    await writeFile(file, JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) }));
    const newer = await expectDrctlError(
      actions.restore.run({ component: 'docs', target: join(tmp.path, 'r') }, ctx),
      'DRCTL_BACKUP_FORMAT_UNSUPPORTED',
    );
    expect(newer.message).toContain('format 4');
    expect(newer.hint).toContain('newer');

    await writeFile(join(repo, 'repository.json'), JSON.stringify({ format: 4 }));
    await expectDrctlError(actions.backup.run({ component: 'docs' }, ctx), 'DRCTL_BACKUP_FORMAT_UNSUPPORTED');
    await expectDrctlError(actions.list.run({ component: 'docs' }, ctx), 'DRCTL_BACKUP_FORMAT_UNSUPPORTED');
    expect((await readdir(join(repo, 'backups'))).filter((name) => !name.startsWith('.'))).toHaveLength(1);
  });

  it('refuses a restore target holding other data, replaces it with force, and repeats a restore as a no-op', async () => {
    await writeTree(source, { 'a.txt': 'alpha' });
    await actions.backup.run({ component: 'docs' }, ctx);
    const westDocs = join(tmp.path, 'west', 'docs');
    await writeTree(westDocs, { 'stale.txt': 'old data' });

    const error = await expectDrctlError(
      actions.restore.run({ component: 'docs', site: 'west' }, ctx),
      'DRCTL_BACKUP_RESTORE_TARGET_NOT_EMPTY',
    );
    expect(error.message).toContain('component "docs" at site "west"');
    expect(error.hint).toContain('force');
    expect(await readTree(westDocs)).toEqual({ 'stale.txt': Buffer.from('old data').toString('base64') });

    await actions.restore.run({ component: 'docs', site: 'west', force: true }, ctx);
    expect(await readTree(westDocs)).toEqual(await readTree(source));

    const again = await actions.restore.run({ component: 'docs', site: 'west' }, ctx);
    expect(again.output?.['alreadyRestored']).toBe(true);
  });

  it('reports a backup location under a regular file as unusable, naming component and site', async () => {
    await writeTree(source, { 'a.txt': 'alpha' });
    await writeFile(join(tmp.path, 'not-a-dir'), 'x');
    const error = await expectDrctlError(
      actions.backup.run({ component: 'docs', repository: join(tmp.path, 'not-a-dir', 'repo') }, ctx),
      'DRCTL_BACKUP_TARGET_UNUSABLE',
    );
    expect(error.message).toContain('component "docs" at site "west"');
  });

  it('reports a read-only backup location as read-only', async (test) => {
    await writeTree(source, { 'a.txt': 'alpha' });
    const mountPoint = join(tmp.path, 'ro');
    await mkdir(mountPoint);
    if (!tryMount(['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mountPoint]))
      test.skip('cannot mount a tmpfs here');
    try {
      await expectDrctlError(
        actions.backup.run({ component: 'docs', repository: join(mountPoint, 'repo') }, ctx),
        'DRCTL_BACKUP_TARGET_READ_ONLY',
      );
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('reports a full backup location and leaves no backup that looks complete', async (test) => {
    await writeTree(source, { 'small.txt': 'alpha', 'big.bin': randomBytes(2_000_000) });
    const mountPoint = join(tmp.path, 'tiny');
    await mkdir(mountPoint);
    if (!tryMount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]))
      test.skip('cannot mount a tmpfs here');
    try {
      const repo = join(mountPoint, 'repo');
      const error = await expectDrctlError(
        actions.backup.run({ component: 'docs', repository: repo }, ctx),
        'DRCTL_BACKUP_TARGET_FULL',
      );
      expect(error.message).toContain('component "docs" at site "west"');
      const repository = new BackupRepository(repo, { subject: { component: 'docs', site: 'west' } });
      expect(await repository.list()).toEqual([]);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('leaves no complete-looking backup when the process is killed mid-backup, and the next backup succeeds', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i += 1) files[`part-${i}.bin`] = randomBytes(50_000);
    await writeTree(source, files);
    const repo = join(backups, 'docs');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'fixtures', 'interrupted-backup.ts'), repo, source],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('frozen')) resolve();
      });
      child.on('exit', () => reject(new Error('the backup process exited before freezing')));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const names = await readdir(join(repo, 'backups'));
    expect(names.filter((name) => !name.startsWith('.'))).toEqual([]);
    expect(names.some((name) => name.startsWith('.tmp-'))).toBe(true);
    const repository = new BackupRepository(repo, { subject: { component: 'docs', site: 'west' } });
    expect(await repository.list()).toEqual([]);

    // The dead process's lock is taken over and its staging directory cleared.
    await actions.backup.run({ component: 'docs' }, ctx);
    expect((await readdir(join(repo, 'backups'))).filter((name) => name.startsWith('.'))).toEqual([]);
    await actions.verify.run({ component: 'docs' }, ctx);
    expect(await repository.list()).toHaveLength(1);
  });

  it('prunes by the retention policy, removes blobs only pruned backups used, and a dry run changes nothing', async () => {
    let now = Date.parse('2026-01-01T02:00:00Z');
    const repo = join(backups, 'docs');
    const repository = new BackupRepository(repo, {
      subject: { component: 'docs', site: 'west' },
      clock: () => new Date(now),
    });
    await writeTree(source, { 'constant.txt': 'never changes' });
    for (let day = 0; day < 45; day += 1) {
      await writeFile(join(source, 'daily.txt'), `day ${day}`);
      await repository.backupDirectory(source, { kind: 'files', site: 'east' });
      now += 86_400_000;
    }
    const all = await repository.list();
    expect(all).toHaveLength(45);
    const policy = { daily: 3, weekly: 2, monthly: 2, yearly: 1 };
    const expected = applyRetention(
      all.map((m) => ({ id: m.id, time: new Date(m.startedAt) })),
      policy,
    )
      .filter((d) => d.keep)
      .map((d) => d.id)
      .sort();

    const dry = await actions.prune.run({ component: 'docs', keep: policy, dry_run: true }, ctx);
    expect(dry.summary).toMatch(/^would prune/);
    expect(await repository.list()).toHaveLength(45);
    expect(await countChunks(repo)).toBe(46);

    const report = await actions.prune.run({ component: 'docs', keep: policy }, ctx);
    const kept = (await repository.list()).map((m) => m.id).sort();
    expect(kept).toEqual(expected);
    // 2026-02-14 (newest, daily), 02-13, 02-12 (daily), 02-08 (Sunday, weekly), 01-31 (monthly).
    expect(kept.map((id) => id.slice(0, 8))).toEqual([
      '20260131',
      '20260208',
      '20260212',
      '20260213',
      '20260214',
    ]);
    expect(report.output?.['blobsRemoved']).toBe(40);
    expect(await countChunks(repo)).toBe(kept.length + 1);
    for (const id of kept) expect((await repository.verify(id)).ok).toBe(true);
  });

  it('reports readiness: backup age against the RPO and verification age', async () => {
    await writeTree(source, { 'a.txt': 'alpha' });
    const component = plan.workloads[0]?.components[0];
    if (component === undefined) throw new Error('no component');
    const before = await filesProvider.readiness(component, ctx);
    expect(before.map((f) => [f.name, f.ok])).toEqual([
      ['backup-age', false],
      ['backup-verified', false],
    ]);
    await actions.backup.run({ component: 'docs' }, ctx);
    await actions.verify.run({ component: 'docs' }, ctx);
    const after = await filesProvider.readiness(component, ctx);
    expect(after.map((f) => [f.name, f.ok, f.site])).toEqual([
      ['backup-age', true, 'west'],
      ['backup-verified', true, 'west'],
    ]);
    const fresh = await filesProvider.checks['backup-fresh'].run({ component: 'docs' }, ctx);
    expect(fresh.ok).toBe(true);
  });

  it('names the problem when the component or its backup location is unknown', async () => {
    await expectDrctlError(actions.backup.run({ component: 'ghost' }, ctx), 'DRCTL_BACKUP_COMPONENT_UNKNOWN');
    await expectDrctlError(actions.backup.run({ component: 'nopath' }, ctx), 'DRCTL_BACKUP_LOCATION_MISSING');
    await expectDrctlError(actions.restore.run({ component: 'docs' }, ctx), 'DRCTL_BACKUP_NOT_FOUND');
    await expectDrctlError(
      actions.backup.run({ component: 'docs', source: join(tmp.path, 'missing') }, ctx),
      'DRCTL_BACKUP_SOURCE_MISSING',
    );
  });

  it('rejects unknown parameters when a plan is validated', () => {
    expect(actions.backup.params.safeParse({ component: 'docs', sorce: '/x' }).success).toBe(false);
    expect(actions.prune.params.safeParse({ component: 'docs', keep: { daily: -1 } }).success).toBe(false);
  });
});
