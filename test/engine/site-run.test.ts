// A site run: every workload the lost site serves recovered in one run behind one declaration, children
// ordered by the dependencies between workloads, a failed child stopping only itself and what needs it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Engine, approveStep, confirmStep, runView } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { draftPir, writeAuditPack, writeReportMarkdown } from '../../src/report/index.ts';
import { openStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { CONTACTS } from './fixtures.ts';

const placed = { east: { url: 'http://127.0.0.1:1' }, west: { url: 'http://127.0.0.1:2', standby: true } };

/** base (a shared service) ← api ← web; batch on its own; each step appends its id to steps.log. */
function workloads(fail: string | undefined, policy = 'abort'): unknown[] {
  const step = (workload: string, id: string, extra: Record<string, unknown> = {}) => ({
    id,
    run: workload === fail && id === 'go' ? 'exit 3' : `echo ${workload}.${id} >> steps.log`,
    ...(workload === fail && id === 'go' ? { on_failure: policy } : {}),
    ...extra,
  });
  const workload = (id: string, tier: number, dependsOn: string[], steps: unknown[]) => ({
    id,
    tier,
    strategy: tier <= 1 ? 'hot-standby' : 'warm-standby',
    owner: 'alice',
    components: [{ id: `${id}-c`, kind: 'http-service', placement: placed, depends_on: dependsOn }],
    runbooks: { failover: { steps } },
  });
  return [
    workload('web', 2, ['api-c'], [step('web', 'go')]),
    workload(
      'api',
      1,
      ['base-c'],
      [
        step('api', 'prepare', { undo: { run: 'echo undo-api.prepare >> steps.log' } }),
        step('api', 'go', { needs: ['prepare'] }),
      ],
    ),
    workload('base', 0, [], [step('base', 'go')]),
    workload(
      'batch',
      3,
      [],
      [{ id: 'confirm', manual: 'check the batch queue' }, step('batch', 'go', { needs: ['confirm'] })],
    ),
  ];
}

async function bench(fail?: string, policy?: string) {
  const dir = tempDir('drctl-site-run-');
  const planFile = join(dir, 'plan.yaml');
  writeFileSync(
    planFile,
    stringify({
      version: 1,
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: CONTACTS,
      activation: { criteria: ['east is gone'], approvers: ['bob', 'carol'], quorum: 1 },
      workloads: workloads(fail, policy),
    }),
  );
  const plan = await loadPlan(planFile);
  const store = await openStore(join(dir, '.drctl'));
  const engine = new Engine({ store, providers, stateDir: join(dir, '.drctl'), pollMs: 20 });
  const lines = (): string[] => readFileSync(join(dir, 'steps.log'), 'utf8').trim().split('\n');
  return { dir, plan, store, engine, lines };
}

describe('a site run', () => {
  it('waits at one declaration, then recovers children in dependency order with their own manual steps', async () => {
    const { plan, store, engine, lines } = await bench();
    const first = await engine.start({
      plan,
      runbook: '',
      site: 'east',
      startedBy: 'alice',
      returnWhenWaiting: true,
    });
    expect((await first.done).status).toBe('waiting');
    let view = runView(await store.readJournal(first.runId));
    expect(view.workload).toBe('site:east');
    expect(view.waiting).toEqual([{ step: 'activation', for: 'approval', on: ['bob', 'carol'] }]);
    expect(view.site?.children.map((child) => [child.workload, child.status, child.after])).toEqual([
      ['base', 'pending', []],
      ['batch', 'pending', []],
      ['api', 'pending', ['base']],
      ['web', 'pending', ['api']],
    ]);
    await approveStep(store, { runId: first.runId, step: 'activation', by: 'bob' });
    const second = await engine.resume({ plan, runId: first.runId, by: 'bob', returnWhenWaiting: true });
    expect((await second.done).status).toBe('waiting');
    view = runView(await store.readJournal(first.runId));
    expect(view.waiting.map((wait) => wait.step)).toEqual(['batch.confirm']);
    expect(lines()).toEqual(['base.go', 'api.prepare', 'api.go', 'web.go']);
    await confirmStep(store, { runId: first.runId, step: 'batch.confirm', by: 'dave' });
    const third = await engine.resume({ plan, runId: first.runId, by: 'dave' });
    expect((await third.done).status).toBe('succeeded');
    view = runView(await store.readJournal(first.runId));
    expect(view.site?.children.every((child) => child.status === 'succeeded' && child.fits === true)).toBe(
      true,
    );
    const site = view.site!;
    // the tier's time is its last workload back, the site's the last of all, each from the run's start
    expect(site.tiers.map((tier) => [tier.tier, tier.workloads, tier.fits])).toEqual([
      [0, ['base'], true],
      [1, ['api'], true],
      [2, ['web'], true],
      [3, ['batch'], true],
    ]);
    const backAfter = (id: string) => site.children.find((child) => child.workload === id)?.recoveredAfterMs;
    expect(site.tiers[2]?.recoveredAfterMs).toBe(backAfter('web'));
    expect(site.recoveredAfterMs).toBe(Math.max(...site.children.map((child) => child.recoveredAfterMs!)));
    expect(site.declaredAfterMs).toBeLessThanOrEqual(backAfter('base')!);
    expect(site.withinRto).toEqual({ met: 4, missed: 0, notRecovered: 0, open: 0 });
  });

  it('stops only the failed child and what depends on it', async () => {
    const { dir, plan, store, engine, lines } = await bench('api');
    const run = await engine.start({
      plan,
      runbook: '',
      site: 'east',
      startedBy: 'alice',
      returnWhenWaiting: true,
    });
    await run.done;
    await approveStep(store, { runId: run.runId, step: 'activation', by: 'carol' });
    await (
      await engine.resume({ plan, runId: run.runId, by: 'carol', returnWhenWaiting: true })
    ).done;
    await confirmStep(store, { runId: run.runId, step: 'batch.confirm', by: 'dave' });
    const outcome = await (await engine.resume({ plan, runId: run.runId, by: 'carol' })).done;
    expect(outcome.status).toBe('failed');
    const view = runView(await store.readJournal(run.runId));
    expect(
      Object.fromEntries(view.site?.children.map((child) => [child.workload, child.status]) ?? []),
    ).toEqual({
      base: 'succeeded',
      batch: 'succeeded',
      api: 'failed',
      web: 'blocked',
    });
    expect(view.reason).toMatch(/child api \(step api\.go\) failed/);
    expect(lines()).toEqual(expect.arrayContaining(['base.go', 'batch.go', 'api.prepare']));
    expect(lines()).not.toContain('web.go');
    expect(view.site?.withinRto).toEqual({ met: 2, missed: 0, notRecovered: 2, open: 0 });
    expect(view.site?.recoveredAfterMs).toBeUndefined();

    // the review has one row per workload, its tier's and the site's time, and an action for the blocked one
    const review = writeReportMarkdown(
      draftPir({
        run: (await store.getRun(run.runId))!,
        records: await store.readJournal(run.runId),
        plan,
      }).document,
    );
    expect(review).toContain('## Recovery of site east');
    expect(review).toMatch(/\| web \| 2 \| api \| blocked \| .+ \| — \| blocked \|/);
    expect(review).toMatch(/\| tier 0 \| base \| .+ \| pass \|/);
    expect(review).toMatch(/\| site east \| 4 \| — \| — \| not all back \|/);
    expect(review).toContain('web never started: it waits for api');
    expect(review).toMatch(/plan\.yaml:\d+:\d+ \(step api\.go\)/);

    // the auditor pack keeps the same result as evidence and lists it among the measured figures
    const pack = await writeAuditPack({
      plan,
      store,
      since: new Date(Date.now() - 60_000),
      out: join(dir, 'pack'),
      pdf: false,
    });
    const evidence = JSON.parse(
      readFileSync(join(pack.dir, 'evidence', 'site-runs', `${run.runId}.json`), 'utf8'),
    ) as { withinRto: unknown };
    expect(evidence.withinRto).toEqual(view.site?.withinRto);
    expect(readFileSync(pack.html, 'utf8')).toMatch(/<td>web<\/td><td>tier 2<\/td><td>—<\/td>/);
  });

  it('rolls back only the failed child when its policy is rollback', async () => {
    const { plan, store, engine, lines } = await bench('api', 'rollback');
    const run = await engine.start({
      plan,
      runbook: '',
      site: 'east',
      startedBy: 'alice',
      returnWhenWaiting: true,
    });
    await run.done;
    await approveStep(store, { runId: run.runId, step: 'activation', by: 'carol' });
    await (
      await engine.resume({ plan, runId: run.runId, by: 'carol', returnWhenWaiting: true })
    ).done;
    await confirmStep(store, { runId: run.runId, step: 'batch.confirm', by: 'dave' });
    expect((await (await engine.resume({ plan, runId: run.runId, by: 'carol' })).done).status).toBe('failed');
    const view = runView(await store.readJournal(run.runId));
    expect(view.site?.children.find((child) => child.workload === 'api')?.status).toBe('rolled-back');
    expect(view.site?.children.find((child) => child.workload === 'base')?.status).toBe('succeeded');
    expect(lines()).toContain('undo-api.prepare');
  });
});
