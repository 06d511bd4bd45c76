/**
 * The files and SQLite providers with the data on one host and the repository on another (network
 * namespaces with their own addresses running sshd, src/testbed/netns-bed.ts): a directory and a live
 * database backed up from east into a repository on west and restored onto east, byte for byte; and the
 * repository's host cut off mid-backup. The hosts share this machine's file system, so the test reads
 * what landed where directly. Skipped with a message where no bed can be made.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTarget } from '../../backup/resolve.ts';
import { DrctlError } from '../../errors.ts';
import { closeExecutors } from '../../exec/index.ts';
import { loadPlan } from '../../plan/index.ts';
import type { Plan } from '../../plan/model.ts';
import { NetnsBed } from '../../testbed/netns-bed.ts';
import { testContext } from '../testing.ts';
import { sqliteProvider } from '../sqlite/index.ts';
import { filesProvider } from './index.ts';

const unavailable = NetnsBed.unavailable();
if (unavailable !== undefined) console.warn(`files and sqlite on hosts skipped: ${unavailable}`);

/** Every file and link under a directory: path → mode and content (or link text). */
function picture(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const info = lstatSync(path);
      const key = path.slice(root.length + 1);
      if (info.isDirectory()) visit(path);
      else if (info.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
      else out[key] = `${(info.mode & 0o7777).toString(8)} ${readFileSync(path).toString('base64')}`;
    }
  };
  visit(root);
  return out;
}

describe.skipIf(unavailable !== undefined)('files and sqlite between hosts over SSH', () => {
  let bed: NetnsBed;
  let plan: Plan;
  let dir: string;
  const run = async (
    provider: typeof filesProvider | typeof sqliteProvider,
    action: string,
    params: Record<string, unknown>,
  ) => {
    const defined = (provider.actions as Record<string, (typeof filesProvider.actions)['backup']>)[action];
    if (defined === undefined) throw new Error(`no action ${action}`);
    const ctx = testContext(plan, join(dir, 'state'));
    return defined.run(defined.params.parse(params), ctx);
  };

  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
    // removed in afterAll: a temporary directory made in beforeAll would outlive the file
    dir = mkdtempSync(join(tmpdir(), 'drctl-files-hosts-'));
    const docs = join(dir, 'east-docs');
    mkdirSync(join(docs, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(docs, 'empty-dir'));
    writeFileSync(join(docs, 'readme.txt'), 'hello from east\n'.repeat(1000));
    writeFileSync(join(docs, 'sub', 'random.bin'), randomBytes(3 << 20));
    writeFileSync(join(docs, 'sub', 'deeper', 'copy.txt'), 'hello from east\n'.repeat(1000));
    writeFileSync(join(docs, 'empty'), '');
    writeFileSync(join(docs, 'secret'), 'key');
    chmodSync(join(docs, 'secret'), 0o600);
    writeFileSync(join(docs, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(docs, 'run.sh'), 0o755);
    symlinkSync('sub/random.bin', join(docs, 'link'));
    const big = join(dir, 'east-big');
    mkdirSync(big);
    for (let i = 0; i < 8; i += 1) writeFileSync(join(big, `part-${i}`), randomBytes(2 << 20));
    const db = new Database(join(dir, 'east.db'));
    db.pragma('journal_mode = WAL');
    db.exec('create table orders (id integer primary key, item text)');
    const insert = db.prepare('insert into orders (item) values (?)');
    for (let i = 0; i < 500; i += 1) insert.run(`item ${i}`);
    db.close();
    const host = (name: string) =>
      `{ address: ${bed.host(name).address}, user: root, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}}`;
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: files-on-hosts
sites:
  east:
    role: primary
    hosts:
      app-east: ${host('east')}
  west:
    role: secondary
    hosts:
      backup-west: ${host('west')}
contacts: [{ id: alice, name: Alice }]
workloads:
  - id: shop
    tier: 2
    strategy: backup-restore
    owner: alice
    rto: 1h
    rpo: 1h
    components:
      - id: docs
        kind: files
        placement: { east: { host: app-east, path: ${docs} } }
        backups: [{ every: 1h, to: west, host: backup-west, path: ${join(dir, 'repo')} }]
      - id: big
        kind: files
        placement: { east: { host: app-east, path: ${big} } }
        backups: [{ every: 1h, to: west, host: backup-west, path: ${join(dir, 'repo')} }]
      - id: orders-db
        kind: sqlite
        placement: { east: { host: app-east, path: ${join(dir, 'east.db')} } }
        backups: [{ every: 1h, to: west, host: backup-west, path: ${join(dir, 'repo')} }]
      - id: local-db
        kind: sqlite
        placement: { east: { path: ${join(dir, 'east.db')} } }
        backups: [{ every: 1h, to: west, host: backup-west, path: ${join(dir, 'repo')} }]
`,
    );
    plan = await loadPlan(join(dir, 'plan.yaml'));
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up a directory on one host into a repository on another, and restores it byte for byte', async () => {
    const first = await run(filesProvider, 'backup', { component: 'docs' });
    const evidence = first.output as { id: string; repository: string; copiedFiles: number; files: number };
    expect(evidence.repository).toContain('on host backup-west');
    expect(evidence.files).toBe(7);
    // the two identical text files share their chunk, and the empty file has none
    expect(evidence.copiedFiles).toBe(4);
    expect(existsSync(join(dir, 'repo', 'docs', 'backups', evidence.id, 'manifest.json'))).toBe(true);
    expect(existsSync(join(dir, 'repo', 'docs', 'lock'))).toBe(false);

    const second = await run(filesProvider, 'backup', { component: 'docs' });
    expect(second.output).toMatchObject({ copiedFiles: 0, copiedBytes: 0, files: 7 });

    const target = join(dir, 'restored-docs');
    const restored = await run(filesProvider, 'restore', { component: 'docs', target });
    expect(restored.output).toMatchObject({ files: 7, alreadyRestored: false });
    expect(picture(target)).toEqual(picture(join(dir, 'east-docs')));
    expect(existsSync(join(target, 'empty-dir'))).toBe(true);
    const again = await run(filesProvider, 'restore', { component: 'docs', target });
    expect(again.output).toMatchObject({ alreadyRestored: true });

    // a damaged chunk on the repository's host is found by a verification over SSH
    const chunks = join(dir, 'repo', 'docs', 'chunks');
    const shard = readdirSync(chunks)[0] as string;
    const chunk = join(chunks, shard, readdirSync(join(chunks, shard))[0] as string);
    const bytes = readFileSync(chunk);
    bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 0xff;
    writeFileSync(chunk, bytes);
    const failed = await run(filesProvider, 'verify', { component: 'docs' }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(DrctlError);
    expect((failed as DrctlError).code).toBe('DRCTL_BACKUP_VERIFY_FAILED');
  });

  it('backs up a live SQLite database on one host into a repository on another, and restores it there', async () => {
    const backup = await run(sqliteProvider, 'backup', { component: 'orders-db' });
    expect(backup.output).toMatchObject({ source: join(dir, 'east.db'), meta: { integrity: 'ok' } });
    expect((backup.output as { meta: { tables: unknown } }).meta.tables).toEqual({ orders: 500 });
    const target = join(dir, 'restored.db');
    const restored = await run(sqliteProvider, 'restore', { component: 'orders-db', target });
    expect(restored.output).toMatchObject({ integrity: ['ok'], tables: { orders: 500 } });
    const db = new Database(target, { readonly: true });
    expect(db.prepare('select item from orders where id = 500').pluck().get()).toBe('item 499');
    db.close();
    const verified = await run(sqliteProvider, 'verify', { component: 'orders-db' });
    expect(verified.summary).toContain('integrity ok');

    // a database on this machine into the repository on the host, and back here
    const here = await run(sqliteProvider, 'backup', { component: 'local-db' });
    expect(here.output).toMatchObject({ repository: expect.stringContaining('on host backup-west') });
    const back = await run(sqliteProvider, 'restore', {
      component: 'local-db',
      target: join(dir, 'restored-here.db'),
    });
    expect(back.output).toMatchObject({ integrity: ['ok'], tables: { orders: 500 } });
  });

  it('fails a backup whose repository host is cut off mid-transfer, leaves no backup, and the next one succeeds', async () => {
    const target = resolveTarget(plan, { component: 'big' });
    let cutAt = 0;
    const started = target.repository.backupDirectory(join(dir, 'east-big'), {
      kind: 'files',
      site: 'east',
      from: target.data,
      onProgress: async ({ done }) => {
        if (done !== 1) return;
        await bed.cut('west');
        cutAt = Date.now();
      },
    });
    const error = await started.catch((failure: unknown) => failure);
    const failedAfter = Date.now() - cutAt;
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_HOST_UNREACHABLE');
    expect((error as DrctlError).message).toContain('backup-west');
    // within the connect timeout (5 s by default): the SSH keep-alives give up after about 3 s
    console.log(`failed ${failedAfter} ms after the cut`);
    expect(failedAfter).toBeLessThan(5_000);
    await bed.heal('west');
    expect(await target.repository.list()).toEqual([]);

    const manifest = await target.repository.backupDirectory(join(dir, 'east-big'), {
      kind: 'files',
      site: 'east',
      from: target.data,
    });
    expect(manifest.stats.files).toBe(8);
    expect(readdirSync(join(dir, 'repo', 'big', 'backups'))).toEqual([manifest.id]);
    expect((await target.repository.verify(undefined)).ok).toBe(true);
  });
});
