/**
 * Several `drctl serve` processes on one PostgreSQL store: exactly one drives a run, holding its lease;
 * when it dies (SIGKILL) or hangs (SIGSTOP) past its lease, another takes the run over from the journal,
 * no finished step runs again, and a former driver that comes back is fenced and stands down.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import type { JournalRecord } from '../../src/store/index.ts';
import { cli, stopAll } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { chainSteps, site } from './instances.ts';
import type { Instance, RunView, Site } from './instances.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

let cluster: PgCluster | undefined;
const url = (): string => cluster!.node('east').url;

/** The instance whose process holds the run's lease now. */
async function driverOf(s: Site, runId: string, instances: Instance[]): Promise<Instance> {
  return eventually(async () => {
    const lease = await s.lease(runId);
    return instances.find((instance) => instance.process.child.pid === lease?.pid);
  }, 20_000);
}

async function finished(s: Site, instance: Instance, runId: string, timeoutMs = 60_000): Promise<RunView> {
  return eventually(async () => {
    const view = await s.api<RunView>(instance, 'GET', `/api/v1/runs/${runId}`).catch(() => undefined);
    return view !== undefined && view.status !== 'running' && view.status !== 'waiting' ? view : undefined;
  }, timeoutMs);
}

/** Every step ran; a step ran more than once only when its earlier attempt never finished. */
function expectEachFinishedStepRanOnce(
  records: JournalRecord[],
  executions: Map<string, number>,
  count: number,
) {
  for (let index = 1; index <= count; index += 1) {
    const id = `s${index}`;
    const succeeded = records.filter((r) => r.type === 'step-succeeded' && r.step === id);
    expect(succeeded, id).toHaveLength(1);
    const interrupted = records.filter((r) => r.type === 'step-interrupted' && r.step === id).length;
    const ran = executions.get(id) ?? 0;
    expect(ran, `${id} ran`).toBeGreaterThanOrEqual(1);
    expect(ran, `${id} ran again only after an interruption`).toBeLessThanOrEqual(1 + interrupted);
  }
}

describe.skipIf(!pgAvailable())('several drctl serve instances on one PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('takes a run over after each of 10 SIGKILLs of its driver, never re-running a finished step', async () => {
    const STEPS = 30;
    const s = await site(url(), chainSteps(STEPS));
    try {
      const instances = [await s.start('a'), await s.start('b')];
      await Promise.all(instances.map((instance) => s.waitUp(instance)));
      const run = await s.api<RunView>(instances[0]!, 'POST', '/api/v1/runs', { runbook: 'failover' });
      const takeoversMs: number[] = [];
      // kills come faster than a killed instance starts again: the other is then still starting, and
      // takes the run over as soon as it is up (marked * below)
      const booting: boolean[] = [];
      for (let kill = 0; kill < 10; kill += 1) {
        const driver = await driverOf(s, run.id, instances);
        const other = instances.find((instance) => instance !== driver)!;
        await sleep(Math.floor(Math.random() * 400));
        booting.push(
          !(await fetch(`${other.base}/healthz`).then(
            (r) => r.ok,
            () => false,
          )),
        );
        const killedAt = Date.now();
        driver.process.child.kill('SIGKILL');
        await driver.process.exit;
        instances[instances.indexOf(driver)] = driver.restart();
        const next = await eventually(async () => {
          const records = await s.journal(run.id);
          if (records.some((r) => r.type === 'run-finished')) return 'finished' as const;
          return records.find((r) => r.type === 'step-started' && r.at.getTime() >= killedAt);
        }, 30_000);
        if (next === 'finished') break;
        takeoversMs.push(next.at.getTime() - killedAt);
      }
      const done = await finished(s, instances[0]!, run.id);
      expect(done.status).toBe('succeeded');
      const records = await s.journal(run.id);
      expectEachFinishedStepRanOnce(records, s.executions(), STEPS);
      const sorted = [...takeoversMs].sort((x, y) => x - y);
      console.log(
        `takeover after SIGKILL (kill → next step started), ${sorted.length} kills: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms (${takeoversMs.map((ms, index) => `${ms}${booting[index] ? '*' : ''}`).join(', ')}; * = the other instance was still starting)`,
      );
      expect(takeoversMs).toHaveLength(10);
      const audit = await cli(['audit', 'verify', run.id, '--state', s.state], { cwd: s.dir });
      expect(audit.stderr).toBe('');
      expect(audit.code).toBe(0);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('takes over from a driver hung past its lease (SIGSTOP), which is fenced and stands down when continued', async () => {
    const STEPS = 8;
    const s = await site(url(), chainSteps(STEPS, 0.3), { leaseTtlMs: 2_000 });
    try {
      const instances = [await s.start('a'), await s.start('b')];
      await Promise.all(instances.map((instance) => s.waitUp(instance)));
      const run = await s.api<RunView>(instances[0]!, 'POST', '/api/v1/runs', { runbook: 'failover' });
      await eventually(async () =>
        (await s.journal(run.id)).some((r) => r.type === 'step-succeeded' && r.step === 's2'),
      );
      const hung = await driverOf(s, run.id, instances);
      const other = instances.find((instance) => instance !== hung)!;
      const before = await s.lease(run.id);
      const stoppedAt = Date.now();
      hung.process.child.kill('SIGSTOP');
      const taken = await eventually(async () => {
        const lease = await s.lease(run.id);
        return lease?.pid === other.process.child.pid ? lease : undefined;
      }, 20_000);
      const tookMs = Date.now() - stoppedAt;
      // a paused process keeps its database session: only the lease's expiry lets the other in
      expect(tookMs).toBeGreaterThanOrEqual(1_000);
      expect(taken.token).toBeGreaterThan(before!.token);
      await eventually(async () =>
        (await s.journal(run.id)).some(
          (r) => r.type === 'step-started' && r.at.getTime() > stoppedAt + 1_000,
        ),
      );
      const headBeforeContinue = (await s.journal(run.id)).length;
      hung.process.child.kill('SIGCONT');
      const done = await finished(s, other, run.id);
      expect(done.status).toBe('succeeded');
      const records = await s.journal(run.id);
      expect(records.length).toBeGreaterThan(headBeforeContinue);
      expectEachFinishedStepRanOnce(records, s.executions(), STEPS);
      // the continued process refused its own appends and stood down, still serving
      expect(records.filter((r) => r.type === 'run-driven').map((r) => r.data.pid)).toEqual([
        hung.process.child.pid,
        other.process.child.pid,
      ]);
      hung.process.child.kill('SIGTERM');
      const exit = await hung.process.exit;
      expect(exit.code).toBe(0);
      expect(exit.stderr).toContain('DRCTL_RUN_LEASE_LOST');
      expect(exit.stderr).toContain('stood down without writing');
      console.log(`takeover after SIGSTOP with a 2 s lease: ${tookMs} ms until the other held the lease`);
    } finally {
      await s.close();
    }
  }, 90_000);

  it('refuses to take over a run started from another version of the plan, and its own version does', async () => {
    const s = await site(url(), chainSteps(6, 0.3));
    try {
      const newer = join(s.dir, 'newer');
      mkdirSync(newer);
      writePlan(newer, chainSteps(7, 0.3));
      const first = await s.start('v1');
      const second = await s.start('v2', [], newer);
      await Promise.all([s.waitUp(first), s.waitUp(second)]);
      const run = await s.api<RunView>(first, 'POST', '/api/v1/runs', { runbook: 'failover' });
      await eventually(async () => (await s.journal(run.id)).some((r) => r.type === 'step-started'));
      first.process.child.kill('SIGKILL');
      await first.process.exit;
      await sleep(2_500);
      const open = await s.api<RunView>(second, 'GET', `/api/v1/runs/${run.id}`);
      expect(open.status).toBe('running');
      expect((await s.journal(run.id)).filter((r) => r.type === 'run-driven')).toHaveLength(1);
      // the instance serving the run's own version takes it over when it is back
      first.restart();
      expect((await finished(s, second, run.id)).status).toBe('succeeded');
      second.process.child.kill('SIGTERM');
      const exit = await second.process.exit;
      expect(exit.stderr).toContain('DRCTL_RUN_PLAN_CHANGED');
      expect(exit.stderr.match(/DRCTL_RUN_PLAN_CHANGED/g)).toHaveLength(1);
    } finally {
      await s.close();
    }
  }, 90_000);
});
