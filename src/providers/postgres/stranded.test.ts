// An asynchronous east→west pair where east commits rows west never receives (west is stopped), east is
// lost, west is promoted and takes writes of its own, and east is rebuilt: the rebuild saves exactly the
// stranded writes, and postgres.reconcile replays them onto west, refusing the row both sides changed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../plan/model.ts';
import { PgCluster } from '../../pg/cluster.ts';
import { captureStrandedWrites, postgresProvider, strandedSummary, type Reconciliation } from './index.ts';
import { closeExecutors, executorOn } from '../../exec/index.ts';
import { freePort } from '../../system/ports.ts';
import { hostCopyPlace, localCopyPlace } from './stranded-copy.ts';
import { contextFor, planFor } from './testing.ts';

let cluster: PgCluster;
let plan: Plan;
let stateDir: string;

async function sql<T extends Record<string, unknown>>(site: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.node(site).url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function act(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const action = postgresProvider.actions[name as keyof typeof postgresProvider.actions];
  const ctx = { ...contextFor(plan, stateDir), runId: 'run-stranded' };
  const result = await action.run(action.params.parse(params), ctx);
  return { ...result.output, evidence: ctx.recorded };
}

beforeAll(async () => {
  cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'async' });
  stateDir = mkdtempSync(join(tmpdir(), 'drctl-stranded-'));
  plan = planFor(cluster, { baseDir: stateDir });
  await sql(
    'east',
    `create table orders (id int primary key, note text, amount numeric);
     create table audit (note text);
     insert into orders select g, 'replicated ' || g, g * 1.5 from generate_series(1, 20) g;
     insert into audit values ('replicated');`,
  );
  // Wait until west has everything so far: these rows replicated and must not be reported.
  for (;;) {
    const [row] = await sql<{ n: string }>('west', 'select count(*)::text as n from orders').catch(() => []);
    if (row?.n === '20') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await cluster.node('west').stop();
  // Stranded on east: inserts (one in a subtransaction), updates, a delete, a row of a table without a key.
  // (one statement per call: several in one simple query would be a single transaction)
  for (const statement of [
    "insert into orders values (101, 'stranded insert', 10)",
    `begin; update orders set note = 'stranded update' where id = 3;
       savepoint s; insert into orders values (102, 'stranded in savepoint', 11); release s; commit`,
    'delete from orders where id = 5',
    'update orders set amount = 99 where id = 7',
    "insert into audit values ('stranded audit')",
  ]) {
    await sql('east', statement);
  }
  await cluster.node('east').kill();
  await cluster.node('west').start();
  await sql('west', 'select pg_promote(true)');
  // West's own writes after the fork: a new row, and a change to the row east changed too (id 7).
  await sql(
    'west',
    "insert into orders values (200, 'west after failover', 1); update orders set note = 'west changed it' where id = 7",
  );
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
});

describe('writes stranded on a former primary', () => {
  let reconciliation: Reconciliation;

  it('rebuilding the old primary saves every stranded row and none that replicated', async () => {
    const output = await act('rebuild', { component: 'db', site: 'east', from: 'west' });
    expect(output.method).toBe('rewind');
    const dir = join(stateDir, 'runs', 'run-stranded', 'reconciliation', 'db-east');
    reconciliation = JSON.parse(readFileSync(join(dir, 'reconciliation.json'), 'utf8')) as Reconciliation;
    expect(reconciliation.status).toBe('captured');
    const rows = reconciliation.rows.map((row) => [
      row.table,
      row.change,
      row.key?.['id'] ?? null,
      row.conflict !== undefined,
    ]);
    expect(rows.sort()).toEqual(
      [
        ['public.audit', 'insert', null, false],
        ['public.orders', 'delete', 5, false],
        ['public.orders', 'insert', 101, false],
        ['public.orders', 'insert', 102, false],
        ['public.orders', 'update', 3, false],
        ['public.orders', 'update', 7, true],
      ].sort(),
    );
    const audit = reconciliation.rows.find((row) => row.table === 'public.audit');
    expect(audit).toMatchObject({ noPrimaryKey: true, after: { note: 'stranded audit' } });
    expect(reconciliation.rows.find((row) => row.change === 'delete')?.before).toMatchObject({
      id: 5,
      note: 'replicated 5',
    });
    expect(reconciliation.transactions).toBe(5);
    expect(reconciliation.tables['public.orders']).toMatchObject({
      inserted: 2,
      updated: 2,
      deleted: 1,
      conflicts: 1,
    });
    expect(Date.parse(reconciliation.lastCommitAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(reconciliation.firstCommitAt ?? ''),
    );
    expect(reconciliation.spanMs).toBeGreaterThanOrEqual(0);
    expect((output.evidence as Map<string, unknown>).get('stranded-writes')).toMatchObject({
      status: 'captured',
      rows: 6,
      transactions: 5,
      conflicts: 1,
      noPrimaryKey: 1,
      files: { json: join(dir, 'reconciliation.json'), sql: join(dir, 'reconciliation.sql') },
    });
    const script = readFileSync(join(dir, 'reconciliation.sql'), 'utf8');
    expect(script).toContain('-- CONFLICT: the new primary changed this row after the fork too');
    expect(script).toContain('stranded insert');
    expect(existsSync(`${cluster.node('east').dataDir}.drctl-stranded-${process.pid}`)).toBe(false);
    // east is a standby of west again, without the stranded rows
    expect(await sql('east', 'select count(*)::int as n from orders where id > 100 and id < 200')).toEqual([
      { n: 0 },
    ]);
  });

  it('postgres.reconcile replays the file onto the new primary and refuses the row both sides changed', async () => {
    const output = await act('reconcile', { component: 'db', site: 'west' });
    expect(output).toMatchObject({ applied: 5, dryRun: false });
    expect(output.refused).toEqual([
      expect.objectContaining({
        table: 'public.orders',
        change: 'update',
        key: { id: 7 },
        reason: 'the new primary changed this row after the fork too',
      }),
    ]);
    expect(
      await sql(
        'west',
        'select id, note, amount::text from orders where id in (3, 5, 7, 101, 102, 200) order by id',
      ),
    ).toEqual([
      { id: 3, note: 'stranded update', amount: '4.5' },
      { id: 7, note: 'west changed it', amount: '10.5' },
      { id: 101, note: 'stranded insert', amount: '10' },
      { id: 102, note: 'stranded in savepoint', amount: '11' },
      { id: 200, note: 'west after failover', amount: '1' },
    ]);
    expect(await sql('west', "select count(*)::int as n from audit where note = 'stranded audit'")).toEqual([
      { n: 1 },
    ]);
    // Replayed again, every row now meets what is already there: nothing applied twice.
    const again = await act('reconcile', { component: 'db', site: 'west' });
    expect(again.applied).toBe(0);
    expect((again.refused as unknown[]).length).toBe(6);
  });

  it('an old primary whose data directory is gone reports the loss as unknown, never zero', async () => {
    const result = await captureStrandedWrites(
      { component: 'db', site: 'east' },
      {
        place: localCopyPlace(
          cluster.binaries,
          join(stateDir, 'no-such-data-dir'),
          join(stateDir, 'scratch'),
        ),
        oldUrl: cluster.node('east').url,
        source: { subject: { component: 'db', site: 'west' }, url: cluster.node('west').url },
      },
    );
    expect(result.status).toBe('unknown');
    expect(result.reason).toContain('gone');
    expect(result.transactions).toBeUndefined();
  });

  it('an old primary whose host cannot be reached reports the loss as unknown, never zero', async () => {
    // east on a host whose SSH port refuses connections, here on loopback
    const host = {
      id: 'db-east',
      site: 'east',
      address: '127.0.0.1',
      port: await freePort(),
      user: undefined,
      identityFile: undefined,
      passphraseEnv: undefined,
      jump: undefined,
      knownHostsFile: undefined,
      connectTimeoutMs: 2_000,
      stateDir: '.drctl',
      at: plan.at,
    };
    const onHost: Plan = {
      ...plan,
      sites: plan.sites.map((site) => (site.id === 'east' ? { ...site, hosts: [host] } : site)),
      workloads: plan.workloads.map((workload) => ({
        ...workload,
        components: workload.components.map((component) => ({
          ...component,
          placement: component.placement.map((p) => (p.site === 'east' ? { ...p, host: 'db-east' } : p)),
        })),
      })),
    };
    // the rebuild cannot stop it: the step fails, and its run says the stranded writes are unknown
    const ctx = { ...contextFor(onHost, stateDir), runId: 'run-unreachable' };
    const rebuild = postgresProvider.actions.rebuild;
    const params = rebuild.params.parse({ component: 'db', site: 'east', from: 'west' });
    await expect(rebuild.run(params, ctx)).rejects.toMatchObject({ code: 'DRCTL_HOST_UNREACHABLE' });
    expect(ctx.recorded.get('stranded-writes')).toMatchObject({ status: 'unknown', rows: null });
    const file = join(
      stateDir,
      'runs',
      'run-unreachable',
      'reconciliation',
      'db-east',
      'reconciliation.json',
    );
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Reconciliation;
    expect(saved).toMatchObject({ status: 'unknown', rows: [] });
    expect(saved.reason).toContain('host db-east (127.0.0.1)');
    // and a capture that finds the host gone says the same
    const executor = executorOn(onHost, 'db-east');
    const place = hostCopyPlace({
      executor,
      dataDir: '/srv/db',
      listenAddress: '127.0.0.1',
      binDir: undefined,
    });
    const source = { subject: { component: 'db', site: 'west' }, url: cluster.node('west').url };
    const result = await captureStrandedWrites(
      { component: 'db', site: 'east' },
      { place, oldUrl: cluster.node('east').url, source },
    );
    expect(result).toMatchObject({ status: 'unknown', rows: [] });
    expect(strandedSummary(result).rows).toBeNull();
    await closeExecutors();
  });
});
