/**
 * The monitor against real site processes and a real SQLite store: a killed primary fails over once by
 * itself, a workload without automatic failover gets a run waiting for activation, and a paused primary
 * that comes back within the window causes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { approveStep, loadRunState } from '../../src/engine/index.ts';
import type { Engine, RunDriver } from '../../src/engine/index.ts';
import { engineRunbookStarter, Monitor } from '../../src/monitor/index.ts';
import type { MonitorEvent } from '../../src/monitor/index.ts';
import { UsageError } from '../../src/errors.ts';
import type { Plan } from '../../src/plan/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { engineOn, sleep, startSite, stopAllSites, until, writePlan } from './sites.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stopAllSites();
});

async function watch(workloads: Parameters<typeof writePlan>[0]): Promise<{
  monitor: Monitor;
  store: RunStore;
  engine: Engine;
  plan: Plan;
  events: MonitorEvent[];
  drivers: RunDriver[];
}> {
  const { plan, dir } = await writePlan(workloads);
  const { engine, store } = await engineOn(dir);
  const drivers: RunDriver[] = [];
  const monitor = Monitor.start({
    plan,
    startRunbook: engineRunbookStarter(engine, plan, { onRun: (driver) => drivers.push(driver) }),
  });
  const events: MonitorEvent[] = [];
  monitor.on('event', (event) => events.push(event));
  cleanups.push(async () => {
    await monitor.stop();
    await Promise.allSettled(drivers.map((driver) => driver.done));
    await store.close();
  });
  return { monitor, store, engine, plan, events, drivers };
}

const firstRecord = async (store: RunStore, runId: string): Promise<Record<string, unknown>> =>
  (await store.readJournal(runId))[0]?.data ?? {};

describe('monitor with automatic failover', () => {
  it('starts exactly one automatic failover run when the primary site is killed', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const { store, events, drivers } = await watch([
      { id: 'shop', automatic: true, detectAfter: '400ms', east: east.port, west: west.port },
    ]);
    await until(() => events.some((e) => e.type === 'probe' && e.site === 'east' && e.ok));

    east.kill('SIGKILL');
    const started = await until(() => events.find((e) => e.type === 'failover-started'), 15_000);
    expect(started).toMatchObject({ type: 'failover-started', workload: 'shop', automatic: true });
    const outcome = await drivers[0]?.done;
    expect(outcome?.status).toBe('succeeded');

    const lost = events.find((e) => e.type === 'site-lost');
    expect(lost).toMatchObject({ workload: 'shop', site: 'east' });
    if (lost?.type === 'site-lost')
      expect(lost.confirmedAt - lost.firstFailureAt).toBeGreaterThanOrEqual(400);

    // the site stays dead: still exactly one run
    await sleep(1_000);
    const runs = await store.listRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      workload: 'shop',
      runbook: 'failover',
      startedBy: 'monitor',
      status: 'succeeded',
    });
    expect(await firstRecord(store, runs[0]?.id ?? '')).toMatchObject({ trigger: { automatic: true } });
    expect(events.filter((e) => e.type === 'site-lost')).toHaveLength(1);
  });

  it('opens a failover run that waits for activation approval when the workload does not fail over by itself', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const { store, engine, plan, events, drivers } = await watch([
      {
        id: 'ledger',
        automatic: false,
        detectAfter: '400ms',
        east: east.port,
        west: west.port,
        tier: 2,
        strategy: 'warm-standby',
      },
    ]);
    await until(() => events.some((e) => e.type === 'probe' && e.site === 'east' && e.ok));

    east.kill('SIGKILL');
    const started = await until(() => events.find((e) => e.type === 'failover-started'), 15_000);
    expect(started).toMatchObject({ workload: 'ledger', automatic: false });
    const runId = started?.type === 'failover-started' ? started.runId : '';
    // the driver returns as soon as the run only waits for people
    expect((await drivers[0]?.done)?.status).toBe('waiting');
    const waiting = await loadRunState(store, runId);
    expect(waiting.steps.get('activation')).toMatchObject({ status: 'waiting', waitingFor: 'approval' });
    expect(waiting.steps.get('activation')?.snapshot.approval).toMatchObject({
      approvers: ['bob', 'carol'],
      quorum: 1,
    });
    // nothing of the failover itself ran
    expect(waiting.steps.get('promote')?.status).toBe('pending');
    expect(await firstRecord(store, runId)).toMatchObject({
      trigger: { automatic: false },
      activation: { approvers: ['bob', 'carol'] },
    });

    // only the plan's activation approvers may declare
    await expect(approveStep(store, { runId, step: 'activation', by: 'alice' })).rejects.toMatchObject({
      code: 'DRCTL_APPROVAL_NOT_ALLOWED',
    });
    await approveStep(store, { runId, step: 'activation', by: 'carol' });
    // a resumed run gets its gate back from the first record, though the plan file has no such step
    const resumed = await engine.resume({ plan, runId, by: 'carol' });
    expect((await resumed.done).status).toBe('succeeded');
    expect((await store.listRuns()).length).toBe(1);
  });

  it('does not fail over when the primary is paused for less than the detection window', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const { store, events } = await watch([
      { id: 'shop', automatic: true, detectAfter: '900ms', east: east.port, west: west.port },
    ]);
    await until(() => events.some((e) => e.type === 'probe' && e.site === 'east' && e.ok));

    east.kill('SIGSTOP');
    await sleep(300);
    east.kill('SIGCONT');
    const recovered = await until(() => events.find((e) => e.type === 'site-recovered'), 5_000);
    await sleep(1_200);

    // the pause was seen (so the test could fail), and forgiven
    expect(events.some((e) => e.type === 'site-suspect' && e.site === 'east')).toBe(true);
    expect(recovered).toMatchObject({ site: 'east', wasLost: false });
    expect(events.filter((e) => e.type === 'site-lost' || e.type === 'failover-started')).toEqual([]);
    expect(await store.listRuns()).toEqual([]);
  });
});

describe('monitor options', () => {
  const noStart = (): Promise<{ runId: string }> => Promise.reject(new Error('not expected'));

  it('refuses a workload the plan does not have', async () => {
    const { plan } = await writePlan([{ id: 'shop', automatic: true, detectAfter: '1s', east: 1, west: 2 }]);
    expect(() => Monitor.start({ plan, startRunbook: noStart, workloads: ['billing'] })).toThrow(UsageError);
    expect(() => Monitor.start({ plan, startRunbook: noStart, workloads: ['billing'] })).toThrow(
      expect.objectContaining({ code: 'DRCTL_MONITOR_UNKNOWN_WORKLOAD' }),
    );
  });

  it('refuses a plan with no probe aimed at a site', async () => {
    const { plan } = await writePlan([{ id: 'shop', automatic: true, detectAfter: '1s', east: 1, west: 2 }]);
    const unprobed = {
      ...plan,
      workloads: plan.workloads.map((w) => ({
        ...w,
        components: w.components.map((c) => ({ ...c, probe: undefined })),
      })),
    };
    expect(() => Monitor.start({ plan: unprobed, startRunbook: noStart })).toThrow(
      expect.objectContaining({ name: 'UsageError', code: 'DRCTL_MONITOR_NOTHING_TO_WATCH' }),
    );
  });
});
