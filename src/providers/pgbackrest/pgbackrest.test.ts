// One PostgreSQL primary archiving into one pgBackRest stanza is shared by these tests; every restore goes
// to its own new data directory and port.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError, PlanInvalidError } from '../../errors.ts';
import { loadPlan } from '../../plan/index.ts';
import { runCli } from '../../../test/support/cli.ts';
import { tempDir } from '../../../test/support/tmp.ts';
import type { Component, Plan, Verification } from '../../plan/model.ts';
import { openStore } from '../../store/index.ts';
import { runVerification } from '../../verify/index.ts';
import { pgAvailable } from '../../pg/binaries.ts';
import { PgCluster, freePort } from '../../pg/cluster.ts';
import { AT, testContext, testPlan } from '../testing.ts';
import { checkReadiness } from '../../monitor/readiness.ts';
import { findPgbackrest, pgbackrestProvider, pgbackrestTarget } from './index.ts';
import { resticTarget } from '../restic/index.ts';
import { postgresProvider } from '../postgres/index.ts';

function pgbackrestInstalled(): boolean {
  try {
    findPgbackrest();
    return true;
  } catch {
    return false;
  }
}

const skip = !pgbackrestInstalled()
  ? 'pgbackrest is not installed (apt-get install pgbackrest)'
  : !pgAvailable()
    ? 'the PostgreSQL server programs are not installed'
    : undefined;
if (skip !== undefined) console.warn(`skipping the pgbackrest provider tests: ${skip}`);

function planFor(cluster: PgCluster, stanza = 'db', repository = join(cluster.dir, 'repo')): Plan {
  const node = cluster.node('east');
  const component: Component = {
    id: 'db',
    workload: 'shop',
    name: 'db',
    kind: 'postgres',
    description: undefined,
    tier: 1,
    strategy: 'backup-restore',
    placement: [
      {
        site: 'east',
        standby: false,
        url: node.url,
        path: undefined,
        command: undefined,
        host: undefined,
        fields: {
          url: node.url,
          data_dir: node.dataDir,
          socket_dir: join(cluster.dir, 'east'),
          bin_dir: cluster.binaries.dir,
        },
        at: AT,
      },
    ],
    dependsOn: [],
    references: [],
    probe: undefined,
    replication: undefined,
    backups: [
      {
        everyMs: 86_400_000,
        type: 'full',
        to: 'vault',
        path: undefined,
        media: 'disk',
        keep: { daily: 7, weekly: 4, monthly: 0, yearly: 0 },
        verifyEveryMs: 30 * 86_400_000,
        immutable: false,
        engine: 'pgbackrest',
        repository,
        stanza,
        passwordEnv: 'DRCTL_TEST_PGBACKREST_CIPHER',
        at: AT,
      },
    ],
    recoveryMs: undefined,
    at: AT,
  } as Component;
  return testPlan({
    baseDir: cluster.dir,
    sites: ['east', 'vault'],
    workload: { strategy: 'backup-restore', rtoMs: 3_600_000, rpoMs: 300_000, components: [component] },
  });
}

async function sql<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function rejection(promise: Promise<unknown>): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DrctlError);
  return error as DrctlError;
}

describe('pgBackRest policies in a plan', () => {
  it('need a repository, a postgres component and a placement with data_dir and socket_dir', async () => {
    const dir = tempDir('drctl-pgbackrest-plan-');
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      `version: 1
sites: { east: { role: primary }, vault: { role: backup } }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: ledger
    tier: 3
    strategy: backup-restore
    owner: erin
    components:
      - id: db
        kind: postgres
        placement: { east: { url: "postgres://127.0.0.1:5432/ledger", data_dir: /srv/pg } }
        backups: [{ engine: pgbackrest, every: 1d, to: vault }]
      - id: docs
        kind: files
        placement: { east: { path: docs } }
        backups: [{ engine: pgbackrest, every: 1d, to: vault, repository: repo }]
`,
    );
    const error = await loadPlan(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect((error as PlanInvalidError).problems.map((p) => [p.code, p.message, p.location.line])).toEqual([
      ['DRCTL_PLAN_MISSING', 'pgBackRest backup of db to vault has no repository path', 13],
      ['DRCTL_PLAN_MISSING', 'pgBackRest backup of db needs socket_dir in its placement at east', 12],
      ['DRCTL_PLAN_VALUE', 'pgBackRest backs up PostgreSQL; docs is of kind files', 17],
    ]);
  });

  it('with a repository host, which drctl does not set up, are refused by the provider (restic too)', async () => {
    const dir = tempDir('drctl-pgbackrest-plan-');
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      `version: 1
sites:
  east: { role: primary, hosts: { db-east: { address: 198.18.255.2 } } }
  vault: { role: backup, hosts: { vault-1: { address: 198.18.255.3 } } }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: ledger
    tier: 3
    strategy: backup-restore
    owner: erin
    components:
      - id: db
        kind: postgres
        placement: { east: { host: db-east, url: "postgres://127.0.0.1:5432/ledger", data_dir: /srv/pg, socket_dir: /run/pg } }
        backups:
          - { engine: pgbackrest, every: 1d, to: vault, host: vault-1, repository: /srv/repo }
          - { engine: restic, every: 1d, to: east, host: vault-1, repository: /srv/restic, password_file: pw }
`,
    );
    const plan = await loadPlan(file);
    expect(() => pgbackrestTarget(plan, 'db', { stateDir: dir })).toThrow(
      expect.objectContaining({ code: 'DRCTL_PGBACKREST_REPOSITORY_HOST' }),
    );
    expect(() => resticTarget(plan, 'db', undefined, dir)).toThrow(
      expect.objectContaining({ code: 'DRCTL_RESTIC_REPOSITORY_HOST' }),
    );
  });
});

const CIPHER = 'pgbackrest cipher pass, never on a command line';

describe.skipIf(skip !== undefined)('pgbackrest provider', () => {
  let cluster: PgCluster;
  let plan: Plan;
  let stateDir: string;
  const started: number[] = [];
  const actions = pgbackrestProvider.actions;

  async function act(name: keyof typeof actions, params: Record<string, unknown>, p = plan) {
    const action = actions[name];
    const ctx = testContext(p, stateDir);
    const result = await action.run(action.params.parse(params), ctx);
    return { output: result.output ?? {}, ctx };
  }

  /** Restores into a new directory on a new port; the server is killed when the file ends. */
  async function restoreTo(name: string, params: Record<string, unknown> = {}) {
    const port = await freePort();
    const dataDir = join(cluster.dir, name);
    const { output } = await act('restore', { component: 'db', data_dir: dataDir, port, ...params });
    started.push(output.pid as number);
    const url = new URL(cluster.node('east').url);
    url.port = String(port);
    return { output, url: url.toString() };
  }

  beforeAll(async () => {
    process.env.DRCTL_TEST_PGBACKREST_CIPHER = CIPHER;
    // the server runs archive-push itself, so it gets the cipher pass in its environment as well
    process.env.PGBACKREST_REPO1_CIPHER_PASS = CIPHER;
    try {
      cluster = await PgCluster.create({ sites: ['east'] });
    } finally {
      delete process.env.PGBACKREST_REPO1_CIPHER_PASS;
    }
    plan = planFor(cluster);
    stateDir = join(cluster.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    await sql(cluster.node('east').url, 'create table orders (id int primary key, note text)');
  }, 120_000);

  afterAll(async () => {
    for (const pid of started)
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    await cluster?.close();
    delete process.env.DRCTL_TEST_PGBACKREST_CIPHER;
  });

  it('creates the stanza, takes a full backup and restores it into a new directory that starts with the rows', async () => {
    const url = cluster.node('east').url;
    await sql(url, "insert into orders values (1, 'first'), (2, 'second')");
    const stanza = await act('stanza_create', { component: 'db' });
    expect(stanza.output).toMatchObject({ stanza: 'db', archiveCommandChanged: true });
    expect(String(stanza.output.archiveCommand)).toMatch(/--stanza=db archive-push %p$/);
    await act('check', { component: 'db' });
    const backup = await act('backup', { component: 'db', type: 'full' });
    expect(backup.output).toMatchObject({ type: 'full', requested: 'full' });
    expect(String(backup.output.label)).toMatch(/F$/);

    const { output, url: restoredUrl } = await restoreTo('restored-full');
    expect(output).toMatchObject({ archiving: false });
    const rows = await sql<{ id: number }>(restoredUrl, 'select id from orders order by id');
    expect(rows.map((r) => r.id)).toEqual([1, 2]);
    // a scratch restore never archives into the production stanza
    const [mode] = await sql<{ archive_mode: string }>(restoredUrl, 'show archive_mode');
    expect(mode?.archive_mode).toBe('off');

    const info = await act('info', { component: 'db' });
    expect((info.output.backups as unknown[]).length).toBe(1);
    const report = await checkReadiness(plan, { stateDir });
    const facts = report.facts.filter((f) => ['backup-age', 'wal-archive'].includes(f.name));
    expect(facts.map((f) => [f.name, f.ok])).toEqual([
      ['backup-age', true],
      ['wal-archive', true],
    ]);
    expect(info.output.cipher).toBe('aes-256-cbc');
    // the database password and the cipher pass reached pgbackrest through its environment only
    const evidence = JSON.stringify([...stanza.ctx.recorded.values(), ...backup.ctx.recorded.values()]);
    expect(evidence).not.toContain(cluster.password);
    expect(evidence).not.toContain(CIPHER);
    const config = readFileSync(join(stateDir, 'pgbackrest', 'db--vault', 'pgbackrest.conf'), 'utf8');
    expect(config).not.toContain(CIPHER);
  }, 180_000);

  it('recovers to a point in time: the rows committed before it and none after', async () => {
    const url = cluster.node('east').url;
    const diff = await act('backup', { component: 'db', type: 'diff' });
    expect(diff.output).toMatchObject({ type: 'diff' });
    await sql(url, "insert into orders values (10, 'before the target')");
    const incr = await act('backup', { component: 'db' });
    expect(incr.output).toMatchObject({ type: 'incr', requested: 'incr' });
    await sql(url, "insert into orders values (11, 'before the target, after every backup')");
    await sleep(300);
    const target = new Date();
    await sleep(300);
    await sql(url, "insert into orders values (20, 'after the target')");
    // check switches WAL and waits until the segment holding the last commit is in the archive
    await act('check', { component: 'db' });

    const { output, url: restoredUrl } = await restoreTo('restored-pitr', {
      target_time: target.toISOString(),
    });
    expect(output).toMatchObject({ targetTime: target.toISOString() });
    const rows = await sql<{ id: number }>(restoredUrl, 'select id from orders order by id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 10, 11]);
    // recovery ended with a promotion: the restored server takes writes
    await sql(restoredUrl, "insert into orders values (30, 'written on the restored server')");

    const latest = await restoreTo('restored-latest');
    expect(
      (await sql<{ id: number }>(latest.url, 'select id from orders order by id')).map((r) => r.id),
    ).toEqual([1, 2, 10, 11, 20]);

    const expire = await act('expire', { component: 'db' });
    // every backup is younger than the plan's longest horizon (4 weeks)
    expect(expire.output).toMatchObject({ retentionFullDays: 28, expired: [] });
    expect((expire.output.kept as string[]).length).toBe(3);
  }, 240_000);

  it('restores to just before a journaled bad DELETE: every row before it, none of it, nothing after', async () => {
    const url = cluster.node('east').url;
    const corrupt = postgresProvider.actions.corrupt;
    const ctx = testContext(plan, stateDir);
    const bad = await corrupt.run(
      corrupt.params.parse({ component: 'db', site: 'east', table: 'orders', rows: 2 }),
      ctx,
    );
    expect(bad.output).toMatchObject({ rows: 2, change: 'delete' });
    await sql(url, "insert into orders values (40, 'after the damage')");
    await act('check', { component: 'db' });
    const { output, url: restoredUrl } = await restoreTo('restored-before-corruption', {
      before: 'last-corruption',
    });
    expect(output).toMatchObject({ beforeXid: bad.output?.xid });
    expect(
      (await sql<{ id: number }>(restoredUrl, 'select id from orders order by id')).map((r) => r.id),
    ).toEqual([1, 2, 10, 11, 20]);
    // put east back as the later tests expect it: the rows the restore saved, not the one written after
    const saved = await sql<{ id: number; note: string }>(
      restoredUrl,
      'select id, note from orders where id in (1, 2)',
    );
    for (const row of saved) await sql(url, `insert into orders values (${row.id}, '${row.note}')`);
    await sql(url, 'delete from orders where id = 40');
    await act('check', { component: 'db' });
  }, 240_000);

  it('verifies the newest backup on a scratch PostgreSQL cluster: queries answer there, then it is stopped and removed', async () => {
    const verification: Verification = {
      id: 'nightly-restore',
      workload: 'shop',
      component: 'db',
      to: 'vault',
      snapshot: undefined,
      restoreTo: { kind: 'postgres' },
      clear: false,
      prove: {
        checksums: true,
        files: ['PG_VERSION'],
        queries: [
          { sql: 'select count(*) from orders', database: undefined, expect: 5 },
          { sql: 'select max(id) from orders', database: undefined, expect: 21 },
        ],
        http: undefined,
      },
      timeoutMs: 120_000,
      evidence: [],
      verifyEveryMs: 86_400_000,
      at: AT,
    };
    const workload = { ...plan.workloads[0]!, verifications: [verification] };
    const verified = { ...plan, workloads: [workload] };
    const store = await openStore(stateDir);
    try {
      const result = await runVerification(verified, verification, { store, stateDir });
      // the archive ends with order 20: the first query holds, the second proves a wrong answer is caught
      expect(result.proofs.map((p) => [p.name, p.ok, p.message])).toEqual([
        [
          'restore',
          true,
          expect.stringMatching(
            /^restored pgBackRest stanza db of db to the end of the archive into .*, serving on port \d+$/,
          ),
        ],
        ['checksums', true, expect.any(String)],
        ['file PG_VERSION', true, 'PG_VERSION is there'],
        ['query select count(*) from orders', true, 'answered "5"'],
        ['query select max(id) from orders', false, 'answered 20, expected 21'],
      ]);
      expect(result).toMatchObject({
        passed: false,
        reason: 'query select max(id) from orders: answered 20, expected 21',
      });
      expect(result.target).toContain(join('state', 'verify', 'nightly-restore'));
      // the scratch server is stopped and its directory gone; nothing kept the password
      const port = (result.evidence.restore as { port: number }).port;
      const url = new URL(cluster.node('east').url);
      url.port = String(port);
      await expect(sql(url.toString(), 'select 1')).rejects.toThrow(/ECONNREFUSED/);
      expect(existsSync(result.target)).toBe(false);
      expect(JSON.stringify(result)).not.toContain(cluster.password);
    } finally {
      await store.close();
    }
  }, 240_000);

  it('names a wrong stanza, a missing repository, a wrong cipher pass and a missing pgbackrest by code', async () => {
    const wrong = await rejection(act('backup', { component: 'db' }, planFor(cluster, 'nope')));
    expect(wrong.code).toBe('DRCTL_PGBACKREST_STANZA_MISSING');
    const missing = await rejection(
      act('info', { component: 'db' }, planFor(cluster, 'db', join(cluster.dir, 'no-such-repo'))),
    );
    expect(missing.code).toBe('DRCTL_PGBACKREST_REPOSITORY_MISSING');
    process.env.DRCTL_TEST_PGBACKREST_CIPHER = 'not the pass';
    try {
      const wrongPass = await rejection(act('info', { component: 'db' }));
      expect(wrongPass.code, wrongPass.message).toBe('DRCTL_PGBACKREST_WRONG_PASSWORD');
      delete process.env.DRCTL_TEST_PGBACKREST_CIPHER;
      const noPass = await rejection(act('info', { component: 'db' }));
      expect(noPass.code).toBe('DRCTL_PGBACKREST_PASSWORD_MISSING');
    } finally {
      process.env.DRCTL_TEST_PGBACKREST_CIPHER = CIPHER;
    }
    const path = process.env.PATH;
    process.env.PATH = join(cluster.dir, 'no-binaries-here');
    try {
      const absent = await rejection(act('info', { component: 'db' }));
      expect(absent.code).toBe('DRCTL_PGBACKREST_MISSING');
      expect(absent.hint).toContain('apt-get install pgbackrest');
    } finally {
      process.env.PATH = path;
    }
  });

  it('fails a runbook step on a stanza the repository does not hold, with the code in the run', async () => {
    const node = cluster.node('east');
    const file = join(cluster.dir, 'run-plan.yaml');
    process.env.DRCTL_TEST_PG_PASSWORD = cluster.password;
    writeFileSync(
      file,
      `version: 1
sites: { east: { role: primary }, vault: { role: backup } }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: ledger
    tier: 3
    strategy: backup-restore
    owner: erin
    components:
      - id: db
        kind: postgres
        placement:
          east:
            url: "postgres://postgres:\${DRCTL_TEST_PG_PASSWORD}@127.0.0.1:${node.port}/drctl"
            data_dir: ${node.dataDir}
            socket_dir: ${join(cluster.dir, 'east')}
        backups: [{ engine: pgbackrest, every: 1d, to: vault, repository: repo, stanza: nope, password_env: DRCTL_TEST_PGBACKREST_CIPHER }]
    runbooks:
      backup:
        steps:
          - { id: backup-db, action: pgbackrest.backup, with: { component: db, type: full }, expected: 1m }
`,
    );
    try {
      const result = await runCli(
        'run',
        file,
        '--runbook',
        'ledger/backup',
        '--state',
        join(cluster.dir, 'run-state'),
        '--json',
      );
      expect(result.code).toBe(1);
      const out = JSON.parse(result.stdout) as {
        status: string;
        steps: { id: string; status: string; error?: { code: string } }[];
      };
      expect(out.status).toBe('failed');
      expect(out.steps[0]).toMatchObject({
        id: 'backup-db',
        status: 'failed',
        error: { code: 'DRCTL_PGBACKREST_STANZA_MISSING' },
      });
      expect(result.stdout + result.stderr).not.toContain(CIPHER);
    } finally {
      delete process.env.DRCTL_TEST_PG_PASSWORD;
    }
  });

  // last: it removes a segment from the shared repository
  it('finds a gap in the WAL archive and turns readiness red with the segment', async () => {
    await sql(cluster.node('east').url, "insert into orders values (40, 'one more segment')");
    await act('check', { component: 'db' });
    const info = await act('info', { component: 'db' });
    const archive = (info.output.archive as { id: string; max: string }[]).at(-1)!;
    const dir = join(cluster.dir, 'repo', 'archive', 'db', archive.id);
    const segments = readdirSync(dir)
      .filter((d) => /^[0-9A-F]{16}$/.test(d))
      .flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f)))
      .filter((f) => /\/[0-9A-F]{24}-/.test(f))
      .sort();
    // a segment after the newest backup started, and not the newest one
    const victim = segments.at(-2)!;
    const away = join(cluster.dir, basename(victim));
    renameSync(victim, away);
    const report = await checkReadiness(plan, { stateDir });
    const wal = report.facts.find((f) => f.name === 'wal-archive')!;
    expect(wal.ok).toBe(false);
    expect(wal.message).toContain(`WAL segment ${basename(victim).slice(0, 24)} is missing`);
    renameSync(away, victim);
    expect((await checkReadiness(plan, { stateDir })).facts.find((f) => f.name === 'wal-archive')?.ok).toBe(
      true,
    );
  });

  it("restores over the placement's own data directory once its server is stopped", async () => {
    const node = cluster.node('east');
    const running = await rejection(act('restore', { component: 'db', force: true }));
    expect(running.message).toContain('running server');
    await node.stop();
    const refused = await rejection(act('restore', { component: 'db' }));
    expect(refused.code).toBe('DRCTL_PGBACKREST_TARGET_NOT_EMPTY');
    const { output } = await act('restore', { component: 'db', force: true });
    // the production server keeps archiving into its stanza after the restore
    expect(output).toMatchObject({ archiving: true, dataDir: node.dataDir });
    // its restore_command and archive_command read the encrypted repository
    process.env.PGBACKREST_REPO1_CIPHER_PASS = CIPHER;
    try {
      await node.start();
    } finally {
      delete process.env.PGBACKREST_REPO1_CIPHER_PASS;
    }
    for (let i = 0; ; i += 1) {
      const [row] = await sql<{ recovering: boolean }>(node.url, 'select pg_is_in_recovery() as recovering');
      if (row?.recovering === false) break;
      if (i > 300) throw new Error('the restored server did not leave recovery');
      await sleep(100);
    }
    const rows = await sql<{ id: number }>(node.url, 'select id from orders order by id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 10, 11, 20, 40]);
  });

  it('preflight: pgbackrest installed, the stanza opens with its cipher pass and has a backup that fits; a wrong stanza and pass are found', async () => {
    const ctx = testContext(plan, stateDir);
    const [installed, readable] = pgbackrestProvider.preflight.restore;
    const [, opens] = pgbackrestProvider.preflight.backup;
    expect(await installed!.run({ component: 'db' }, ctx)).toMatchObject({ ok: true });
    expect(await opens!.run({ component: 'db' }, ctx)).toMatchObject({
      ok: true,
      message: expect.stringContaining('opens with its cipher pass'),
    });
    expect(
      await readable!.run({ component: 'db', data_dir: join(cluster.dir, 'preflight-restore') }, ctx),
    ).toMatchObject({
      ok: true,
      message: expect.stringMatching(/^\d+ bytes free at .+ for backup \S+ \(\d+ bytes\)$/),
    });
    expect(
      await opens!.run({ component: 'db' }, testContext(planFor(cluster, 'nope'), stateDir)),
    ).toMatchObject({
      ok: false,
      observed: { code: 'DRCTL_PGBACKREST_STANZA_MISSING' },
    });
    process.env.DRCTL_TEST_PGBACKREST_CIPHER = 'not the pass';
    try {
      expect(await opens!.run({ component: 'db' }, ctx)).toMatchObject({
        ok: false,
        observed: { code: 'DRCTL_PGBACKREST_WRONG_PASSWORD' },
      });
    } finally {
      process.env.DRCTL_TEST_PGBACKREST_CIPHER = CIPHER;
    }
  });
});
