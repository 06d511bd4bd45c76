import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RECORD, approveStep, runView } from '../../src/engine/index.ts';
import type { StepSnapshot } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { draftPir, writeReportMarkdown } from '../../src/report/index.ts';
import { openStore, type JournalInput, type RunStore } from '../../src/store/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';
import { setup } from '../engine/fixtures.ts';

const WARM = join(import.meta.dirname, '../../examples/two-site/warm-standby.yaml');

function snapshot(
  id: string,
  expectedMs: number,
  contingencyMs = 0,
  kind: StepSnapshot['kind'] = 'action',
): StepSnapshot {
  return {
    id,
    name: id,
    kind,
    needs: [],
    expectedMs,
    contingencyMs,
    idempotent: false,
    onFailure: 'escalate',
    escalateTo: 'bob',
    hasUndo: false,
    approval:
      kind === 'approval'
        ? { approvers: ['carol', 'dave'], role: undefined, quorum: 1, fourEyes: true }
        : undefined,
  };
}

/** A failover of the warm-standby shop written into the real store at fixed times. */
async function writeIncident(store: RunStore, planHash: string, planFile: string): Promise<void> {
  const t0 = Date.parse('2026-11-20T03:12:00Z');
  const at = async (seconds: number, records: JournalInput[]) => {
    vi.setSystemTime(t0 + seconds * 1000);
    await store.append('run-1', records);
  };
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(t0);
  const steps = [
    snapshot('declare', 300_000, 0, 'approval'),
    snapshot('stop-orders-west', 1_000),
    snapshot('restore-west', 1_000, 5_000),
    snapshot('start-orders-west', 1_000, 5_000),
  ];
  await store.createRun(
    { id: 'run-1', workload: 'shop', runbook: 'failover', planHash, planFile, startedBy: 'monitor' },
    {
      type: RECORD.runCreated,
      actor: 'monitor',
      data: {
        workload: 'shop',
        runbook: 'failover',
        planHash,
        planFile,
        startedBy: 'monitor',
        parallel: 4,
        steps,
        activation: { approvers: ['carol', 'dave'], quorum: 1, reason: 'site east lost' },
        trigger: { automatic: false, reason: 'site east lost: 3 probes failed' },
      },
    },
  );
  const step = (
    type: string,
    id: string,
    data: Record<string, unknown> = {},
    actor = 'engine',
  ): JournalInput => ({
    type,
    step: id,
    actor,
    data,
  });
  await at(1, [
    step(RECORD.stepStarted, 'declare', { attempt: 1 }),
    step(RECORD.stepWaiting, 'declare', { for: 'approval' }),
  ]);
  await at(240, [step(RECORD.approvalGranted, 'declare', {}, 'carol')]);
  await at(241, [step(RECORD.stepSucceeded, 'declare', { summary: 'approved by carol' })]);
  await at(242, [step(RECORD.stepStarted, 'stop-orders-west', { attempt: 1 })]);
  await at(243, [step(RECORD.stepSucceeded, 'stop-orders-west', { summary: 'stopped 1 process' })]);
  await at(243, [step(RECORD.stepStarted, 'restore-west', { attempt: 1 })]);
  await at(247, [step(RECORD.stepSucceeded, 'restore-west', { summary: 'restored snapshot 41' })]);
  await at(247, [step(RECORD.stepStarted, 'start-orders-west', { attempt: 1 })]);
  await at(249, [
    step(RECORD.stepFailed, 'start-orders-west', {
      attempt: 1,
      code: 'DRCTL_PROCESS_EXITED',
      message: 'exited 1',
      final: false,
      retryInMs: 200,
    }),
  ]);
  await at(250, [step(RECORD.stepStarted, 'start-orders-west', { attempt: 2 })]);
  await at(262, [step(RECORD.stepSucceeded, 'start-orders-west', { summary: 'west takes orders' })]);
  await at(262, [{ type: RECORD.runFinished, actor: 'engine', data: { status: 'succeeded' } }]);
  vi.setSystemTime(t0 + 3_600_000);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the post-incident review', () => {
  it("shows whether the run's incident kept seed 004's communication promises", async () => {
    const plan = await loadPlan(WARM);
    const store = await openStore(tempDir('drctl-pir-'));
    try {
      await writeIncident(store, plan.hash, WARM);
      const run = (await store.getRun('run-1'))!;
      const opened = run.createdAt.getTime();
      const minutes = (n: number): string => new Date(opened + n * 60_000).toISOString();
      const { document } = draftPir({
        run,
        records: await store.readJournal('run-1'),
        plan,
        now: new Date(opened + 4 * 86_400_000),
        incident: {
          id: 'run-run-1',
          kind: 'incident',
          title: 'Shop: failover',
          state: 'resolved',
          components: ['orders'],
          componentState: 'down',
          run: { id: 'run-1', workload: 'shop', runbook: 'failover' },
          openedAt: minutes(0),
          resolvedAt: minutes(90),
          startsAt: undefined,
          endsAt: undefined,
          updates: [
            { at: minutes(2), state: 'identified', body: 'Failing over to west', by: 'drctl' },
            { at: minutes(80), state: 'monitoring', body: 'Orders work again', by: 'drctl' },
          ],
        },
      });
      const md = writeReportMarkdown(document);
      const section = md.slice(md.indexOf('## Communication promises'), md.indexOf('## Root cause'));
      expect(section).toContain('| status page updated after the incident opened | 15m | 2m | met |');
      expect(section).toContain('| longest time between updates while open | 30m | 1h 18m | missed |');
      expect(section).toContain(
        '| root cause published (an update starting "Root cause") | 3d | not yet | missed |',
      );
    } finally {
      await store.close();
    }
  });

  it('drafts timeline, decisions, objectives, slow and failed steps, root cause and action items from the journal', async () => {
    const plan = await loadPlan(WARM);
    const store = await openStore(tempDir('drctl-pir-'));
    try {
      await writeIncident(store, plan.hash, WARM);
      const run = (await store.getRun('run-1'))!;
      const { document, chain } = draftPir({
        run,
        records: await store.readJournal('run-1'),
        plan,
        now: new Date('2026-11-20T05:00:00Z'),
      });
      expect(chain.ok).toBe(true);
      const md = writeReportMarkdown(document)
        .replace(plan.hash.slice(0, 12), '<plan>')
        .replace(/head [0-9a-f]{16}/g, 'head <hash>')
        .replace(/\S+warm-standby\.yaml/g, 'warm-standby.yaml');
      expect(md).toMatchInlineSnapshot(`
        "# Post-incident review: shop/failover run run-1

        Draft made 2026-11-20 05:00:00Z from the run's journal; complete the root cause and lessons learned.  
        Plan two-site-shop-warm version <plan>  

        ## Summary

        | Workload | Runbook | Status | Started by | Started | Finished | Duration |
        | --- | --- | --- | --- | --- | --- | --- |
        | Shop (tier 2, warm-standby) | failover | succeeded | monitor | 2026-11-20 03:12:00Z | 2026-11-20 03:16:22Z | 4m 22s |

        Audit log: intact (14 records, head <hash>).

        ## Detection and activation

        - 2026-11-20 03:12:00Z: the monitor asked for a declaration: site east lost: 3 probes failed
        - DR declared by carol at 2026-11-20 03:16:01Z (quorum 1 of carol, dave), 4m after the start

        ## Timeline

        | Time (UTC) | After start | Step | What happened | Who |
        | --- | --- | --- | --- | --- |
        | 2026-11-20 03:12:00Z | +0ms |  | run started (manual): site east lost: 3 probes failed | monitor |
        | 2026-11-20 03:12:01Z | +1s | declare | started (attempt 1) | engine |
        | 2026-11-20 03:12:01Z | +1s | declare | waiting for approval | engine |
        | 2026-11-20 03:16:00Z | +4m | declare | approved | carol |
        | 2026-11-20 03:16:01Z | +4m 1s | declare | succeeded: approved by carol | engine |
        | 2026-11-20 03:16:02Z | +4m 2s | stop-orders-west | started (attempt 1) | engine |
        | 2026-11-20 03:16:03Z | +4m 3s | stop-orders-west | succeeded: stopped 1 process | engine |
        | 2026-11-20 03:16:03Z | +4m 3s | restore-west | started (attempt 1) | engine |
        | 2026-11-20 03:16:07Z | +4m 7s | restore-west | succeeded: restored snapshot 41 | engine |
        | 2026-11-20 03:16:07Z | +4m 7s | start-orders-west | started (attempt 1) | engine |
        | 2026-11-20 03:16:09Z | +4m 9s | start-orders-west | failed: DRCTL_PROCESS_EXITED exited 1 | engine |
        | 2026-11-20 03:16:10Z | +4m 10s | start-orders-west | started (attempt 2) | engine |
        | 2026-11-20 03:16:22Z | +4m 22s | start-orders-west | succeeded: west takes orders | engine |
        | 2026-11-20 03:16:22Z | +4m 22s |  | run finished succeeded | engine |

        ## Decisions and who took them

        | Time (UTC) | Who | Step | Decision |
        | --- | --- | --- | --- |
        | 2026-11-20 03:16:00Z | carol | declare | approved |

        ## Recovery objectives

        | Objective | Target | Measured | Result | How it was measured |
        | --- | --- | --- | --- | --- |
        | RTO | 5m | 4m 22s | pass | run start → run end; add the time between the incident and the start of the run |
        | RPO | 5s | up to 1s (predicted) | pass | data: snapshots every 1s; write the data actually lost here |

        ## Steps slower than expected

        | Step | Expected | Contingency | Took | Over by |
        | --- | --- | --- | --- | --- |
        | start-orders-west | 1s | 5s | 14s | 8s |

        ## Failed steps and contingencies used

        | Step | Status | Attempts | Error | On failure |
        | --- | --- | --- | --- | --- |
        | start-orders-west | succeeded | 2 | attempt 1: DRCTL_PROCESS_EXITED exited 1 | escalate |

        - restore-west used 3s of its 5s contingency

        ## Communication promises

        The run opened no incident on the status page: nothing was promised or kept.

        ## Root cause

        To be published by 2026-11-23 03:16:22Z (within 3d of recovery, seed 004).

        - What failed:
        - Why it failed:
        - Why it was not caught earlier:

        ## Lessons learned

        - What went well:
        - What went badly:
        - Where we were lucky:

        | Action item | Owner | Plan change |
        | --- | --- | --- |
        | Re-estimate or speed up start-orders-west: expected 1s, took 14s |  | expected of warm-standby.yaml:145:13 (step start-orders-west) |
        | Make start-orders-west reliable: DRCTL_PROCESS_EXITED |  | warm-standby.yaml:145:13 (step start-orders-west) |

        ---

        drctl post-incident review · run run-1 · journal head <hash>
        "
      `);
    } finally {
      await store.close();
    }
  });

  it('refuses a run a drill started (exit 2), and drafts a real run made by the engine as HTML', async () => {
    const bench = await setup([
      { id: 'declare', approval: { by: ['bob'] }, expected: '1m' },
      { id: 'switch', needs: ['declare'], run: 'true', expected: '1s' },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    await vi.waitFor(
      async () => expect(runView(await bench.store.readJournal(run.runId)).waiting).toHaveLength(1),
      { timeout: 10_000 },
    );
    await approveStep(bench.store, { runId: run.runId, step: 'declare', by: 'bob' });
    await run.done;
    await bench.store.createRun(
      {
        id: 'drill-run',
        workload: 'shop',
        runbook: 'failover',
        planHash: bench.plan.hash,
        planFile: bench.planFile,
        startedBy: 'drill',
      },
      { type: RECORD.runCreated, actor: 'drill', data: {} },
    );
    await bench.store.close();
    const html = await runCli('pir', run.runId, '--format', 'html', '--state', bench.stateDir);
    expect(html.code).toBe(0);
    expect(html.stdout).toContain('<h2>Decisions and who took them</h2>');
    expect(html.stdout).toMatch(/<td>bob<\/td><td>declare<\/td><td>approved<\/td>/);
    const drill = await runCli('pir', 'drill-run', '--state', bench.stateDir);
    expect(drill.code).toBe(2);
    expect(drill.stderr).toContain('DRCTL_PIR_DRILL_RUN');
  });
});
