import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/chaos/index.ts';
import { PgCluster, freePort } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { openStore } from '../../src/store/index.ts';
import { PostgresStore, parseStateUrl } from '../../src/store/postgres/index.ts';
import { Engine } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { cli } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { storeConformance } from './conformance.ts';

let cluster: PgCluster | undefined;
let schemas = 0;
const url = (): string => {
  if (cluster === undefined) throw new Error('no cluster');
  return cluster.node('east').url;
};

describe.skipIf(!pgAvailable())('PostgreSQL store', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  storeConformance(
    'PostgreSQL',
    // a schema per store keeps each test's store empty on the one cluster
    async () => PostgresStore.open(url(), { schema: `conformance_${(schemas += 1)}` }),
    async (store) => PostgresStore.open(url(), { schema: (store as PostgresStore).schema }),
  );

  it('lets several instances start at once against a new database, migrating it exactly once', async () => {
    const schema = `concurrent_${(schemas += 1)}`;
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(url(), { schema })));
    try {
      const [version] = await stores[0]!.sql<{ version: number; rows: number }>(
        'SELECT max(version) AS version, count(*)::integer AS rows FROM S.schema_version',
      );
      expect(version).toEqual({ version: MIGRATIONS.length, rows: 1 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('refuses a schema written by a newer drctl, leaving it as it was', async () => {
    const schema = `newer_${(schemas += 1)}`;
    const store = await PostgresStore.open(url(), { schema });
    await store.sql('UPDATE S.schema_version SET version = 99');
    await store.close();
    await expect(PostgresStore.open(url(), { schema })).rejects.toMatchObject({
      code: 'DRCTL_STORE_NEWER',
      exitCode: 2,
    });
    const again = await PostgresStore.open(url(), { schema: `newer_check_${(schemas += 1)}` });
    try {
      const [row] = await again.sql<{ version: number }>(`SELECT version FROM "${schema}".schema_version`);
      expect(row?.version).toBe(99);
    } finally {
      await again.close();
    }
  });

  it('takes over at once a lease whose holder is gone, before it expires', async () => {
    const schema = `dead_${(schemas += 1)}`;
    const holder = await PostgresStore.open(url(), { schema });
    const taker = await PostgresStore.open(url(), { schema });
    try {
      const held = await holder.acquireLease('r1', { owner: 'holder', pid: 1, host: 'east', ttlMs: 60_000 });
      await expect(
        taker.acquireLease('r1', { owner: 'taker', pid: 2, host: 'west', ttlMs: 60_000 }),
      ).rejects.toMatchObject({ code: 'DRCTL_RUN_LOCKED' });
      // closing ends the holder's session, as its process dying would
      await holder.close();
      const taken = await taker.acquireLease('r1', { owner: 'taker', pid: 2, host: 'west', ttlMs: 60_000 });
      expect(taken.token).toBe(held.token + 1);
    } finally {
      await taker.close();
    }
  });

  it('takes several leases at once on a fresh store through one liveness session, never waiting on itself', async () => {
    const schema = `liveness_${(schemas += 1)}`;
    const holder = await PostgresStore.open(url(), { schema });
    const other = await PostgresStore.open(url(), { schema });
    try {
      // a run's lease renewal and a takeover look can ask at the same moment, before the session exists
      const leases = await Promise.all(
        ['r1', 'r2', 'r3'].map((key) =>
          holder.acquireLease(key, { owner: 'holder', pid: 1, host: 'east', ttlMs: 60_000 }),
        ),
      );
      expect(leases.map((lease) => lease.owner)).toEqual(['holder', 'holder', 'holder']);
      const [sessions] = await other.sql<{ waiting: number }>(
        "SELECT count(*)::integer AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      );
      expect(sessions?.waiting).toBe(0);
      await expect(
        other.acquireLease('r2', { owner: 'other', pid: 2, host: 'west', ttlMs: 60_000 }),
      ).rejects.toMatchObject({ code: 'DRCTL_RUN_LOCKED' });
    } finally {
      await holder.close();
      await other.close();
    }
  });

  it('appends an event once when the connection is lost after its commit and the append is sent again', async () => {
    const schema = `lost_answer_${(schemas += 1)}`;
    const port = Number(new URL(url()).port);
    const proxy = await FaultProxy.create({ target: port });
    const proxied = url().replace(`:${port}/`, `:${proxy.port}/`);
    const store = await PostgresStore.open(proxied, { schema, reconnectTimeoutMs: 20_000 });
    try {
      await store.appendEvent('audit', { type: 'first', actor: 'alice', data: {} });
      // the commit takes 800 ms (a deferred trigger), so the connection can be cut while it runs: the
      // server commits, the answer never arrives, and the store sends the append again
      await store.sql(`CREATE FUNCTION S.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(0.8); RETURN NULL; END $$`);
      await store.sql(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON S.events
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION S.slow_commit()`);
      const appending = store.appendEvent('audit', { type: 'second', actor: 'alice', data: { n: 2 } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      proxy.set({ kind: 'reset' });
      proxy.clear();
      const second = await appending;
      expect(proxy.stats().reset).toBeGreaterThan(0);
      const events = await store.readEvents('audit');
      expect(events.map((event) => event.type)).toEqual(['first', 'second']);
      expect(second).toMatchObject({ seq: 2, hash: events[1]?.hash });
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 60_000);

  it('makes one site run of two instances declaring the same site at once, the other refused with its id', async () => {
    const schema = `site_claim_${(schemas += 1)}`;
    const stores = await Promise.all([0, 1].map(() => PostgresStore.open(url(), { schema })));
    const dir = tempDir();
    const placed = {
      east: { url: 'http://127.0.0.1:1' },
      west: { url: 'http://127.0.0.1:2', standby: true },
    };
    const plan = await loadPlan(
      writePlan(dir, [], {
        activation: { criteria: ['east is gone'], approvers: ['bob'], quorum: 1 },
        workloads: ['shop', 'billing'].map((id) => ({
          id,
          tier: 1,
          strategy: 'hot-standby',
          owner: 'alice',
          components: [{ id: `${id}-api`, kind: 'http-service', placement: placed }],
          runbooks: { failover: { steps: [{ id: 'go', run: 'true' }] } },
        })),
      }),
    );
    try {
      const declare = (store: PostgresStore) =>
        new Engine({ store, providers, stateDir: dir }).start({
          plan,
          runbook: '',
          site: 'east',
          startedBy: 'alice',
          returnWhenWaiting: true,
        });
      const outcomes = await Promise.allSettled(stores.map(declare));
      const started = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value.runId);
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as unknown);
      expect(started).toHaveLength(1);
      expect(refused).toEqual([
        expect.objectContaining({ code: 'DRCTL_SITE_RUN_OPEN', details: { runId: started[0] } }),
      ]);
      const runs = await stores[1]!.listRuns();
      expect(runs.filter((run) => run.workload === 'site:east').map((run) => run.id)).toEqual(started);
      // the key is free again once the run exists: nothing waits on it
      expect(await stores[0]!.getLease('site-declaration:east')).toBeUndefined();
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('keeps the journal append-only against SQL that goes around drctl', async () => {
    const store = await PostgresStore.open(url(), { schema: `append_only_${(schemas += 1)}` });
    try {
      await store.createRun(
        { id: 'r1', workload: 'w', runbook: 'b', planHash: 'h', planFile: '/p', startedBy: 'a' },
        { type: 'run-created', actor: 'a', data: {} },
      );
      await expect(store.sql("UPDATE S.journal SET actor = 'mallory'")).rejects.toThrow(/append-only/);
      await expect(store.sql('DELETE FROM S.journal')).rejects.toThrow(/append-only/);
    } finally {
      await store.close();
    }
  });
});

describe('selecting the state store', () => {
  it('reads several hosts, the session attribute and the schema from a state URL, hiding the password', () => {
    expect(
      parseStateUrl('postgres://drctl:p%40ss@east:5433,west/state?target_session_attrs=read-write&schema=dr'),
    ).toMatchObject({
      hosts: [
        { host: 'east', port: 5433 },
        { host: 'west', port: 5432 },
      ],
      user: 'drctl',
      password: 'p@ss',
      database: 'state',
      targetSessionAttrs: 'read-write',
      schema: 'dr',
      display: 'postgres://drctl:***@east:5433,west/state',
    });
  });

  it('refuses a state URL of a store drctl does not have, naming the ones it has', async () => {
    await expect(openStore('mysql://root@127.0.0.1/drctl')).rejects.toMatchObject({
      code: 'DRCTL_STORE_UNSUPPORTED',
      exitCode: 2,
      hint: expect.stringContaining('postgres://') as string,
    });
  });

  it('drctl status --state mysql://… exits 2 naming the supported stores, and creates no directory', async () => {
    const dir = tempDir();
    const result = await cli(['status', '--state', 'mysql://root:pw@127.0.0.1/drctl'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_STORE_UNSUPPORTED');
    expect(result.stderr).toContain('postgres://');
    expect(result.stderr).not.toContain('pw@');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);

  it('drctl drill, demo and readiness refuse a postgres:// state and create no postgres: directory', async () => {
    const dir = tempDir();
    const plan = new URL('../../examples/two-site/warm-standby.yaml', import.meta.url).pathname;
    const state = 'postgres://drctl:pw@127.0.0.1:1/drctl';
    for (const args of [
      ['drill', plan, '--scenario', 'east-killed', '--state', state],
      ['demo', '--state', state],
      ['readiness', plan, '--state', state],
    ]) {
      const result = await cli(args, { cwd: dir });
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr).toContain('DRCTL_STORE_UNSUPPORTED');
      expect(result.stderr).not.toContain('pw@');
    }
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('drctl status exits 2 with a clear message when the PostgreSQL of DRCTL_STATE_URL is unreachable', async () => {
    const dir = tempDir();
    const port = await freePort();
    const result = await cli(['status'], {
      cwd: dir,
      env: { DRCTL_STATE_URL: `postgres://drctl:secret@127.0.0.1:${port}/drctl` },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_STORE_UNREACHABLE');
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).not.toContain('secret');
  }, 30_000);
});
