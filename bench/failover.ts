/**
 * bench:failover — the reference disaster, repeated: the two-site shop's hot-standby drill (PostgreSQL,
 * synchronous streaming) DRCTL_BENCH_RUNS times (default 10) and the warm-standby drill (SQLite snapshots)
 * DRCTL_BENCH_WARM_RUNS times (default 3). Each run is a full `drctl drill`: fresh clusters and services on
 * free ports, a canary writing every 10 ms through the front door, site east killed with SIGKILL, the
 * monitor and the failover runbook, every acknowledged write looked up afterwards. Prints min, median and
 * max of detection time, client-observed RTO and acknowledged writes lost. Each run then fails back to east
 * through the workload's failback runbook (approved as the plan's first activation approver) with the canary
 * still writing, and the bench prints min, median and max of the failback's duration, the client-observed
 * outage during it, and the acknowledged writes of the whole drill missing at east afterwards.
 * DRCTL_BENCH_FAILBACK=0 leaves the failback out. The hot standby is then drilled for the other ways a site
 * goes, DRCTL_BENCH_OTHER_RUNS times each (default 3): east-cut-off (a blackhole between east and everyone,
 * replication included) and east-frozen (every east process stopped with SIGSTOP).
 *
 * Targets: median RTO under 1 s, zero acknowledged writes lost in synchronous mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runDrill } from '../src/drill/index.ts';
import { loadPlanForCommand } from '../src/cli/load-plan.ts';
import { benchBed, printBed } from './ssh-failover.ts';
import { findPgBinaries } from '../src/pg/binaries.ts';

const example = (file: string): string => resolve(import.meta.dirname, '../examples/two-site', file);
const hotRuns = Number(process.env.DRCTL_BENCH_RUNS ?? 10);
const warmRuns = Number(process.env.DRCTL_BENCH_WARM_RUNS ?? 3);
const otherRuns = Number(process.env.DRCTL_BENCH_OTHER_RUNS ?? 3);
const withFailback = process.env.DRCTL_BENCH_FAILBACK !== '0';
const OTHER_SCENARIOS = ['east-cut-off', 'east-frozen'];

interface Sample {
  detectionMs: number | undefined;
  rtoMs: number | undefined;
  lost: number;
  lostSpanMs: number;
  acknowledged: number;
  passed: boolean;
  failback: { durationMs: number; outageMs: number | undefined; lost: number; status: string } | undefined;
}

async function bench(name: string, file: string, runs: number, scenario = 'east-killed'): Promise<Sample[]> {
  const plan = await loadPlanForCommand(file);
  const samples: Sample[] = [];
  for (let i = 1; i <= runs; i++) {
    const stateDir = mkdtempSync(join(tmpdir(), 'drctl-bench-failover-'));
    try {
      const { report } = await runDrill({
        plan,
        scenario,
        stateDir,
        remapPorts: true,
        ...(withFailback ? { failback: {} } : {}),
      });
      const m = report.measured;
      const back = report.failback;
      const sample: Sample = {
        detectionMs: m.detectionMs,
        rtoMs: m.rtoMs,
        lost: m.lostWrites.count,
        lostSpanMs: m.lostWrites.spanMs,
        acknowledged: m.writes.acknowledged,
        passed: report.passed,
        failback:
          back === undefined
            ? undefined
            : {
                durationMs: back.durationMs,
                outageMs: back.outageMs,
                lost: back.lostWrites.count,
                status: back.status,
              },
      };
      samples.push(sample);
      console.log(
        `${name} ${String(i).padStart(2)}/${runs}: detection ${fmt(sample.detectionMs)}, RTO ${fmt(sample.rtoMs)}, lost ${sample.lost} of ${sample.acknowledged} acknowledged (${fmt(sample.lostSpanMs)} of data)${back === undefined ? '' : `; failback ${back.status} in ${fmt(back.durationMs)}, outage ${fmt(back.outageMs)}, lost ${back.lostWrites.count} of the drill`}${sample.passed ? '' : '  FAILED'}`,
      );
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  return samples;
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '—' : `${Math.round(ms)} ms`;
}

function stats(values: (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (known.length === 0) return 'no data';
  const median =
    known.length % 2 === 1
      ? known[(known.length - 1) / 2]!
      : (known[known.length / 2 - 1]! + known[known.length / 2]!) / 2;
  const missing = values.length - known.length;
  return `min ${Math.round(known[0]!)}  median ${Math.round(median)}  max ${Math.round(known.at(-1)!)}${missing > 0 ? `  (${missing} not measured)` : ''}`;
}

function summary(name: string, samples: Sample[]): void {
  console.log(`\n${name}: ${samples.length} drills, ${samples.filter((s) => s.passed).length} passed`);
  console.log(`  detection (ms)        ${stats(samples.map((s) => s.detectionMs))}`);
  console.log(`  RTO, client (ms)      ${stats(samples.map((s) => s.rtoMs))}`);
  console.log(`  acked writes lost     ${stats(samples.map((s) => s.lost))}`);
  console.log(`  seconds of data lost  ${stats(samples.map((s) => s.lostSpanMs))} (ms)`);
  const backs = samples.flatMap((s) => (s.failback === undefined ? [] : [s.failback]));
  if (backs.length === 0) return;
  console.log(
    `  failback: ${backs.filter((b) => b.status === 'succeeded').length} of ${backs.length} runs succeeded`,
  );
  console.log(`  failback duration (ms) ${stats(backs.map((b) => b.durationMs))}`);
  console.log(`  failback outage (ms)  ${stats(backs.map((b) => b.outageMs))}`);
  console.log(`  acked lost, drill     ${stats(backs.map((b) => b.lost))}`);
}

let hot: Sample[] | undefined;
const others = new Map<string, Sample[]>();
try {
  findPgBinaries();
  hot = await bench('hot standby', example('plan.yaml'), hotRuns);
  for (const scenario of OTHER_SCENARIOS)
    others.set(scenario, await bench(`hot ${scenario}`, example('plan.yaml'), otherRuns, scenario));
} catch (error) {
  if ((error as { code?: string }).code !== 'DRCTL_PG_BINARIES_MISSING') throw error;
  console.log('hot standby: skipped, PostgreSQL server programs not found');
}
const warm = await bench('warm standby', example('warm-standby.yaml'), warmRuns);
const bed = hot === undefined ? undefined : await benchBed(Number(process.env.DRCTL_BENCH_BED_RUNS ?? 3));

if (hot !== undefined && hot.length > 0) summary('hot standby (PostgreSQL, synchronous)', hot);
for (const [scenario, samples] of others) summary(`hot standby, ${scenario}`, samples);
summary('warm standby (SQLite, snapshot every 1 s)', warm);
if (hot !== undefined && hot.length > 0) {
  const rtos = hot.map((s) => s.rtoMs ?? Infinity).sort((a, b) => a - b);
  const median = rtos[Math.floor((rtos.length - 1) / 2)] ?? Infinity;
  const lost = hot.reduce((sum, s) => sum + s.lost + (s.failback?.lost ?? 0), 0);
  console.log(
    `\ntargets: median RTO under 1 s: ${median < 1000 ? 'met' : 'MISSED'}; zero acknowledged writes lost (sync${withFailback ? ', failover and failback' : ''}): ${lost === 0 ? 'met' : `MISSED (${lost} lost)`}`,
  );
  if (median >= 1000 || lost > 0) process.exitCode = 1;
}
if (bed !== undefined && !printBed(bed)) process.exitCode = 1;
