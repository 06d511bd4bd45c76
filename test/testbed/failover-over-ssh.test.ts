/**
 * The reference disaster on real hosts: east and west are network namespaces with their own addresses,
 * running sshd, PostgreSQL (synchronous streaming) and the order service; the canary writes through drctl's
 * router in the root namespace; every action of the failover and the failback runs over SSH on the sites'
 * hosts. Site east is lost three ways: its processes killed, its link cut, its processes frozen. While east
 * is cut off it commits orders of its own (synchronous_commit = local, as an asynchronous primary would):
 * the failback's rebuild saves them, read on east's host over SSH, to a reconciliation file.
 */
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Canary, measureLoss, measureOutage } from '../../src/drill/canary.ts';
import { Engine, runView } from '../../src/engine/index.ts';
import { closeExecutors } from '../../src/exec/index.ts';
import { findPgBinaries, pgAvailable } from '../../src/pg/index.ts';
import type { Reconciliation } from '../../src/providers/postgres/index.ts';
import { providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { BedShop } from '../../src/testbed/shop.ts';
import { tempDir } from '../support/tmp.ts';

const unavailable = NetnsBed.unavailable() ?? (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`failover over SSH skipped: ${unavailable}`);

type Scenario = 'killed' | 'cut' | 'frozen';

/** Orders east commits on its own while cut off, in three transactions. */
const STRANDED = 9;

/**
 * The failback's rebuild saved, in its run's reconciliation file, the orders east committed while cut off
 * and nothing a client was told had succeeded.
 */
function expectStrandedSaved(dir: string, runId: string, acks: ReadonlyArray<{ id: string }>): void {
  const file = join(dir, 'state', 'runs', runId, 'reconciliation', 'db-east', 'reconciliation.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Reconciliation;
  const ids = saved.rows.map((row) => String(row.after?.['id']));
  const ours = ids.filter((id) => id.startsWith('stranded-'));
  console.log(
    `cut: ${saved.rows.length} stranded rows saved over SSH (${ours.length} written while cut off, the rest unacknowledged orders in flight), span ${saved.spanMs} ms, ${JSON.stringify(saved.timings)}`,
  );
  expect(saved.status).toBe('captured');
  expect(ours.sort()).toEqual(Array.from({ length: STRANDED }, (_, i) => `stranded-${i + 1}`).sort());
  // anything else saved is an order in flight when the link went, never acknowledged to a client; one
  // whose key (seq) west handed out again is a conflict, not an overwrite
  const acked = new Set(acks.map((ack) => ack.id));
  expect(ids.filter((id) => acked.has(id))).toEqual([]);
  for (const row of saved.rows) {
    expect(row.table).toBe('public.orders');
    expect(row.change === 'insert' || row.conflict !== undefined).toBe(true);
  }
  expect(saved.spanMs).toBeGreaterThanOrEqual(0);
}

describe.skipIf(unavailable !== undefined).each([
  { through: 'directly', bastion: false },
  { through: 'through a jump host', bastion: true },
])('failover of the two-site shop with every action over SSH, $through', ({ bastion }) => {
  let bed: NetnsBed;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'], bastion });
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
  });

  /** East, cut off and still a primary, commits orders nobody else sees; psql runs inside its namespace. */
  async function strandOrders(): Promise<void> {
    const insert = (from: number): string =>
      `INSERT INTO orders (id, item, qty) SELECT 'stranded-' || g, 'stranded', 1 FROM generate_series(${from}, ${from + STRANDED / 3 - 1}) g`;
    const statements = ['SET synchronous_commit = local', insert(1), insert(4), insert(7)];
    await bed.inside(
      'east',
      `${findPgBinaries().dir}/psql -h ${bed.host('east').address} -U postgres -d shop -qAt ${statements.map((sql) => `-c "${sql}"`).join(' ')}`,
    );
  }

  async function drill(scenario: Scenario): Promise<void> {
    const dir = tempDir('drctl-bed-shop-');
    chmodSync(dir, 0o755);
    const shop = await BedShop.create({ bed, dir, stranded: scenario === 'cut' ? 'save' : 'discard' });
    const store = await openStore(join(dir, 'state'));
    const engine = new Engine({ store, providers, stateDir: join(dir, 'state'), pollMs: 20 });
    const canary = Canary.start({ url: shop.url });
    try {
      await canary.waitForAcks(30);
      const faultAt = Date.now();
      if (scenario === 'killed') await bed.kill('east');
      else if (scenario === 'cut') await bed.cut('east');
      else await bed.freeze('east');

      const failover = await engine.start({ plan: shop.plan, runbook: 'failover', startedBy: 'alice' });
      const outcome = await failover.done;
      const steps = runView(await store.readJournal(failover.runId)).steps;
      expect(outcome.status, JSON.stringify(steps.map((s) => [s.id, s.status, s.error]))).toBe('succeeded');
      if (scenario === 'cut')
        // east could not be fenced: its host is unreachable, and the step says so
        expect(steps.find((s) => s.id === 'fence-east')?.summary).toBe(
          'NOT fenced: db at east is unreachable',
        );
      if (scenario === 'cut') await strandOrders();
      await canary.waitForAcks(30);
      const afterFailover = [...canary.acks];
      const outage = measureOutage({ acks: afterFailover, failures: canary.failures }, faultAt);
      const lost = await measureLoss(afterFailover, (ids) => shop.ordersPresent('west', ids));
      console.log(
        `${scenario}: client RTO ${Math.round(outage.rtoMs ?? NaN)} ms, ${lost.count} of ${lost.acknowledged} acknowledged writes lost`,
      );
      expect(outage.rtoMs).toBeDefined();
      expect(lost.count).toBe(0);

      // east comes back; the failback returns the shop to it without losing an order
      if (scenario === 'cut') await bed.heal('east');
      if (scenario === 'frozen') await bed.thaw('east');
      const failback = await engine.start({ plan: shop.plan, runbook: 'failback', startedBy: 'alice' });
      const back = await failback.done;
      const backSteps = runView(await store.readJournal(failback.runId)).steps;
      expect(back.status, JSON.stringify(backSteps.map((s) => [s.id, s.status, s.error]))).toBe('succeeded');
      await canary.waitForAcks(30);
      const result = await canary.stop();
      expect(result.acks.at(-1)?.site).toBe('east');
      const lostInDrill = await measureLoss(result.acks, (ids) => shop.ordersPresent('east', ids));
      expect(lostInDrill.count).toBe(0);
      const rebuild = backSteps.find((s) => s.id === 'rebuild-east');
      console.log(
        `${scenario}: failback's rebuild of east ${Date.parse(rebuild?.finishedAt ?? '') - Date.parse(rebuild?.startedAt ?? '')} ms (stranded: ${scenario === 'cut' ? 'save' : 'discard'})`,
      );
      if (scenario === 'cut') expectStrandedSaved(dir, failback.runId, result.acks);
    } finally {
      await canary.stop();
      await shop.close();
      await store.close?.();
      // what ran on the hosts goes with the scenario; sshd stays for the next one
      await bed.heal('east');
      await bed.thaw('east');
      await bed.kill('east');
      await bed.kill('west');
      // made inside a test, where tempDir cannot register its own clean-up
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('loses no acknowledged order when east is killed, and fails back', () => drill('killed'), 240_000);
  // behind a bastion, one scenario shows the jump carries every action; the others differ only in the fault,
  // so they are declared for direct logins only (not skipped: nothing is left untested)
  if (!bastion) {
    it('loses no acknowledged order when east is cut off, and fails back', () => drill('cut'), 240_000);
    it('loses no acknowledged order when east is frozen, and fails back', () => drill('frozen'), 240_000);
  }
});
