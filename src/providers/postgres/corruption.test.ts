// A bad DELETE journaled by postgres.corrupt, then undone two ways: a point-in-time restore that stops just
// before the bad transaction, and a delayed standby recovered to before it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster, freePort } from '../../pg/cluster.ts';
import { flushWalArchive, postgresProvider } from './index.ts';
import { contextFor, planFor } from './testing.ts';
import type { Plan } from '../../plan/model.ts';

let cluster: PgCluster;
let plan: Plan;
let stateDir: string;

async function sql<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function act(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const action = postgresProvider.actions[name as keyof typeof postgresProvider.actions];
  const result = await action.run(action.params.parse(params), contextFor(plan, stateDir));
  return result.output ?? {};
}

const ids = async (url: string): Promise<number[]> =>
  (await sql<{ id: number }>(url, 'select id from orders order by id')).map((row) => row.id);

beforeAll(async () => {
  cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'async' });
  stateDir = mkdtempSync(join(tmpdir(), 'drctl-corruption-'));
  plan = planFor(cluster, { baseDir: stateDir, backupPath: join(cluster.dir, 'backups') });
  // west is a delayed standby: it receives WAL at once and applies it an hour late
  plan.workloads[0]!.components[0]!.placement[1]!.fields.apply_delay = '1h';
  await sql(cluster.node('east').url, "create table orders (id int primary key, note text default 'good')");
  await sql(cluster.node('east').url, 'insert into orders (id) select generate_series(1, 10)');
  // let west apply the table before the delay starts holding everything back
  for (;;) {
    const rows = await sql<{ n: number }>(
      cluster.node('west').url,
      'select count(*)::int as n from orders',
    ).catch(() => []);
    if (rows[0]?.n === 10) break;
    await sleep(50);
  }
  await sql(cluster.node('west').url, "alter system set recovery_min_apply_delay = '1h'");
  await sql(cluster.node('west').url, 'select pg_reload_conf()');
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
});

describe('restoring to before a bad transaction', () => {
  it('readiness shows the delay the standby applies against the one the plan promises', async () => {
    const facts = await postgresProvider.readiness(
      plan.workloads[0]!.components[0]!,
      contextFor(plan, stateDir),
    );
    expect(facts.find((fact) => fact.name === 'apply-delay')).toMatchObject({
      site: 'west',
      ok: true,
      value: 3_600_000,
      limit: 3_600_000,
    });
  });

  it('postgres.corrupt deletes N rows in one transaction and journals it; restore-pitr before: last-corruption brings them back and nothing after', async () => {
    const east = cluster.node('east').url;
    await act('basebackup', { component: 'db', site: 'east' });
    await sql(east, 'insert into orders (id) values (11), (12)');
    const corruption = await act('corrupt', { component: 'db', site: 'east', table: 'orders', rows: 4 });
    expect(corruption).toMatchObject({ table: 'orders', change: 'delete', rows: 4 });
    expect(await ids(east)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    await sql(east, 'insert into orders (id) values (13)'); // a good write after the damage: lost by the restore
    await flushWalArchive({ subject: { component: 'db', site: 'east' }, url: east });
    const port = await freePort();
    const restored = await act('restore-pitr', {
      component: 'db',
      site: 'east',
      before: 'last-corruption',
      data_dir: join(cluster.dir, 'restored'),
      port,
    });
    expect(restored).toMatchObject({ beforeXid: corruption.xid });
    const url = new URL(east);
    url.port = String(port);
    expect(await ids(url.toString())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('a delayed standby recovers to just before the bad DELETE and is promoted', async () => {
    const west = cluster.node('west').url;
    const east = cluster.node('east').url;
    // wait until west has received (not applied) everything east wrote, the corruption included
    for (;;) {
      const [sent] = await sql<{ lsn: string }>(east, 'select pg_current_wal_lsn()::text as lsn');
      const [got] = await sql<{ ok: boolean }>(
        west,
        `select pg_last_wal_receive_lsn() >= '${sent?.lsn ?? '0/0'}' as ok`,
      );
      if (got?.ok === true) break;
      await sleep(50);
    }
    // still an hour behind: the rows written since the delay started are not applied
    expect(await ids(west)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const recovery = await act('recover-delayed', {
      component: 'db',
      site: 'west',
      before: 'last-corruption',
    });
    expect(recovery).toMatchObject({ delayMs: 3_600_000 });
    expect(await ids(west)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await sql(west, 'insert into orders (id) values (100)'); // promoted: it takes writes
  });
});
