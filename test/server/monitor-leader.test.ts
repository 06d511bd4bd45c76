/**
 * `drctl serve --monitor` on several instances sharing one PostgreSQL store: every instance probes, but
 * each workload's leader (a lease in the store) alone starts its failover. Killing the leader hands the
 * lead to the other; a lost site then starts exactly one failover, and the restarted instance starts none.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { stopAll } from '../engine/cli-process.ts';
import { startSite, stopAllSites, writePlan } from '../monitor/sites.ts';
import { site } from './instances.ts';
import { eventually } from './support.ts';

afterAll(stopAll);
afterEach(stopAllSites);

let cluster: PgCluster | undefined;

describe.skipIf(!pgAvailable())('monitors in several drctl serve instances', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('starts exactly one failover for a lost site, from the leader, also after the first leader died', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const s = await site(cluster!.node('east').url, [], {
      leaseTtlMs: 1_500,
      plan: (dir) =>
        writePlan(
          [{ id: 'shop', automatic: true, detectAfter: '400ms', east: east.port, west: west.port }],
          dir,
        ),
    });
    try {
      const instances = [await s.start('a', ['--monitor']), await s.start('b', ['--monitor'])];
      await Promise.all(instances.map((instance) => s.waitUp(instance)));
      const leaderOf = () =>
        eventually(async () => {
          const lease = await s.lease('monitor:shop');
          return instances.find((instance) => instance.process.child.pid === lease?.pid);
        }, 20_000);
      const first = await leaderOf();
      first.process.child.kill('SIGKILL');
      await first.process.exit;
      const second = await eventually(async () => {
        const lease = await s.lease('monitor:shop');
        return instances.find((instance) => instance !== first && instance.process.child.pid === lease?.pid);
      }, 20_000);
      const restarted = first.restart();
      instances[instances.indexOf(first)] = restarted;
      await s.waitUp(restarted);

      east.kill('SIGKILL');
      const store = await s.store();
      const failovers = async () => (await store.listRuns()).filter((run) => run.startedBy === 'monitor');
      const [run] = await eventually(async () => {
        const runs = await failovers();
        return runs.length > 0 ? runs : undefined;
      }, 20_000);
      // the run is listed once created; its driver writes `run-driven` a moment later
      const driven = await eventually(
        async () => (await store.readJournal(run!.id)).find((r) => r.type === 'run-driven'),
        20_000,
      );
      expect(driven.data.pid).toBe(second.process.child.pid);
      await eventually(
        async () => ((await store.getRun(run!.id))?.status === 'succeeded' ? true : undefined),
        20_000,
      );
      // both instances keep seeing the site lost for several windows: still one failover
      await sleep(3_000);
      expect((await failovers()).map((r) => r.id)).toEqual([run!.id]);
      expect((await store.getDocument('monitor-failovers', 'shop'))?.data.runId).toBe(run!.id);
      const journal = await store.readJournal(run!.id);
      expect(journal[0]?.data).toMatchObject({ trigger: { automatic: true } });
    } finally {
      await s.close();
    }
  }, 90_000);
});
