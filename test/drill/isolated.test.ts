/**
 * Isolated test failover on the reference example: "production" is brought up by the test beforehand
 * (the hot-standby shop with streaming replication, the warm-standby shop with snapshots), the drill copies
 * the recovery site and runs the failover runbook on the copy, and production's rows, replication state
 * and routing are the same afterwards, with nothing of the copy left.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrillEnvironment } from '../../src/drill/environment.ts';
import { runIsolatedDrill } from '../../src/drill/isolated.ts';
import { DRILLS_COLLECTION, addDrillNote, continueDrill } from '../../src/drill/rehearsal.ts';
import { openStore } from '../../src/store/index.ts';
import { DrctlError } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { processAlive } from '../../src/system/processes.ts';
import { TWO_SITE, portOpen } from './support.ts';

/**
 * An order through the front door, acknowledged. On a loaded machine the router's probes can miss a healthy
 * site for a moment and answer 503 (nothing written), so it is sent again until a site takes it.
 */
async function order(url: string, id: string): Promise<void> {
  let last = 0;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    last = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, item: 'canary', qty: 1 }),
    }).then(
      (r) => r.status,
      () => 0,
    );
    if (last >= 200 && last < 300) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`order ${id} was never acknowledged (last answer ${last})`);
}

/** "Production", brought up by the test itself: the plan's sites with 20 orders written through the front door. */
async function startProduction(planFile: string): Promise<{ dir: string; environment: DrillEnvironment }> {
  const dir = mkdtempSync(join(tmpdir(), 'drctl-isolated-'));
  const plan = await loadPlan(join(TWO_SITE, planFile));
  const environment = await DrillEnvironment.create({
    plan,
    workload: 'shop',
    stateDir: join(dir, 'prod'),
    remapPorts: true,
  });
  for (let i = 0; i < 20; i++) await order(environment.url, `before-${i}`);
  return { dir, environment };
}

describe.skipIf(!pgAvailable())('isolated test failover (hot standby)', () => {
  let dir: string;
  let production: DrillEnvironment;

  beforeAll(async () => {
    ({ dir, environment: production } = await startProduction('plan.yaml'));
  }, 60_000);

  afterAll(async () => {
    await production?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('recovers into a copy of the standby, measures it, and leaves production and the machine as they were', async () => {
    const outcome = await runIsolatedDrill({
      plan: production.plan,
      scenario: 'east-killed',
      stateDir: join(dir, 'drill'),
    });
    const { report } = outcome;
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.site).toBe('west');
    expect(report.copies.map((c) => c.component)).toEqual(['db']);
    // the runbook's promotion and service start ran on the copy; the fence of east and the front door did not
    const steps = Object.fromEntries(report.run!.steps.map((s) => [s.id, s.status]));
    expect(steps).toMatchObject({
      'fence-east': 'skipped',
      'promote-west': 'succeeded',
      'start-orders-west': 'succeeded',
      'front-door-west': 'skipped',
      'verify-front-door': 'skipped',
    });
    expect(report.measured.rtoMs).toBeGreaterThan(0);
    expect(report.measured.dataAgeMs).toBeGreaterThanOrEqual(0);
    expect(report.checks.every((c) => c.ok)).toBe(true);
    // production: the same rows, the same replication, east still serving
    expect(report.production.differences).toEqual([]);
    expect(report.production.before).toMatchObject({
      db: { east: { role: 'primary', replication: [{ application_name: 'west', state: 'streaming' }] } },
      routing: { status: 200, site: 'east' },
    });
    // nothing left: the copy's server, its service, its ports and directories
    expect(report.leftovers).toEqual([]);
    expect(report.removed.some((r) => r.startsWith('postgres'))).toBe(true);
    expect(report.removed.some((r) => r.startsWith('service orders@west'))).toBe(true);
    for (const line of report.removed) {
      const pid = /pid (\d+)/.exec(line)?.[1];
      if (pid !== undefined) expect(processAlive(Number(pid))).toBe(false);
      const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
      if (port !== undefined) expect(await portOpen(Number(port))).toBe(false);
    }
    expect(readdirSync(join(dir, 'drill', 'drills'))).toEqual([]);
    expect(existsSync(outcome.files.html)).toBe(true);
    // and production still takes orders at east
    await order(production.url, 'after');
  }, 60_000);

  it('refuses an isolated drill of a workload with nowhere to restore from, at the scenario', async () => {
    const plan = structuredClone(production.plan);
    for (const component of plan.workloads[0]!.components)
      for (const placement of component.placement) placement.standby = false;
    for (const component of plan.workloads[0]!.components) component.backups = [];
    const error = await runIsolatedDrill({
      plan,
      scenario: 'east-killed',
      stateDir: join(dir, 'refused'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_ISOLATED_NO_SOURCE');
    expect((error as DrctlError).location?.line).toBeGreaterThan(0);
  });
});

describe('isolated test failover (warm standby), paused and noted by the room', () => {
  let dir: string;
  let production: DrillEnvironment;

  beforeAll(async () => {
    ({ dir, environment: production } = await startProduction('warm-standby.yaml'));
    // a snapshot carries the orders to west; then production is kept quiet: its snapshot schedule would add
    // backups during the drill, which the before/after comparison would rightly report. The next snapshot
    // is scheduled a second after one finishes, so stopping the schedule right after one leaves none running.
    const ordered = Date.now();
    while (!production.snapshots.some((s) => s.ok && s.at > ordered))
      await new Promise((done) => setTimeout(done, 20));
    production.siteLost('east');
  }, 60_000);

  afterAll(async () => {
    await production?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restores the newest backup into a copy, waits for the room to continue, keeps its notes, and leaves production as it was', async () => {
    const stateDir = join(dir, 'drill');
    let drillId: string | undefined;
    const running = runIsolatedDrill({
      plan: production.plan,
      scenario: 'east-killed',
      stateDir,
      pause: true,
      onStart: (id) => (drillId = id),
    });
    // the people in the room: a note while it waits, then continue
    const room = await openStore(stateDir);
    try {
      for (
        let i = 0;
        (await room.getDocument(DRILLS_COLLECTION, drillId ?? '-'))?.data.state !== 'paused';
        i++
      ) {
        if (i > 300) throw new Error('the drill never paused');
        await new Promise((done) => setTimeout(done, 50));
      }
      await addDrillNote(room, drillId!, 'carol', 'west copy is up; checking the catalog by hand');
      await new Promise((done) => setTimeout(done, 150));
      await continueDrill(room, drillId!, 'alice');
    } finally {
      await room.close();
    }
    const { report } = await running;
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.copies).toMatchObject([
      { component: 'data', from: expect.stringMatching(/^backup .* at west$/) },
    ]);
    const steps = Object.fromEntries(report.run!.steps.map((s) => [s.id, s.status]));
    expect(steps).toMatchObject({
      'stop-orders-east': 'skipped',
      'restore-west': 'succeeded',
      'start-orders-west': 'succeeded',
      'front-door-west': 'skipped',
    });
    // the plan's verification query ran on the copy; the data is as old as the snapshot restored
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual(
      expect.arrayContaining([['data: select count(*) >= 0 from orders', true]]),
    );
    expect(report.measured.dataAgeMs).toBeGreaterThan(0);
    expect(report.pauses).toMatchObject([{ continuedBy: 'alice' }]);
    expect(report.measured.pausedMs).toBeGreaterThanOrEqual(150);
    expect(report.notes).toMatchObject([
      { by: 'carol', text: 'west copy is up; checking the catalog by hand' },
    ]);
    expect(report.production.differences).toEqual([]);
    expect(report.production.before).toMatchObject({ routing: { status: 200, site: 'east' } });
    expect(report.leftovers).toEqual([]);
    expect(readdirSync(join(stateDir, 'drills'))).toEqual([]);
    const after = await openStore(stateDir);
    await expect(addDrillNote(after, drillId!, 'bob', 'too late')).rejects.toMatchObject({
      code: 'DRCTL_DRILL_FINISHED',
    });
    await after.close();
  }, 60_000);
});
