// The hot-standby variant of the shop: one order service per site on a synchronous PostgreSQL cluster.
// Skipped where no PostgreSQL server programs are installed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { startOrderService, type OrderServiceProcess } from '../support/order-service.ts';

async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const order = (id: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id, item: 'mug' }),
});

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!pgAvailable())('two-site order service on synchronous PostgreSQL', () => {
  let cluster: PgCluster;
  let east: OrderServiceProcess;
  let west: OrderServiceProcess;

  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
    east = await startOrderService({ DATABASE_URL: cluster.node('east').url, SITE: 'east' });
    west = await startOrderService({ DATABASE_URL: cluster.node('west').url, SITE: 'west' });
  });

  afterAll(async () => {
    await east?.kill();
    await west?.kill();
    await cluster?.close();
  });

  it('takes orders at the primary and refuses them at the standby with 503 read-only', async () => {
    expect(await call(`${east.url}/orders`, order('pg-1'))).toMatchObject({
      status: 201,
      body: { id: 'pg-1', site: 'east' },
    });
    const refused = await call(`${west.url}/orders`, order('pg-2'));
    expect(refused).toMatchObject({ status: 503, body: { error: 'read-only' } });
    expect((await call(`${east.url}/ready`)).status).toBe(200);
    expect((await call(`${west.url}/ready`)).status).toBe(503);
    expect(await call(`${west.url}/health`)).toMatchObject({
      status: 200,
      body: { store: 'postgres', mode: 'read-only' },
    });
    // The standby serves the order it received through streaming replication.
    const replicated = await eventually(async () => {
      const answer = await call(`${west.url}/orders/pg-1`);
      return answer.status === 200 ? answer : undefined;
    });
    expect(replicated.body).toMatchObject({ id: 'pg-1', site: 'west' });
  });

  it('starts taking orders at west by itself once its database is promoted', async () => {
    await cluster.node('east').kill();
    const client = new pg.Client({ connectionString: cluster.node('west').url });
    await client.connect();
    try {
      await client.query('SELECT pg_promote(true, 30)');
    } finally {
      await client.end();
    }
    await eventually(async () => ((await call(`${west.url}/ready`)).status === 200 ? true : undefined));
    expect(await call(`${west.url}/orders`, order('pg-3'))).toMatchObject({
      status: 201,
      body: { id: 'pg-3', site: 'west' },
    });
    expect((await call(`${west.url}/orders/pg-1`)).status).toBe(200);
    expect(await call(`${east.url}/orders`, order('pg-4'))).toMatchObject({
      status: 503,
      body: { error: 'database-unavailable' },
    });
  });

  it('stops reporting ready when its primary is fenced read-only, so no router sends orders there', async () => {
    const client = new pg.Client({ connectionString: cluster.node('west').url });
    await client.connect();
    try {
      // what postgres.fence with how: read-only does
      await client.query('alter system set default_transaction_read_only = on');
      await client.query('select pg_reload_conf()');
      await client.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
      );
    } finally {
      await client.end();
    }
    await eventually(async () => ((await call(`${west.url}/ready`)).status === 503 ? true : undefined));
    expect(await call(`${west.url}/orders`, order('pg-5'))).toMatchObject({ status: 503 });
  });
});
