import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { runDrill } from '../../src/drill/runner.ts';
import { DrctlError, PlanInvalidError } from '../../src/errors.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { freePort } from '../../src/system/ports.ts';
import { openStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { TWO_SITE } from './support.ts';

const repetitions = Number(process.env.DRCTL_TEST_DRILL_RUNS ?? 1);

describe.skipIf(!pgAvailable())('the hot-standby drill (PostgreSQL, synchronous)', () => {
  it('fails over after site east is killed without losing an acknowledged write', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'plan.yaml'));
    for (let i = 0; i < repetitions; i++) {
      const stateDir = tempDir('drctl-drill-hot-');
      const { report, files } = await runDrill({ plan, scenario: 'east-killed', stateDir, remapPorts: true });
      // the promise of synchronous replication: an acknowledged order is never lost
      expect(report.measured.lostWrites).toMatchObject({ count: 0, ids: [] });
      expect(report.measured.writes.acknowledged).toBeGreaterThan(50);
      expect(report.measured.rtoMs).toBeDefined();
      expect(report.measured.detectionMs).toBeDefined();
      expect(report.timeline.map((e) => e.kind)).toEqual(
        expect.arrayContaining(['fault-injected', 'detected', 'step-finished', 'first-success']),
      );
      expect(report.timeline.filter((e) => e.kind === 'step-finished').map((e) => e.step)).toEqual(
        expect.arrayContaining(['fence-east', 'promote-west', 'start-orders-west', 'verify-front-door']),
      );
      expect(report.passed).toBe(true);
      expect(existsSync(files.html) && existsSync(files.json)).toBe(true);
      const store = await openStore(stateDir);
      try {
        const [kept] = await store.listDrillReports({ workload: 'shop', scenario: 'east-killed' });
        expect(kept).toMatchObject({ id: report.id, passed: true, lostWrites: 0 });
      } finally {
        await store.close();
      }
    }
  });
});

describe.skipIf(!pgAvailable())('hot-standby drills of the other ways a site goes', () => {
  async function drill(scenario: string, failback?: { approveAs?: string }) {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'plan.yaml'));
    const stateDir = tempDir(`drctl-drill-${scenario}-`);
    const options = { plan, scenario, stateDir, remapPorts: true };
    return (await runDrill(failback === undefined ? options : { ...options, failback })).report;
  }
  const BACK_AT_EAST_LOSING_NOTHING = { status: 'succeeded', dataSite: 'east', lostWrites: { count: 0 } };
  const finished = (report: { timeline: Array<{ kind: string; step?: string }> }) =>
    report.timeline.filter((e) => e.kind === 'step-finished').map((e) => e.step);

  it('fails over when the fault proxy cuts site east off, replication included, and fails back without losing a write', async () => {
    const report = await drill('east-cut-off', {});
    expect(report.measured.lostWrites.count).toBe(0);
    expect(finished(report)).toEqual(
      expect.arrayContaining(['fence-east', 'promote-west', 'verify-front-door']),
    );
    expect(report.verdicts.find((v) => v.target === 'failover')).toMatchObject({ pass: true });
    // east's database is rebuilt and started behind its fault proxy, on the port the proxy forwards to
    expect(report.failback).toMatchObject(BACK_AT_EAST_LOSING_NOTHING);
    expect(report.passed).toBe(true);
  });

  it('fails over from a frozen site, killing the frozen database in the fence, and fails back to it', async () => {
    const report = await drill('east-frozen', {});
    expect(report.measured.lostWrites.count).toBe(0);
    const fence = report.timeline.find((e) => e.kind === 'step-finished' && e.step === 'fence-east');
    expect(fence?.detail).toContain('killed with SIGKILL');
    expect(report.findings).toEqual([]);
    // the killed east is rewound (after its crash recovery) and takes the writes again
    expect(report.failback).toMatchObject(BACK_AT_EAST_LOSING_NOTHING);
    expect(report.passed).toBe(true);
  });

  it('rides out a database freeze shorter than the detection window, and then has no failback to run', async () => {
    const report = await drill('east-hiccup', {});
    const kinds = report.timeline.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['fault-injected', 'fault-lifted']));
    expect(kinds).not.toContain('detected');
    expect(report.verdicts.find((v) => v.target === 'failover')).toMatchObject({
      pass: true,
      failover: { expected: false, runs: [] },
    });
    expect(report.measured.lostWrites.count).toBe(0);
    // east is still the primary: a failback would copy the standby over it
    expect(report.failback).toBeUndefined();
    expect(report.findings).toEqual([
      expect.objectContaining({
        code: 'DRCTL_DRILL_FAILBACK_SKIPPED',
        message: 'the failback was not run: no failover run started',
      }),
    ]);
    expect(report.passed).toBe(false);
  });
});

describe.skipIf(!pgAvailable())('the hot-standby drill with failback', () => {
  it('fails back to east through the failback runbook without losing an acknowledged write', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'plan.yaml'));
    const stateDir = tempDir('drctl-drill-failback-');
    const { report, files } = await runDrill({
      plan,
      scenario: 'east-killed',
      stateDir,
      remapPorts: true,
      failback: {},
    });
    // the failover phase is measured as before
    expect(report.measured.lostWrites.count).toBe(0);
    expect(report.measured.rtoMs).toBeDefined();
    const back = report.failback;
    expect(back).toBeDefined();
    // synchronous replication across failover and failback: every acknowledged order is at east at the end
    expect(back?.lostWrites).toMatchObject({ count: 0, ids: [] });
    expect(back?.dataSite).toBe('east');
    expect(back).toMatchObject({ status: 'succeeded', approvedBy: 'carol', servedBy: 'east' });
    expect(back?.outageMs).toBeDefined();
    expect(back?.steps.map((s) => [s.id, s.status])).toEqual([
      ['approve-window', 'succeeded'],
      ['rebuild-east', 'succeeded'],
      ['fence-west', 'succeeded'],
      ['promote-east', 'succeeded'],
      ['start-orders-east', 'succeeded'],
      ['front-door-east', 'succeeded'],
      ['stop-orders-west', 'succeeded'],
    ]);
    expect(back?.verdicts.map((v) => [v.target, v.pass])).toEqual([
      ['outage', true],
      ['rpo', true],
      ['run', true],
    ]);
    const failbackSteps = report.timeline.filter(
      (e) => e.runbook === 'failback' && e.kind === 'step-finished',
    );
    expect(failbackSteps.map((e) => e.step)).toContain('promote-east');
    expect(report.timeline.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['failback-started', 'failback-finished']),
    );
    // the front door serves from east again
    const router = report.evidence.find((e) => e.name === 'router status')?.value as { active?: string };
    expect(router.active).toBe('east');
    expect(report.passed).toBe(true);
    expect(readFileSync(files.html, 'utf8')).toContain('data-verdict="failback-rpo"');
  });
});

describe('the warm-standby drill with failback', () => {
  it('copies every order taken at west back to east and loses no more than the failover did', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'warm-standby.yaml'));
    const stateDir = tempDir('drctl-drill-warm-failback-');
    const { report } = await runDrill({
      plan,
      scenario: 'east-killed',
      stateDir,
      remapPorts: true,
      failback: { approveAs: 'dave' },
    });
    const back = report.failback;
    expect(back).toMatchObject({
      status: 'succeeded',
      approvedBy: 'dave',
      dataSite: 'east',
      servedBy: 'east',
    });
    // the snapshot loss of the failover stays lost; the failback adds none
    expect(back?.lostWrites.count).toBe(report.measured.lostWrites.count);
    expect(back?.verdicts.every((v) => v.pass)).toBe(true);
    expect(report.passed).toBe(true);
  });

  it('refuses to let the drill approve its own failback (four-eyes)', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'warm-standby.yaml'));
    const error = await runDrill({
      plan,
      scenario: 'east-killed',
      stateDir: tempDir(),
      failback: { approveAs: 'drill' },
    }).catch((e: unknown) => e);
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_NO_APPROVER');
  });
});

describe('the warm-standby drill (SQLite snapshots)', () => {
  it('fails over from the newest snapshot and reports the writes lost, within the RPO', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'warm-standby.yaml'));
    const stateDir = tempDir('drctl-drill-warm-');
    const { report } = await runDrill({ plan, scenario: 'east-killed', stateDir, remapPorts: true });
    expect(report.measured.rtoMs).toBeDefined();
    const rpo = report.verdicts.find((v) => v.target === 'rpo');
    // what a snapshot every second may lose: the orders acknowledged since the last one
    expect(rpo).toMatchObject({ pass: true, objectiveMs: 5_000 });
    expect(report.measured.lostWrites.spanMs).toBeLessThanOrEqual(5_000);
    expect(report.evidence.find((e) => e.name === 'snapshots')).toBeDefined();
    expect(report.passed).toBe(true);
  });
});

describe('a drill of reduced functionality (the switchboard)', () => {
  it('refuses orders with a clear message while the catalog keeps answering through the front door, and nobody fails over', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'warm-standby.yaml'));
    const stateDir = tempDir('drctl-drill-switchboard-');
    const { report } = await runDrill({ plan, scenario: 'orders-switched-off', stateDir, remapPorts: true });
    expect(report.timeline.find((e) => e.kind === 'first-failure')?.detail).toContain('orders-unavailable');
    expect(report.measured.reads).toMatchObject({ availability: 1, unavailableMs: 0 });
    // writes come back when the flag is lifted after 2 s, not before
    expect(report.measured.rtoMs).toBeGreaterThanOrEqual(2_000);
    expect(report.verdicts.find((v) => v.target === 'failover')).toMatchObject({ pass: true });
    expect(report.measured.lostWrites.count).toBe(0);
    expect(report.passed).toBe(true);
  });
});

describe('drill errors', () => {
  it('refuses a scenario the plan does not have', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'warm-standby.yaml'));
    const error = await runDrill({ plan, scenario: 'east-flooded', stateDir: tempDir() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_UNKNOWN_SCENARIO');
    expect((error as DrctlError).hint).toContain('east-killed');
  });

  it('points at the plan when a scenario names an unknown component', async () => {
    const file = planCopy((text) =>
      text.replace('target: orders@east, at: 2s', 'target: ordres@east, at: 2s'),
    );
    const error = await loadPlanForCommand(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanInvalidError);
    const problem = (error as PlanInvalidError).problems.find((p) => p.code === 'DRCTL_PLAN_UNKNOWN_REF');
    expect(problem?.message).toContain('ordres');
    expect(problem?.location.line).toBeGreaterThan(1);
  });

  it('refuses a fault it cannot inject, at the fault', async () => {
    const file = planCopy((text) => text.replace('target: orders@east, at: 2s', 'target: data@east, at: 2s'));
    const plan = await loadPlanForCommand(file);
    const error = await runDrill({ plan, scenario: 'east-killed', stateDir: tempDir() }).catch(
      (e: unknown) => e,
    );
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_FAULT_UNSUPPORTED');
    expect((error as DrctlError).location?.file).toBe(file);
  });

  it('names the port and the component when a port is already taken', async () => {
    const [door, east, west] = [await freePort(), await freePort(), await freePort()];
    const file = planCopy((text) =>
      text.replaceAll('8080', String(door)).replaceAll('8081', String(east)).replaceAll('8082', String(west)),
    );
    const blocker = net.createServer();
    await new Promise<void>((done) => blocker.listen(east, '127.0.0.1', done));
    try {
      const plan = await loadPlanForCommand(file);
      const error = await runDrill({ plan, scenario: 'east-killed', stateDir: tempDir() }).catch(
        (e: unknown) => e,
      );
      expect((error as DrctlError).code).toBe('DRCTL_DRILL_PORT_TAKEN');
      expect((error as DrctlError).message).toContain(`port ${east}`);
      expect((error as DrctlError).message).toContain('component orders at site east');
    } finally {
      blocker.close();
    }
  });

  it('says which site never came up and stops what it started', async () => {
    const file = planCopy((text) =>
      text.replace(
        'command: node app/order-service.mjs\n            port: 8082',
        'command: node app/no-such-service.mjs\n            port: 8082',
      ),
    );
    const plan = await loadPlanForCommand(file);
    const stateDir = tempDir();
    const error = await runDrill({ plan, scenario: 'east-killed', stateDir, remapPorts: true }).catch(
      (e: unknown) => e,
    );
    expect((error as DrctlError).code).toBe('DRCTL_DRILL_SITE_DOWN');
    expect((error as DrctlError).message).toContain('site west');
    // east had started; nothing of it is left
    expect(readFileSync(join(stateDir, 'processes', 'orders_east.0.log'), 'utf8')).toContain('listening');
    expect(existsSync(join(stateDir, 'processes', 'orders_east.json'))).toBe(false);
  });
});

/** A copy of the warm-standby plan beside the original (so its relative command paths still resolve). */
function planCopy(edit: (text: string) => string): string {
  const dir = tempDir();
  const file = join(dir, 'plan.yaml');
  const text = readFileSync(join(TWO_SITE, 'warm-standby.yaml'), 'utf8').replace(
    /command: node app\//g,
    `cwd: ${JSON.stringify(TWO_SITE)}\n            command: node app/`,
  );
  writeFileSync(file, edit(text));
  return file;
}
