/**
 * Kills the orchestrator with SIGKILL at random moments and resumes it, over a runbook of shell steps
 * that record each of their executions in a file. An operator answers interrupted non-idempotent steps
 * the way a careful person would: "done" when the step's effect is there, "retry" when it is not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { RECORD, runView, verifyRun } from '../../src/engine/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { cli, startCli, stopAll } from './cli-process.ts';
import { writePlan } from './fixtures.ts';

const TRIALS = Number(process.env.KILL_TRIALS ?? 50);
const CONCURRENCY = 8;

// a diamond-and-chain graph; every step appends its id once, between short sleeps that widen the kill window
const STEPS = [
  { id: 's1', run: 'sleep 0.02; echo s1 >> exec.log; sleep 0.02' },
  { id: 's2', needs: ['s1'], idempotent: true, run: 'sleep 0.02; echo s2 >> exec.log; sleep 0.02' },
  { id: 's3', needs: ['s1'], run: 'sleep 0.03; echo s3 >> exec.log; sleep 0.01' },
  { id: 's4', needs: ['s1'], idempotent: true, run: 'echo s4 >> exec.log; sleep 0.03' },
  { id: 's5', needs: ['s2', 's3'], run: 'sleep 0.01; echo s5 >> exec.log; sleep 0.03' },
  { id: 's6', needs: ['s4'], run: 'sleep 0.02; echo s6 >> exec.log' },
  { id: 's7', needs: ['s5', 's6'], idempotent: true, run: 'sleep 0.02; echo s7 >> exec.log; sleep 0.02' },
  { id: 's8', needs: ['s7'], run: 'sleep 0.02; echo s8 >> exec.log; sleep 0.02' },
  { id: 's9', needs: ['s7'], run: 'echo s9 >> exec.log; sleep 0.02' },
  { id: 's10', needs: ['s8', 's9'], run: 'sleep 0.02; echo s10 >> exec.log; sleep 0.02' },
];
const IDEMPOTENT = new Set(STEPS.filter((step) => step.idempotent).map((step) => step.id));
/** Longer than any step takes: after it, no orphaned step of a killed driver is still writing. */
const SETTLE_MS = 150;

function executions(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const file = join(dir, 'exec.log');
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean))
    counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

async function journalLength(store: RunStore): Promise<{ runId: string | undefined; records: number }> {
  const [run] = await store.listRuns({ limit: 1 });
  return { runId: run?.id, records: run?.headSeq ?? 0 };
}

async function trial(index: number): Promise<{ kills: number; dir: string; store: RunStore; runId: string }> {
  const dir = tempDir(`drctl-kill-${index}-`);
  writePlan(dir, STEPS);
  const stateDir = join(dir, 'state');
  const args = ['--state', stateDir, '--as', 'alice', '--no-wait'];
  let kills = 0;
  let runId: string | undefined;
  let next = startCli(['run', 'plan.yaml', '--runbook', 'failover', ...args], { cwd: dir });
  for (let round = 0; round < 40; round += 1) {
    // kill at a random moment once the run is under way; later rounds sometimes let it finish
    const killThisRound = round === 0 || Math.random() < 0.25;
    if (killThisRound) {
      const since = Date.now();
      while (!existsSync(join(stateDir, 'state.db')) && Date.now() - since < 5_000) await sleep(5);
      await sleep(Math.random() * 350);
      if (next.child.exitCode === null && next.child.signalCode === null) {
        next.child.kill('SIGKILL');
        kills += 1;
      }
    }
    const exit = await next.exit;
    if (exit.code !== null && exit.code !== 0) throw new Error(`drctl exited ${exit.code}: ${exit.stderr}`);
    await sleep(SETTLE_MS);
    const store = await openStore(stateDir);
    runId ??= (await journalLength(store)).runId;
    if (runId === undefined) {
      // killed before the run was created: start again, as an operator would
      await store.close();
      next = startCli(['run', 'plan.yaml', '--runbook', 'failover', ...args], { cwd: dir });
      continue;
    }
    const view = runView(await store.readJournal(runId));
    await store.close();
    if (view.status === 'succeeded') return { kills, dir, store: await openStore(stateDir), runId };
    const decisions: string[] = [];
    const seen = executions(dir);
    for (const waiting of view.waiting) {
      if (waiting.for !== 'decision') continue;
      decisions.push(seen.has(waiting.step) ? '--done' : '--retry', waiting.step);
    }
    next = startCli(['resume', runId, ...decisions, ...args], { cwd: dir });
  }
  throw new Error(`trial ${index} did not finish`);
}

describe('resume after SIGKILL', () => {
  afterAll(stopAll);

  it('never re-runs a finished step, re-runs idempotent steps at most once per kill, completes, and drctl audit verify passes', async () => {
    let totalKills = 0;
    const queue = Array.from({ length: TRIALS }, (_, index) => index);
    const worker = async (): Promise<void> => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const { kills, dir, store, runId } = await trial(index);
        totalKills += kills;
        try {
          const counts = executions(dir);
          for (const step of STEPS) {
            const times = counts.get(step.id) ?? 0;
            if (IDEMPOTENT.has(step.id)) {
              expect(times, `idempotent step ${step.id} in trial ${index}`).toBeGreaterThanOrEqual(1);
              expect(times, `idempotent step ${step.id} in trial ${index}`).toBeLessThanOrEqual(1 + kills);
            } else {
              expect(times, `step ${step.id} in trial ${index}`).toBe(1);
            }
          }
          // no step ever started again once its success was journaled
          const records = await store.readJournal(runId);
          const succeeded = new Set<string>();
          for (const record of records) {
            if (record.type === RECORD.stepSucceeded && record.step) succeeded.add(record.step);
            if (record.type === RECORD.stepStarted && record.step)
              expect(succeeded.has(record.step), `${record.step} restarted after success`).toBe(false);
          }
          expect((await verifyRun(store, runId)).ok).toBe(true);
          if (index === 0) {
            // and through the command a person runs
            const verified = await cli(['audit', 'verify', runId, '--state', join(dir, 'state'), '--json'], {
              cwd: dir,
            });
            expect(verified.code).toBe(0);
            expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, runId });
          }
        } finally {
          await store.close();
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    expect(totalKills).toBeGreaterThanOrEqual(TRIALS);
  }, 240_000);
});
