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
import { Engine } from '../src/engine/index.ts';
import { openStore } from '../src/store/index.ts';
import { noop, noopPlan } from './noop-plan.ts';

const stepsArg = process.argv.indexOf('--steps');
const STEPS = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 10_000;
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
    const run = await engine.start({ plan: noopPlan(shape, STEPS), runbook: shape, startedBy: 'bench' });
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
