// A fault proxy on the replication link: what a drill places between the sites' databases.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/chaos/index.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';

let cluster: PgCluster | undefined;
let proxy: FaultProxy | undefined;
afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

async function query(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** The ids at `url` once they stop changing for replay to catch up (a commit waits for the flush, not the replay). */
async function idsAt(url: string, expected: number[]): Promise<number[]> {
  let ids: number[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    ids = (await query(url, 'select id from orders order by id')).rows.map((row: { id: number }) => row.id);
    if (ids.join() === expected.join()) break;
    await sleep(100);
  }
  return ids;
}

describe.skipIf(!pgAvailable())('replication through a fault proxy', () => {
  it('holds a synchronous commit while the link between the sites is blackholed, and lets it through after', async () => {
    cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
    proxy = await FaultProxy.create({ target: cluster.node('east').port });
    await cluster.replicateThrough('east', 'west', proxy.port);
    const east = cluster.node('east').url;
    const west = cluster.node('west').url;
    await query(east, 'create table orders (id int primary key)');
    await query(east, 'insert into orders values (1)');
    expect(await idsAt(west, [1])).toEqual([1]);

    proxy.set({ kind: 'blackhole' });
    let committed = false;
    const held = query(east, 'insert into orders values (2)').then(() => (committed = true));
    await sleep(1_000);
    // the commit waits for west, which hears nothing: not acknowledged, not at west
    expect(committed).toBe(false);
    expect((await query(west, 'select id from orders order by id')).rows).toEqual([{ id: 1 }]);

    proxy.clear();
    await held;
    expect(await idsAt(west, [1, 2])).toEqual([1, 2]);
  });
});
