// One synchronous east→west cluster is shared by these tests to keep the suite fast; they run in order and
// walk through a failover and a failback, so each test states the state it starts from.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import { PgCluster } from '../../pg/cluster.ts';
import { postgresProvider, type ReplicationStatus } from './index.ts';
import { contextFor, planFor, type TestContext } from './testing.ts';
import { canaryLoss, ensureCanaryTable, readCanary, writeCanary, type AcknowledgedWrite } from './canary.ts';

let cluster: PgCluster;
let plan: Plan;
let stateDir: string;

async function act(
  name: string,
  params: Record<string, unknown>,
  target: Plan = plan,
  step: { runId: string; stepId: string } | undefined = undefined,
): Promise<{ output: Record<string, unknown> | undefined; summary: string; ctx: TestContext }> {
  const action = postgresProvider.actions[name as keyof typeof postgresProvider.actions];
  const ctx = { ...contextFor(target, stateDir), ...step };
  const result = await action.run(action.params.parse(params), ctx);
  return { output: result.output, summary: result.summary, ctx };
}

const PROMOTE_STEP = { runId: 'run-1', stepId: 'promote-west' };

async function sql<T extends Record<string, unknown>>(
  site: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.node(site).url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function status(): Promise<ReplicationStatus> {
  return (await act('status', { component: 'db' })).output as unknown as ReplicationStatus;
}

async function rejection(promise: Promise<unknown>): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DrctlError);
  return error as DrctlError;
}

beforeAll(async () => {
  cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
  stateDir = mkdtempSync(join(tmpdir(), 'drctl-pg-state-'));
  plan = planFor(cluster, { baseDir: stateDir });
  await sql('east', 'create table orders (id bigserial primary key, note text)');
  await sql('east', "insert into orders (note) values ('first')");
});

afterAll(async () => {
  await cluster?.close();
  if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
});

describe('postgres provider reading a real synchronous cluster', () => {
  it('reports east as primary with west as its synchronous standby, streaming', async () => {
    const result = await status();
    expect(result.primary).toBe('east');
    expect(result.mode).toBe('sync');
    expect(result.nodes.map((node) => [node.site, node.role, node.reachable])).toEqual([
      ['east', 'primary', true],
      ['west', 'standby', true],
    ]);
    expect(result.nodes[1]?.streaming).toBe(true);
  });

  it('measures lag that grows while replay is paused under writes and returns to zero after resume', async () => {
    await sql('west', 'select pg_wal_replay_pause()');
    try {
      // Synchronous commit waits for the standby's flush, not its replay, so writes go on while replay waits.
      for (let i = 0; i < 20; i++) await sql('east', "insert into orders (note) values ('during pause')");
      const first = await status();
      await sleep(300);
      await sql('east', "insert into orders (note) values ('later')");
      const second = await status();
      expect(first.lagBytes).toBeGreaterThan(0);
      expect(first.lagSeconds).toBeGreaterThan(0);
      expect(second.lagBytes).toBeGreaterThan(first.lagBytes ?? 0);
      expect(second.lagSeconds).toBeGreaterThan(first.lagSeconds ?? 0);
      expect(second.nodes.find((node) => node.site === 'west')?.replayPaused).toBe(true);
    } finally {
      await sql('west', 'select pg_wal_replay_resume()');
    }
    let caughtUp: ReplicationStatus | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      caughtUp = await status();
      if (caughtUp.lagBytes === 0 && caughtUp.lagSeconds === 0) break;
      await sleep(50);
    }
    expect(caughtUp?.lagBytes).toBe(0);
    expect(caughtUp?.lagSeconds).toBe(0);
  });

  it('reports replication lag within the RPO as a readiness fact', async () => {
    const facts = await postgresProvider.readiness(
      plan.workloads[0]!.components[0]!,
      contextFor(plan, stateDir),
    );
    const lag = facts.find((fact) => fact.name === 'replication-lag');
    expect(lag).toMatchObject({ site: 'west', ok: true, value: 0, limit: 5_000 });
    expect(facts.filter((fact) => fact.name === 'reachable').every((fact) => fact.ok)).toBe(true);
  });

  it('refuses to promote a server that is already a primary, naming component and site', async () => {
    const error = await rejection(act('promote', { component: 'db', site: 'east' }));
    expect(error.code).toBe('DRCTL_PG_ALREADY_PRIMARY');
    expect(error.message).toContain('component db at site east');
  });

  it('reports wrong credentials as DRCTL_PG_AUTH naming component and site', async () => {
    const badUrl = cluster.node('west').urlFor(cluster.database, 'postgres', 'wrong-password');
    const badPlan = planFor(cluster, { baseDir: stateDir, urls: { west: badUrl } });
    const error = await rejection(act('promote', { component: 'db', site: 'west' }, badPlan));
    expect(error.code).toBe('DRCTL_PG_AUTH');
    expect(error.message).toContain('component db at site west');
    expect(error.message).not.toContain('wrong-password');
    // Nothing happened to the standby.
    expect((await status()).nodes.find((node) => node.site === 'west')?.role).toBe('standby');
  });

  it('reports a standby check on a primary as failed, not as streaming', async () => {
    const check = postgresProvider.checks.streaming;
    const result = await check.run(
      check.params.parse({ component: 'db', site: 'east' }),
      contextFor(plan, stateDir),
    );
    expect(result.ok).toBe(false);
    expect(result.message).toContain('primary');
  });
});

describe('postgres provider failing a real synchronous cluster over and back', () => {
  it('fencing the old primary makes writes fail and cuts its open sessions', async () => {
    const acknowledged: AcknowledgedWrite[] = [];
    const writer = new pg.Client({ connectionString: cluster.node('east').url });
    writer.on('error', () => undefined);
    await writer.connect();
    await ensureCanaryTable(writer);
    for (let seq = 1; seq <= 50; seq++) {
      await writeCanary(writer, seq);
      acknowledged.push({ seq, ackedAt: Date.now() });
    }
    const { output } = await act('fence', { component: 'db', site: 'east' });
    expect(output).toMatchObject({ fenced: true, reachable: true });
    await expect(writer.query('select 1')).rejects.toThrow();
    await writer.end().catch(() => undefined);
    const error = await sql('east', "insert into orders (note) values ('after fence')").catch(
      (caught: unknown) => caught,
    );
    expect((error as { code?: string }).code).toBe('25006'); // read_only_sql_transaction

    // Promote west (the next test checks it in detail) and count the canary: sync replication lost nothing.
    const promoted = await act('promote', { component: 'db', site: 'west' }, plan, PROMOTE_STEP);
    expect(promoted.output).toMatchObject({ how: 'sql' });
    // what west's data is current to: the commit time of the last canary write it replayed
    const dataAsOf = Date.parse(String(promoted.output?.dataAsOf));
    expect(dataAsOf).toBeGreaterThanOrEqual(acknowledged.at(-1)!.ackedAt - 1_000);
    expect(dataAsOf).toBeLessThanOrEqual(Date.now());
    const client = new pg.Client({ connectionString: cluster.node('west').url });
    await client.connect();
    const loss = canaryLoss(acknowledged, await readCanary(client));
    await client.end();
    expect(loss).toEqual({ acknowledged: 50, lost: [], lostSeconds: 0 });
  });

  it('promote made the standby writable and the primary of the component', async () => {
    // run again as a resumed run would: the primary it made is not promoted again, and not refused
    const again = await act('promote', { component: 'db', site: 'west' }, plan, PROMOTE_STEP);
    expect(again.summary).toMatch(/^not promoted again: an earlier attempt of this step promoted db at west/);
    await sql('west', "insert into orders (note) values ('on west')");
    const result = await status();
    expect(result.nodes.find((node) => node.site === 'west')?.role).toBe('primary');
    // East is still up but fenced, so it does not count as the primary.
    expect(result.primary).toBe('west');
    const check = postgresProvider.checks.writable;
    expect(
      (await check.run(check.params.parse({ component: 'db', site: 'west' }), contextFor(plan, stateDir))).ok,
    ).toBe(true);
    expect(
      (await check.run(check.params.parse({ component: 'db', site: 'east' }), contextFor(plan, stateDir))).ok,
    ).toBe(false);
  });

  it('failback rebuilds the old primary as a synchronous standby of the new one and replication resumes', async () => {
    const { output } = await act('rebuild', { component: 'db', site: 'east', from: 'west' });
    expect(output).toMatchObject({ method: 'rewind', synchronous: true });
    await sql('west', "insert into orders (note) values ('after failback')");
    // Synchronous again: the commit above returned once east had flushed it; replay follows quickly.
    let rows: Array<{ n: string }> = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      rows = await sql<{ n: string }>(
        'east',
        "select count(*)::text as n from orders where note = 'after failback'",
      );
      if (rows[0]?.n === '1') break;
      await sleep(50);
    }
    expect(rows[0]?.n).toBe('1');
    const result = await status();
    expect(result.primary).toBe('west');
    expect(result.mode).toBe('sync');
    expect(result.nodes.find((node) => node.site === 'east')).toMatchObject({
      role: 'standby',
      streaming: true,
      fenced: false,
    });
  });

  it('refuses to rebuild from a source that is a standby', async () => {
    const error = await rejection(act('rebuild', { component: 'db', site: 'west', from: 'east' }));
    expect(error.code).toBe('DRCTL_PG_NOT_PRIMARY');
    expect(error.message).toContain('component db at site east');
    // West was not touched.
    expect((await status()).nodes.find((node) => node.site === 'west')?.role).toBe('primary');
  });

  it('answers sql: validation queries with rows of column values', async () => {
    const rows = await postgresProvider.query(
      plan.workloads[0]!.components[0]!,
      'west',
      "select count(*) > 0, 'ok' from orders",
      contextFor(plan, stateDir),
    );
    expect(rows).toEqual([[true, 'ok']]);
  });
});
