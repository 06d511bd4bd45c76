import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.ts';
import { Switchboard } from '../../src/chaos/switchboard.ts';
import { startOrderService } from '../support/order-service.ts';

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('two-site order service on SQLite', () => {
  const dir = tempDir('drctl-orders-');

  it('acknowledges an order only once it is committed to the database file', async () => {
    const dbPath = join(dir, 'east.db');
    const service = await startOrderService({ DB_PATH: dbPath, SITE: 'east' });
    try {
      const placed = await post(service.url, { id: 'order-1', item: 'mug', qty: 2 });
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ id: 'order-1', item: 'mug', qty: 2, site: 'east' });
      expect(typeof placed.body.seq).toBe('number');

      // Read the file from outside the service: the 201 means the row is already there.
      const db = new Database(dbPath, { readonly: true });
      expect(db.prepare('SELECT id, qty FROM orders').all()).toEqual([{ id: 'order-1', qty: 2 }]);
      db.close();

      expect((await get(`${service.url}/orders/order-1`)).body).toMatchObject({
        id: 'order-1',
        seq: placed.body.seq,
      });
      expect((await get(`${service.url}/orders/missing`)).status).toBe(404);
      const health = await get(`${service.url}/health`);
      expect(health).toEqual({
        status: 200,
        body: { status: 'ok', site: 'east', store: 'sqlite', mode: 'read-write' },
      });
    } finally {
      await service.kill();
    }
  });

  it('answers a repeated order id with the stored order instead of writing it twice', async () => {
    const service = await startOrderService({ DB_PATH: join(dir, 'repeat.db') });
    try {
      const first = await post(service.url, { id: 'same', item: 'mug' });
      const second = await post(service.url, { id: 'same', item: 'mug' });
      expect(first.status).toBe(201);
      expect(second.status).toBe(200);
      expect(second.body.seq).toBe(first.body.seq);
    } finally {
      await service.kill();
    }
  });

  it('rejects an order for an unknown item with a clear message', async () => {
    const service = await startOrderService({ DB_PATH: join(dir, 'bad.db') });
    try {
      const placed = await post(service.url, { item: 'piano' });
      expect(placed.status).toBe(400);
      expect(placed.body.message).toMatch(/item must be one of/);
    } finally {
      await service.kill();
    }
  });

  it('refuses writes with 503 read-only while still serving reads when its database is read-only', async () => {
    const dbPath = join(dir, 'standby.db');
    const writer = await startOrderService({ DB_PATH: dbPath });
    await post(writer.url, { id: 'before-snapshot', item: 'mug' });
    await writer.kill('SIGTERM');

    const standby = await startOrderService({ DB_PATH: dbPath, DB_READONLY: '1', SITE: 'west' });
    try {
      const refused = await post(standby.url, { id: 'during-outage', item: 'mug' });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'read-only' });
      expect(refused.body.message).toMatch(/west is read-only/);
      expect((await get(`${standby.url}/orders/before-snapshot`)).status).toBe(200);
      expect((await get(`${standby.url}/catalog`)).status).toBe(200);
      expect(await get(`${standby.url}/health`)).toMatchObject({ status: 200, body: { mode: 'read-only' } });
      expect((await get(`${standby.url}/ready`)).status).toBe(503);
    } finally {
      await standby.kill();
    }
  });
});

describe('two-site order service with the switchboard', () => {
  const dir = tempDir('drctl-orders-flags-');
  let board: Switchboard;
  beforeAll(async () => {
    board = await Switchboard.create();
  });
  afterAll(async () => board?.close());

  it('fails the orders module on purpose while the catalog keeps working when the orders flag is on', async () => {
    const service = await startOrderService({
      DB_PATH: join(dir, 'shop.db'),
      SWITCHBOARD_URL: board.url,
      SWITCHBOARD_CACHE_MS: '50',
    });
    try {
      expect((await post(service.url, { id: 'before', item: 'mug' })).status).toBe(201);

      board.set('orders.fail', true);
      const refused = await eventually(async () => {
        const answer = await post(service.url, { id: 'during', item: 'mug' });
        return answer.status === 503 ? answer : undefined;
      });
      expect(refused.body).toMatchObject({ error: 'orders-unavailable', module: 'orders' });
      expect(refused.body.message).toMatch(/catalog/);
      expect((await get(`${service.url}/orders/before`)).status).toBe(503);
      // the site stays ready: the front door keeps it, and with it the catalog
      expect((await get(`${service.url}/ready`)).status).toBe(200);
      const catalog = await get(`${service.url}/catalog`);
      expect(catalog.status).toBe(200);
      expect(Array.isArray(catalog.body.products)).toBe(true);

      board.unset('orders.fail');
      const restored = await eventually(async () => {
        const answer = await post(service.url, { id: 'after', item: 'mug' });
        return answer.status === 201 ? answer : undefined;
      });
      expect(restored.body).toMatchObject({ id: 'after' });
    } finally {
      await service.kill();
    }
  });

  it('slows the orders module down by the number of milliseconds the flag holds', async () => {
    const service = await startOrderService({
      DB_PATH: join(dir, 'slow.db'),
      SWITCHBOARD_URL: board.url,
      SWITCHBOARD_CACHE_MS: '0',
    });
    try {
      board.set('orders.fail', 300);
      const started = performance.now();
      expect((await post(service.url, { item: 'mug' })).status).toBe(201);
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      board.unset('orders.fail');
      await service.kill();
    }
  });

  it('keeps taking orders when the switchboard cannot be reached', async () => {
    const service = await startOrderService({
      DB_PATH: join(dir, 'alone.db'),
      SWITCHBOARD_URL: 'http://127.0.0.1:9',
    });
    try {
      expect((await post(service.url, { item: 'mug' })).status).toBe(201);
    } finally {
      await service.kill();
    }
  });
});

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
