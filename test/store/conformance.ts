/**
 * The state store's conformance suite: every `RunStore` implementation's test calls `storeConformance`
 * with a factory for a fresh, empty store (and a way to open the same store again, as a second drctl
 * process would), so each store is held to one contract.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { verifyChain, verifyEvents } from '../../src/store/index.ts';
import type { JournalInput, LeaseRequest, RunStore } from '../../src/store/index.ts';

export interface StoreFactory {
  /** A fresh, empty store. */
  (): Promise<RunStore>;
}

/** Opens the store `store` is a handle on, as another process would (its own connections, its own locks). */
export type ReopenStore = (store: RunStore) => Promise<RunStore>;

const RUN = {
  id: 'r1',
  workload: 'shop',
  runbook: 'failover',
  planHash: 'h',
  planFile: '/plan.yaml',
  startedBy: 'alice',
};
const FIRST: JournalInput = { type: 'run-created', actor: 'alice', data: { steps: [] } };
const step = (id: string, type = 'step-started'): JournalInput => ({
  type,
  step: id,
  actor: 'engine',
  data: { attempt: 1 },
});
const lease = (owner: string, ttlMs = 10_000): LeaseRequest => ({
  owner,
  pid: process.pid,
  host: 'conformance',
  ttlMs,
});

export function storeConformance(name: string, open: StoreFactory, reopen: ReopenStore): void {
  describe(`${name} store conformance`, () => {
    it('appends records in order with a hash chain that verifies and reads them back exactly', async () => {
      const store = await open();
      try {
        const first = await store.createRun(RUN, FIRST);
        expect(first).toMatchObject({ runId: 'r1', seq: 1, type: 'run-created' });
        const data = { nested: { b: [1, 2.5, 'x'], a: null }, text: 'Zürich — 東京', big: 2 ** 40 };
        const written = await store.append('r1', [
          step('a'),
          { type: 'evidence', step: 'a', actor: 'engine', data },
          step('a', 'step-succeeded'),
        ]);
        expect(written.map((record) => record.seq)).toEqual([2, 3, 4]);
        const records = await store.readJournal('r1');
        expect(records.map((record) => record.seq)).toEqual([1, 2, 3, 4]);
        expect(records[2]?.data).toEqual(data);
        expect(records[1]?.step).toBe('a');
        expect(records[0]?.step).toBeUndefined();
        expect((await store.readJournal('r1', 2)).map((record) => record.seq)).toEqual([3, 4]);
        const run = await store.getRun('r1');
        expect(run).toMatchObject({ id: 'r1', status: 'running', headSeq: 4, headHash: written[2]?.hash });
        expect(run && verifyChain(run, records).ok).toBe(true);
        const edited = records.map((record) => (record.seq === 3 ? { ...record, actor: 'mallory' } : record));
        expect(run && verifyChain(run, edited)).toMatchObject({ ok: false, problem: { seq: 3 } });
        await store.append('r1', [{ type: 'run-finished', actor: 'engine', data: {} }], {
          status: 'succeeded',
        });
        expect(await store.getRun('r1')).toMatchObject({ status: 'succeeded', headSeq: 5 });
        expect((await store.listRuns()).map((listed) => listed.id)).toEqual(['r1']);
        await expect(store.append('nope', [step('a')])).rejects.toMatchObject({
          code: 'DRCTL_RUN_NOT_FOUND',
        });
      } finally {
        await store.close();
      }
    });

    it('refuses an append when the head moved (optimistic concurrency) and writes nothing', async () => {
      const store = await open();
      try {
        await store.createRun(RUN, FIRST);
        await store.append('r1', [step('a')], { expectHeadSeq: 1 });
        await expect(store.append('r1', [step('b')], { expectHeadSeq: 1 })).rejects.toMatchObject({
          code: 'DRCTL_STORE_CONFLICT',
          exitCode: 2,
        });
        expect((await store.getRun('r1'))?.headSeq).toBe(2);
        expect(await store.readJournal('r1')).toHaveLength(2);
      } finally {
        await store.close();
      }
    });

    it('lets one owner hold a lease with a fencing token that grows with every new owner', async () => {
      const store = await open();
      try {
        await store.createRun(RUN, FIRST);
        const one = await store.acquireLease('r1', lease('one'));
        expect(one).toMatchObject({ runId: 'r1', owner: 'one', host: 'conformance' });
        expect(one.expiresAt.getTime()).toBeGreaterThan(Date.now());
        const renewed = await store.acquireLease('r1', { ...lease('one'), token: one.token });
        expect(renewed.token).toBe(one.token);
        await expect(store.acquireLease('r1', lease('two'))).rejects.toMatchObject({
          code: 'DRCTL_RUN_LOCKED',
          exitCode: 2,
        });
        expect((await store.getLease('r1'))?.owner).toBe('one');
        await store.append('r1', [step('a')], { leaseOwner: 'one', fencingToken: one.token });
        await expect(store.append('r1', [step('b')], { leaseOwner: 'two' })).rejects.toMatchObject({
          code: 'DRCTL_RUN_LEASE_LOST',
        });
        await store.releaseLease('r1', 'one');
        expect(await store.getLease('r1')).toBeUndefined();
        const two = await store.acquireLease('r1', lease('two'));
        expect(two.token).toBeGreaterThan(one.token);
        // the former owner is fenced: neither its appends nor its renewals go through
        await expect(
          store.append('r1', [step('b')], { leaseOwner: 'one', fencingToken: one.token }),
        ).rejects.toMatchObject({ code: 'DRCTL_RUN_LEASE_LOST' });
        await expect(store.append('r1', [step('b')], { fencingToken: one.token })).rejects.toMatchObject({
          code: 'DRCTL_RUN_LEASE_LOST',
        });
        await expect(store.acquireLease('r1', { ...lease('one'), token: one.token })).rejects.toMatchObject({
          code: 'DRCTL_RUN_LEASE_LOST',
        });
        expect((await store.getRun('r1'))?.headSeq).toBe(2);
        await store.append('r1', [step('b')], { leaseOwner: 'two', fencingToken: two.token });
        expect((await store.getRun('r1'))?.headSeq).toBe(3);
      } finally {
        await store.close();
      }
    });

    it('lets another owner take an expired lease, and fences the one that let it expire', async () => {
      const store = await open();
      try {
        await store.createRun(RUN, FIRST);
        const paused = await store.acquireLease('r1', lease('paused', 100));
        await sleep(250);
        const taker = await store.acquireLease('r1', lease('taker'));
        expect(taker.token).toBe(paused.token + 1);
        await expect(
          store.append('r1', [step('a')], { leaseOwner: 'paused', fencingToken: paused.token }),
        ).rejects.toMatchObject({ code: 'DRCTL_RUN_LEASE_LOST' });
        await expect(
          store.acquireLease('r1', { ...lease('paused'), token: paused.token }),
        ).rejects.toMatchObject({ code: 'DRCTL_RUN_LEASE_LOST' });
        expect((await store.getLease('r1'))?.owner).toBe('taker');
      } finally {
        await store.close();
      }
    });

    it('elects one leader per key for things that are not runs (a monitor per workload)', async () => {
      const store = await open();
      try {
        const leader = await store.acquireLease('monitor:shop', lease('east'));
        await expect(store.acquireLease('monitor:shop', lease('west'))).rejects.toMatchObject({
          code: 'DRCTL_RUN_LOCKED',
        });
        await expect(store.acquireLease('monitor:billing', lease('west'))).resolves.toMatchObject({
          owner: 'west',
        });
        await store.releaseLease('monitor:shop', 'east');
        const next = await store.acquireLease('monitor:shop', lease('west'));
        expect(next.token).toBeGreaterThan(leader.token);
      } finally {
        await store.close();
      }
    });

    it('keeps drill reports, replaces one saved again, and lists them newest first by workload and scenario', async () => {
      const store = await open();
      try {
        const report = (id: string, scenario: string, minute: number, passed = true) => ({
          id,
          workload: 'shop',
          scenario,
          planHash: 'h',
          startedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)),
          passed,
          detectionMs: 240,
          rtoMs: passed ? 1_200.5 : undefined,
          lostWrites: 0,
          report: { id, timeline: [{ at: 1, kind: 'fault' }] },
        });
        await store.saveDrillReport(report('d1', 'east-killed', 1));
        await store.saveDrillReport(report('d2', 'east-killed', 2));
        await store.saveDrillReport(report('d3', 'east-cut-off', 3));
        await store.saveDrillReport(report('d1', 'east-killed', 1, false));
        const killed = await store.listDrillReports({ workload: 'shop', scenario: 'east-killed' });
        expect(killed.map((kept) => kept.id)).toEqual(['d2', 'd1']);
        expect(killed[1]).toMatchObject({ passed: false, rtoMs: undefined, detectionMs: 240 });
        expect(killed[0]).toMatchObject({ rtoMs: 1_200.5, report: { id: 'd2' } });
        expect(killed[0]?.startedAt.toISOString()).toBe('2026-01-01T00:02:00.000Z');
        expect((await store.listDrillReports({ limit: 1 })).map((kept) => kept.id)).toEqual(['d3']);
      } finally {
        await store.close();
      }
    });

    it('keeps documents per collection with a version that refuses stale writes', async () => {
      const store = await open();
      try {
        const created = await store.putDocument('tokens', 't1', { name: 'alice' }, { expectVersion: 0 });
        expect(created).toMatchObject({
          collection: 'tokens',
          id: 't1',
          version: 1,
          data: { name: 'alice' },
        });
        await expect(
          store.putDocument('tokens', 't1', { name: 'mallory' }, { expectVersion: 0 }),
        ).rejects.toMatchObject({ code: 'DRCTL_STORE_CONFLICT' });
        const updated = await store.putDocument(
          'tokens',
          't1',
          { name: 'alice', revoked: true },
          { expectVersion: 1 },
        );
        expect(updated.version).toBe(2);
        expect(updated.createdAt.getTime()).toBe(created.createdAt.getTime());
        await store.putDocument('incidents', 't1', { title: 'east lost' });
        expect((await store.getDocument('tokens', 't1'))?.data).toEqual({ name: 'alice', revoked: true });
        expect((await store.listDocuments('tokens')).map((doc) => doc.id)).toEqual(['t1']);
        expect(await store.deleteDocument('tokens', 't1')).toBe(true);
        expect(await store.deleteDocument('tokens', 't1')).toBe(false);
        expect(await store.getDocument('tokens', 't1')).toBeUndefined();
        expect(await store.getDocument('incidents', 't1')).toBeDefined();
      } finally {
        await store.close();
      }
    });

    it('chains event streams independently, and the chain verifies', async () => {
      const store = await open();
      try {
        for (let index = 0; index < 5; index += 1) {
          await store.appendEvent('audit', { type: 'token-created', actor: 'admin', data: { index } });
        }
        await store.appendEvent('messages', { type: 'sent', actor: 'notifier', data: {} });
        const audit = await store.readEvents('audit');
        expect(audit.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(verifyEvents('audit', audit).ok).toBe(true);
        expect((await store.readEvents('messages')).map((record) => record.seq)).toEqual([1]);
        expect((await store.readEvents('audit', { afterSeq: 3 })).map((record) => record.seq)).toEqual([
          4, 5,
        ]);
        const newest = await store.readEvents('audit', { newestFirst: true, limit: 2 });
        expect(newest.map((record) => record.seq)).toEqual([5, 4]);
        const tampered = audit.map((record) => (record.seq === 2 ? { ...record, actor: 'mallory' } : record));
        expect(verifyEvents('audit', tampered)).toMatchObject({ ok: false, problem: { seq: 2 } });
      } finally {
        await store.close();
      }
    });

    it('serialises two processes appending to one run: no gap, no fork, and one winner per expected head', async () => {
      const first = await open();
      const second = await reopen(first);
      try {
        await first.createRun(RUN, FIRST);
        await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            Promise.all([
              first.append('r1', [step(`first-${index}`)]),
              second.append('r1', [step(`second-${index}`), step(`second-${index}`, 'step-succeeded')]),
            ]),
          ),
        );
        const records = await second.readJournal('r1');
        expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
        const run = await first.getRun('r1');
        expect(run && verifyChain(run, records).ok).toBe(true);
        const racing = await Promise.allSettled([
          first.append('r1', [step('x')], { expectHeadSeq: 31 }),
          second.append('r1', [step('y')], { expectHeadSeq: 31 }),
        ]);
        expect(racing.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
        expect(racing.find((result) => result.status === 'rejected')).toMatchObject({
          reason: { code: 'DRCTL_STORE_CONFLICT' },
        });
        const leases = await Promise.allSettled([
          first.acquireLease('r1', lease('first')),
          second.acquireLease('r1', lease('second')),
        ]);
        expect(leases.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      } finally {
        await second.close();
        await first.close();
      }
    });

    it('appends events from concurrent writers without gaps', async () => {
      const store = await open();
      try {
        await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            store.appendEvent('audit', { type: 'call', actor: `user${index}`, data: {} }),
          ),
        );
        const records = await store.readEvents('audit');
        expect(records.map((record) => record.seq)).toEqual(
          Array.from({ length: 20 }, (_, index) => index + 1),
        );
        expect(verifyEvents('audit', records).ok).toBe(true);
      } finally {
        await store.close();
      }
    });
  });
}
