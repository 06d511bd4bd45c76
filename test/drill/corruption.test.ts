// Corruption drills end to end on real PostgreSQL: a canary writes, a bad DELETE is injected, the plan's
// validation notices, the restore-to-before runbook restores to just before the bad transaction (with
// drctl's base backup + WAL, then with pgBackRest), and the report measures detection, RTO and the good
// writes lost.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../src/drill/index.ts';
import { DrctlError } from '../../src/errors.ts';
import { PgCluster, freePort } from '../../src/pg/cluster.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { pgbackrestProvider } from '../../src/providers/pgbackrest/index.ts';
import { postgresProvider } from '../../src/providers/postgres/index.ts';
import { testContext } from '../../src/providers/testing.ts';

let cluster: PgCluster;
let dir: string;

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A plan whose restore-to-before runbook restores db into the `restored` placement, by `restore`. */
async function writePlan(
  name: string,
  restore: string,
  extra: { production?: boolean; allow?: boolean; backups?: string } = {},
) {
  const east = cluster.node('east');
  const port = await freePort();
  const restoredUrl = new URL(east.url);
  restoredUrl.port = String(port);
  const planDir = join(dir, name);
  mkdirSync(planDir, { recursive: true });
  const file = join(planDir, 'plan.yaml');
  writeFileSync(
    file,
    `version: 1
name: ${name}
sites:
  east: { role: primary${extra.production === true ? ', production: true' : ''} }
  restored: { role: secondary }
  vault: { role: backup }
contacts: [{ id: alice, name: Alice, role: DR lead, email: alice@example.com }]
workloads:
  - id: shop
    tier: 1
    strategy: backup-restore
    owner: alice
    rto: 10m
    rpo: 1m
    components:
      - id: db
        kind: postgres
        placement:
          east: { url: "${east.url}", data_dir: "${east.dataDir}", bin_dir: "${cluster.binaries.dir}", socket_dir: "${join(cluster.dir, 'east')}" }
          restored: { url: "${restoredUrl.toString()}", data_dir: "${join(planDir, 'restored')}", bin_dir: "${cluster.binaries.dir}", standby: true }
        backups: [${extra.backups ?? `{ every: 1h, to: vault, path: "${join(planDir, 'backups')}" }`}]
    runbooks:
      restore-to-before:
        steps:
          - id: restore
            action: ${restore}
            with: { component: db, site: east, before: last-corruption, ${restore === 'postgres.restore-pitr' ? 'data_dir' : 'target'}: "${join(planDir, 'restored')}", port: ${port} }
            expected: 1m
            validate:
              - { name: every order is there, sql: "select count(*) = 100 from orders", component: db }
drills:
  scenarios:
    - id: bad-delete
      disaster: data-corruption
      workload: shop
      runbook: restore-to-before
      recovered_at: restored
      ${extra.allow === true ? 'allow_production: true' : ''}
      faults:
        - { kind: corrupt, target: db@east, table: orders, rows: 7, at: 300ms }
`,
  );
  return { file, stateDir: join(planDir, 'state'), restoredUrl: restoredUrl.toString() };
}

beforeAll(async () => {
  cluster = await PgCluster.create({ sites: ['east'] });
  // inside the cluster's directory: the database server's OS user reaches it (backups, restores)
  dir = join(cluster.dir, 'plans');
  await sql(cluster.node('east').url, "create table orders (id int primary key, note text default 'good')");
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

async function resetOrders(): Promise<void> {
  await sql(
    cluster.node('east').url,
    'delete from orders; insert into orders (id) select generate_series(1, 100)',
  );
}

describe('a corruption drill', () => {
  it('refuses to damage a production site unless the scenario allows it', async () => {
    const { file, stateDir } = await writePlan('guarded', 'postgres.restore-pitr', { production: true });
    const plan = await loadPlan(file);
    const error = await runDrill({ plan, scenario: 'bad-delete', stateDir }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_PRODUCTION_REFUSED');
  });

  it('restores to just before the bad DELETE with a base backup and WAL, measuring detection, RTO and the good writes lost', async () => {
    await resetOrders();
    const { file, stateDir, restoredUrl } = await writePlan('pitr', 'postgres.restore-pitr');
    const plan = await loadPlan(file);
    const backup = postgresProvider.actions.basebackup;
    await backup.run(backup.params.parse({ component: 'db', site: 'east' }), testContext(plan, stateDir));
    const { report, files } = await runDrill({ plan, scenario: 'bad-delete', stateDir });
    const figures = report.dataIntegrity?.corruption;
    expect(figures).toMatchObject({
      table: 'orders',
      change: 'delete',
      rows: 7,
      runStatus: 'succeeded',
      recoveredAt: 'restored',
    });
    expect(figures?.detectionMs).toBeGreaterThanOrEqual(0);
    expect(figures?.rtoMs).toBeGreaterThan(figures?.detectionMs ?? 0);
    // the canary wrote between the damage and its detection: those good writes are after the restore point
    expect(figures?.goodWritesLost?.rows).toBe(report.measured.lostWrites.count);
    expect(figures?.goodWritesLost?.rows).toBeGreaterThan(0);
    expect(report.verdicts.map((verdict) => [verdict.target, verdict.pass])).toEqual([
      ['rto', true],
      ['rpo', true],
    ]);
    expect(report.passed).toBe(true);
    const client = new pg.Client({ connectionString: restoredUrl });
    await client.connect();
    const rows = await client.query<{ n: number }>('select count(*)::int as n from orders');
    await client.end();
    expect(rows.rows[0]?.n).toBe(100);
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('data-integrity="good-writes-lost"');
    expect(html).toContain('delete of 7 rows of orders');
  }, 180_000);

  it('restores to just before the bad DELETE with pgBackRest', async () => {
    await sql(cluster.node('east').url, 'drop table if exists drctl_drill_canary');
    await resetOrders();
    const repository = join(dir, 'pgbackrest-repo');
    const { file, stateDir, restoredUrl } = await writePlan('pgbackrest', 'pgbackrest.restore', {
      backups: `{ engine: pgbackrest, every: 1d, to: vault, repository: "${repository}", stanza: shop }`,
    });
    const plan = await loadPlan(file);
    const ctx = testContext(plan, stateDir);
    for (const [name, params] of [
      ['stanza_create', { component: 'db' }],
      ['backup', { component: 'db', type: 'full' }],
    ] as const) {
      const action = pgbackrestProvider.actions[name]!;
      await action.run(action.params.parse(params), ctx);
    }
    const { report } = await runDrill({ plan, scenario: 'bad-delete', stateDir });
    expect(report.dataIntegrity?.corruption).toMatchObject({ rows: 7, runStatus: 'succeeded' });
    expect(report.dataIntegrity?.corruption?.rtoMs).toBeGreaterThan(0);
    expect(report.passed).toBe(true);
    const client = new pg.Client({ connectionString: restoredUrl });
    await client.connect();
    const rows = await client.query<{ n: number }>('select count(*)::int as n from orders');
    await client.end();
    expect(rows.rows[0]?.n).toBe(100);
  }, 240_000);
});
