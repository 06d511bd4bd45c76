import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import type { Check, Step } from '../../plan/model.ts';
import { BackupRepository } from '../../backup/repository.ts';
import { makeContext, makePlan, tempDir } from '../files/testing.ts';
import type { TestContext } from '../files/testing.ts';
import { sqliteProvider } from './index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const actions = sqliteProvider.actions;

async function expectDrctlError(promise: Promise<unknown>, code: string): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DrctlError);
  expect((error as DrctlError).code).toBe(code);
  return error as DrctlError;
}

function createDatabase(path: string, journalMode: string, rows: number): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('create table orders (id integer primary key, at integer not null, padding text not null)');
  const insert = db.prepare('insert into orders (at, padding) values (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i += 1) insert.run(i, 'p'.repeat(200));
  })();
  db.close();
}

function count(path: string): number {
  const db = new Database(path, { readonly: true, timeout: 30_000 });
  try {
    return db.prepare('select count(*) from orders').pluck().get() as number;
  } finally {
    db.close();
  }
}

let tmp: { path: string; remove: () => Promise<void> };
let database: string;
let ctx: TestContext;
let writer: ChildProcess | undefined;

beforeEach(async () => {
  tmp = await tempDir('sqlite');
  await mkdir(join(tmp.path, 'east'), { recursive: true });
  await mkdir(join(tmp.path, 'west'), { recursive: true });
  database = join(tmp.path, 'east', 'shop.db');
  const plan = makePlan(tmp.path, [
    {
      id: 'orders-db',
      kind: 'sqlite',
      placement: { east: 'east/shop.db', west: 'west/shop.db' },
      backup: { to: 'west', path: 'west/backups' },
    },
  ]);
  ctx = makeContext(plan, join(tmp.path, 'state'));
});

afterEach(async () => {
  if (writer !== undefined && writer.exitCode === null) {
    const exited = new Promise((resolve) => writer?.on('exit', resolve));
    writer.kill('SIGKILL');
    await exited;
  }
  writer = undefined;
  await tmp.remove();
});

async function startWriter(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'writer.ts'), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('writing')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited with ${String(code)}`)));
  });
  return child;
}

describe('sqlite provider', () => {
  it.each(['wal', 'delete'])(
    'takes a consistent backup while another process writes continuously (journal_mode %s)',
    async (journalMode) => {
      createDatabase(database, journalMode, 30_000);
      writer = await startWriter(database);
      const before = count(database);

      await actions.backup.run({ component: 'orders-db' }, ctx);
      const evidence = ctx.recorded.get('backup') as {
        meta: { integrity: string; tables: { orders: number } };
      };
      expect(evidence.meta.integrity).toBe('ok');
      expect(evidence.meta.tables.orders).toBeGreaterThanOrEqual(before);

      // The writer was not stopped by the backup: the live database moves past the snapshot.
      await expect
        .poll(() => count(database), { timeout: 10_000 })
        .toBeGreaterThan(evidence.meta.tables.orders);

      const restored = join(tmp.path, 'restored.db');
      await actions.restore.run({ component: 'orders-db', target: restored }, ctx);
      const restoredEvidence = ctx.recorded.get('restore') as {
        integrity: string[];
        tables: { orders: number };
      };
      expect(restoredEvidence.integrity).toEqual(['ok']);
      expect(count(restored)).toBeGreaterThanOrEqual(before);
      expect(count(restored)).toBe(evidence.meta.tables.orders);

      await actions.verify.run(
        { component: 'orders-db', queries: ['select count(*) >= 30000 from orders'] },
        ctx,
      );
    },
  );

  it('fails verification naming the database file when the backup has a flipped byte', async () => {
    createDatabase(database, 'wal', 100);
    await actions.backup.run({ component: 'orders-db' }, ctx);
    const repository = new BackupRepository(join(tmp.path, 'west', 'backups', 'orders-db'), {
      subject: { component: 'orders-db', site: 'west' },
    });
    const entry = (await repository.newest())?.entries[0];
    expect(entry?.path).toBe('shop.db');
    const [blob] = entry === undefined ? [] : repository.contentPaths(entry);
    if (blob === undefined) throw new Error('no chunk');
    const bytes = await readFile(blob);
    // the middle of the stored chunk, which is compressed: a damaged deflate stream is found too
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    await chmod(blob, 0o644);
    await writeFile(blob, bytes);
    const error = await expectDrctlError(
      actions.verify.run({ component: 'orders-db' }, ctx),
      'DRCTL_BACKUP_VERIFY_FAILED',
    );
    expect(error.message).toContain('shop.db');
    expect(error.message).toContain('component "orders-db" at site "west"');
  });

  it('fails verification when a validation query does not hold on the restored copy', async () => {
    createDatabase(database, 'wal', 100);
    await actions.backup.run({ component: 'orders-db' }, ctx);
    const error = await expectDrctlError(
      actions.verify.run({ component: 'orders-db', queries: ['select count(*) > 1000 from orders'] }, ctx),
      'DRCTL_SQLITE_VALIDATION_FAILED',
    );
    expect(error.message).toContain('select count(*) > 1000 from orders');
  });

  it("runs the plan's sql checks on this component when verifying a backup", async () => {
    createDatabase(database, 'wal', 100);
    await actions.backup.run({ component: 'orders-db' }, ctx);
    const at = { file: 'plan.yaml', line: 9, column: 3 };
    const check = (sql: string, expect: unknown): Check => ({
      name: sql,
      run: undefined,
      http: undefined,
      sql,
      check: undefined,
      component: 'orders-db',
      site: 'west',
      with: {},
      call: undefined,
      expect,
      timeoutMs: 5_000,
      evidence: undefined,
      at,
    });
    const step: Step = {
      id: 'restore-db',
      name: 'restore-db',
      description: undefined,
      kind: 'action',
      needs: [],
      prerequisite: undefined,
      owner: undefined,
      expectedMs: 60_000,
      contingencyMs: 0,
      timeoutMs: undefined,
      retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
      idempotent: true,
      run: undefined,
      action: 'sqlite.restore',
      call: { provider: 'sqlite', name: 'restore', params: { component: 'orders-db' } },
      with: { component: 'orders-db' },
      manual: undefined,
      approval: undefined,
      wait: undefined,
      validate: [check('select count(*) from orders', 100), check('select max(id) from orders', 99)],
      evidence: [],
      onFailure: 'abort',
      escalateTo: undefined,
      undo: undefined,
      at,
    };
    ctx.plan.workloads[0]!.runbooks.push({
      workload: 'shop',
      name: 'restore',
      kind: 'restore',
      description: undefined,
      prerequisites: [],
      postRequisites: [],
      steps: [step],
      at,
    });
    const error = await expectDrctlError(
      actions.verify.run({ component: 'orders-db' }, ctx),
      'DRCTL_SQLITE_VALIDATION_FAILED',
    );
    expect(error.message).toContain('select max(id) from orders');
    const evidence = ctx.recorded.get('verification') as {
      checks: { validations: { sql: string; ok: boolean }[] };
    };
    expect(evidence.checks.validations.map((v) => v.ok)).toEqual([true, false]);
  });

  it('refuses to restore over an existing database unless forced, and then drops its stale WAL', async () => {
    createDatabase(database, 'wal', 100);
    await actions.backup.run({ component: 'orders-db' }, ctx);
    const west = join(tmp.path, 'west', 'shop.db');
    createDatabase(west, 'delete', 5);
    await writeFile(`${west}-wal`, 'stale wal');

    const error = await expectDrctlError(
      actions.restore.run({ component: 'orders-db', site: 'west' }, ctx),
      'DRCTL_BACKUP_RESTORE_TARGET_NOT_EMPTY',
    );
    expect(error.message).toContain('component "orders-db" at site "west"');
    expect(count(west)).toBe(5);

    await actions.restore.run({ component: 'orders-db', site: 'west', force: true }, ctx);
    await expect(stat(`${west}-wal`)).rejects.toThrow();
    expect(
      await sqliteProvider.query(
        ctx.plan.workloads[0]!.components[0]!,
        'west',
        'select count(*) from orders',
        ctx,
      ),
    ).toEqual([[100]]);
    const rows = await actions.query.run(
      { component: 'orders-db', site: 'west', sql: 'select max(id) from orders' },
      ctx,
    );
    expect(rows.output?.['rows']).toEqual([[100]]);
  });

  it('names the component and site when the database is missing or is not a database', async () => {
    const missing = await expectDrctlError(
      actions.backup.run({ component: 'orders-db' }, ctx),
      'DRCTL_BACKUP_SOURCE_MISSING',
    );
    expect(missing.message).toContain('component "orders-db" at site "east"');
    await writeFile(database, 'this is not a database, just text long enough to have a header............');
    const notDb = await expectDrctlError(
      actions.backup.run({ component: 'orders-db' }, ctx),
      'DRCTL_SQLITE_OPEN_FAILED',
    );
    expect(notDb.message).toContain('component "orders-db" at site "east"');
    const repository = new BackupRepository(join(tmp.path, 'west', 'backups', 'orders-db'), {
      subject: { component: 'orders-db', site: 'west' },
    });
    expect(await repository.list()).toEqual([]);
  });

  it('reports readiness from the newest backup and its verification', async () => {
    createDatabase(database, 'wal', 10);
    await actions.backup.run({ component: 'orders-db' }, ctx);
    await actions.verify.run({ component: 'orders-db' }, ctx);
    const facts = await sqliteProvider.readiness(ctx.plan.workloads[0]!.components[0]!, ctx);
    expect(facts.map((fact) => [fact.name, fact.ok])).toEqual([
      ['backup-age', true],
      ['backup-verified', true],
    ]);
  });
});
