import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DrctlError, UsageError } from '../../src/errors.ts';
import { SqliteStore, openStore, verifyChain } from '../../src/store/index.ts';
import { cli } from '../engine/cli-process.ts';
import { tempDir } from '../support/tmp.ts';
import { storeConformance } from './conformance.ts';

storeConformance(
  'SQLite',
  async () => SqliteStore.open(tempDir()),
  async (store) => SqliteStore.open(dirname((store as SqliteStore).file)),
);

const run = {
  id: 'r1',
  workload: 'shop',
  runbook: 'failover',
  planHash: 'h',
  planFile: '/plan.yaml',
  startedBy: 'alice',
};
const first = { type: 'run-created', actor: 'alice', data: { steps: [] } };

describe('SQLite store', () => {
  it('appends hash-chained records that verify, and refuses edits through SQL', async () => {
    const store = SqliteStore.open(tempDir());
    await store.createRun(run, first);
    await store.append('r1', [{ type: 'step-started', step: 'a', actor: 'engine', data: { attempt: 1 } }]);
    const records = await store.readJournal('r1');
    const head = await store.getRun('r1');
    expect(head && verifyChain(head, records).ok).toBe(true);
    expect(() => store.database.prepare("UPDATE journal SET actor = 'mallory'").run()).toThrow(/append-only/);
    expect(() => store.database.prepare('DELETE FROM journal').run()).toThrow(/append-only/);
    await store.close();
  });

  it('names a deleted record when the journal has a gap, and a deleted tail against the run head', async () => {
    const store = SqliteStore.open(tempDir());
    await store.createRun(run, first);
    for (const step of ['a', 'b', 'c'])
      await store.append('r1', [{ type: 'step-started', step, actor: 'engine', data: {} }]);
    store.database.exec('DROP TRIGGER journal_no_delete');
    store.database.prepare('DELETE FROM journal WHERE seq = 3').run();
    const gap = verifyChain((await store.getRun('r1'))!, await store.readJournal('r1'));
    expect(gap.problem?.seq).toBe(3);
    store.database.prepare('DELETE FROM journal WHERE seq >= 3').run();
    const tail = verifyChain((await store.getRun('r1'))!, await store.readJournal('r1'));
    expect(tail.problem?.seq).toBe(3);
    await store.close();
  });

  it('takes over at once from a holder on this host whose process is gone', async () => {
    const store = SqliteStore.open(tempDir());
    await store.createRun(run, first);
    await store.acquireLease('r1', {
      owner: 'one',
      pid: process.pid,
      host: (await import('node:os')).hostname(),
      ttlMs: 10_000,
    });
    const second = store.acquireLease('r1', {
      owner: 'two',
      pid: process.pid,
      host: 'elsewhere',
      ttlMs: 10_000,
    });
    await expect(second).rejects.toBeInstanceOf(UsageError);
    await expect(second).rejects.toMatchObject({ code: 'DRCTL_RUN_LOCKED' });
    await expect(
      store.append('r1', [{ type: 'x', actor: 'engine', data: {} }], { leaseOwner: 'two' }),
    ).rejects.toMatchObject({ code: 'DRCTL_RUN_LEASE_LOST' });
    // a holder on this host whose pid is gone is taken over at once
    store.database.prepare('UPDATE leases SET pid = 2147483646').run();
    await expect(
      store.acquireLease('r1', { owner: 'two', pid: process.pid, host: 'x', ttlMs: 10_000 }),
    ).resolves.toMatchObject({ owner: 'two' });
    await store.close();
  });

  it('refuses a state directory written by a newer drctl, unchanged', async () => {
    const dir = tempDir();
    await (await openStore(dir)).close();
    const db = new Database(join(dir, 'state.db'));
    db.pragma('user_version = 99');
    db.close();
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'DRCTL_STORE_NEWER', exitCode: 2 });
    const again = new Database(join(dir, 'state.db'));
    expect(again.pragma('user_version', { simple: true })).toBe(99);
    again.close();
  });

  it('reports a corrupted database with DRCTL_STORE_CORRUPT', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state.db'), Buffer.alloc(8192, 7));
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'DRCTL_STORE_CORRUPT' });
  });

  it('reports a full disk with DRCTL_STORE_FULL and leaves the journal as it was', async () => {
    const store = SqliteStore.open(tempDir());
    await store.createRun(run, first);
    const pages = store.database.pragma('page_count', { simple: true }) as number;
    store.database.pragma(`max_page_count = ${pages}`);
    const big = { type: 'evidence', actor: 'engine', data: { value: 'x'.repeat(200_000) } };
    const failed = store.append('r1', [big]);
    await expect(failed).rejects.toBeInstanceOf(DrctlError);
    await expect(failed).rejects.toMatchObject({ code: 'DRCTL_STORE_FULL', exitCode: 2 });
    expect((await store.getRun('r1'))?.headSeq).toBe(1);
    expect(await store.readJournal('r1')).toHaveLength(1);
    await store.close();
  });

  it('lets several drctl processes open a new state directory at once, migrating it exactly once', async () => {
    const dir = tempDir();
    const state = join(dir, 'state');
    const opened = await Promise.all(
      Array.from({ length: 6 }, () => cli(['status', '--state', state, '--json'], { cwd: dir })),
    );
    for (const result of opened) expect(result).toMatchObject({ code: 0, stderr: '' });
    const store = await openStore(state);
    expect(await store.listRuns()).toEqual([]);
    await store.close();
  }, 60_000);
});
