/**
 * The state store's conformance suite: every `RunStore` implementation's test calls `storeConformance`
 * with a factory for a fresh, empty store, so each store is held to one contract.
 */
import { describe, expect, it } from 'vitest';
import { verifyEvents } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';

export type StoreFactory = () => Promise<RunStore>;

export function storeConformance(name: string, open: StoreFactory): void {
  describe(`${name} store conformance`, () => {
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
