/**
 * Engine benchmark: 10,000 no-op steps through the durable journal (SQLite, WAL), as a chain and as a
 * wide fan-out (one root, 9,999 steps needing it), with the default parallel limit. Prints steps per
 * second and peak resident memory. Target: at least 1,000 durable steps/s and under 300 MB.
 *
 *   npm run bench:engine [-- --steps 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Engine } from '../src/engine/index.ts';
import type { Plan, Runbook, Step } from '../src/plan/index.ts';
import { defineAction } from '../src/providers/index.ts';
import type { Provider } from '../src/providers/index.ts';
import { openStore } from '../src/store/index.ts';

const stepsArg = process.argv.indexOf('--steps');
const STEPS = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 10_000;
const at = { file: 'bench', line: 1, column: 1 };

/** A provider whose one action does nothing: what is measured is the engine and its journal. */
const noop = {
  name: 'noop',
  description: 'does nothing',
  kinds: [],
  actions: {
    pass: defineAction({
      description: 'nothing',
      params: z.object({}),
      idempotent: true,
      evidence: [],
      run: async () => ({ summary: 'ok' }),
    }),
  },
  checks: {},
} satisfies Provider;

function step(id: string, needs: string[]): Step {
  return {
    id,
    name: id,
    description: undefined,
    kind: 'action',
    needs,
    prerequisite: undefined,
    owner: undefined,
    expectedMs: 1,
    contingencyMs: 0,
    timeoutMs: undefined,
    retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
    idempotent: true,
    run: undefined,
    action: 'noop.pass',
    with: {},
    manual: undefined,
    approval: undefined,
    wait: undefined,
    validate: [],
    evidence: [],
    onFailure: 'abort',
    escalateTo: undefined,
    undo: undefined,
    at,
  };
}

function plan(shape: 'chain' | 'fan-out'): Plan {
  const steps = Array.from({ length: STEPS }, (_, index) =>
    step(`s${index}`, index === 0 ? [] : shape === 'chain' ? [`s${index - 1}`] : ['s0']),
  );
  const runbook: Runbook = {
    workload: 'bench',
    name: shape,
    kind: 'custom',
    description: undefined,
    prerequisites: [],
    postRequisites: [],
    steps,
    at,
  };
  return {
    version: 1,
    name: 'bench',
    description: undefined,
    hash: `bench-${shape}`,
    files: ['bench.yaml'],
    baseDir: tmpdir(),
    review: { intervalMs: 0, last: undefined, by: undefined, at },
    sites: [],
    tiers: {} as Plan['tiers'],
    contacts: [],
    activation: undefined,
    communications: {
      statusPageWithinMs: 0,
      updatesEveryMs: 0,
      rootCauseWithinMs: 0,
      consoleUrl: '',
      channels: [],
      templates: [],
    },
    secrets: { env: [], file: undefined },
    workloads: [
      {
        id: 'bench',
        name: 'bench',
        description: undefined,
        tier: 3,
        strategy: 'backup-restore',
        owner: 'bench',
        rtoMs: 0,
        rpoMs: 0,
        objectivesFrom: { rto: 'tier', rpo: 'tier' },
        flows: [],
        signoff: undefined,
        automaticFailover: false,
        detectAfterMs: 0,
        components: [],
        runbooks: [runbook],
        at,
      },
    ],
    drills: { schedule: {} as Plan['drills']['schedule'], scenarios: [], history: [] },
    at,
  };
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

const results: Array<{
  shape: string;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  records: number;
}> = [];
for (const shape of ['chain', 'fan-out'] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-'));
  const store = await openStore(dir);
  try {
    const engine = new Engine({ store, providers: [noop], stateDir: dir });
    const started = performance.now();
    const run = await engine.start({ plan: plan(shape), runbook: shape, startedBy: 'bench' });
    const outcome = await run.done;
    const seconds = (performance.now() - started) / 1_000;
    if (outcome.status !== 'succeeded') throw new Error(`the ${shape} run ended ${outcome.status}`);
    const records = (await store.getRun(run.runId))?.headSeq ?? 0;
    results.push({
      shape,
      steps: STEPS,
      seconds: +seconds.toFixed(2),
      stepsPerSecond: Math.round(STEPS / seconds),
      records,
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
clearInterval(sampler);
const peakMb = Math.round(peakRss / 1024 / 1024);
for (const result of results) {
  console.log(
    `${result.shape.padEnd(8)} ${result.steps} steps in ${result.seconds}s: ${result.stepsPerSecond} durable steps/s (${result.records} journal records)`,
  );
}
console.log(
  `peak memory ${peakMb} MB (rss); target ≥1000 steps/s and <300 MB: ${results.every((r) => r.stepsPerSecond >= 1000) && peakMb < 300 ? 'met' : 'NOT met'}`,
);
