/**
 * bench:chaos — the "no failover on a transient" promise, on the reference disaster itself: the two-site
 * shop (warm standby, so no PostgreSQL is needed) comes up on free ports with a TCP fault proxy in front
 * of east's order service, the monitor and an in-process engine watch it exactly as in a drill, and
 * DRCTL_BENCH_FAULTS (default 50) transient faults, alternating latency spikes longer than the probe timeout
 * and blackholes, each shorter than the plan's detection window, go through the proxy while the canary
 * writes through the front door. Then one blackhole three windows long, the control, must fail over.
 *
 * Prints: failovers caused by the transients (target 0), how many failed a probe and how many the monitor
 * saw (suspect: a failure not yet answered by a later probe's pass), the longest failing streak against
 * the window, client writes that failed during the transients, and the control's
 * detection time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProxyFault } from '../src/chaos/index.ts';
import { loadPlanForCommand } from '../src/cli/load-plan.ts';
import { Canary, DrillEnvironment, sleep } from '../src/drill/index.ts';
import { Engine, type RunDriver } from '../src/engine/index.ts';
import { Monitor, engineRunbookStarter, type MonitorEvent } from '../src/monitor/index.ts';
import { providers } from '../src/providers/index.ts';
import { openStore } from '../src/store/index.ts';

const faultCount = Number(process.env['DRCTL_BENCH_FAULTS'] ?? 50);
const plan = await loadPlanForCommand(resolve(import.meta.dirname, '../examples/two-site/warm-standby.yaml'));
const stateDir = mkdtempSync(join(tmpdir(), 'drctl-bench-chaos-'));
const environment = await DrillEnvironment.create({
  plan,
  workload: 'shop',
  stateDir,
  remapPorts: true,
  proxied: ['orders@east'],
});
const store = await openStore(stateDir);
const drivers: RunDriver[] = [];
const events: MonitorEvent[] = [];
let monitor: Monitor | undefined;
try {
  const window = environment.workload.detectAfterMs;
  const probeTimeout =
    environment.workload.components.find((c) => c.id === 'orders')?.probe?.timeoutMs ?? 250;
  // a third of the window: well inside it even when this machine's timers run late
  const transientMs = Math.round(window / 3);
  const gapMs = Math.max(300, window);
  const proxy = environment.placement('orders', 'east').proxy;
  if (proxy === undefined) throw new Error('the environment put no fault proxy in front of orders@east');

  const engine = new Engine({ store, providers, stateDir });
  monitor = Monitor.start({
    plan: environment.plan,
    workloads: ['shop'],
    startRunbook: engineRunbookStarter(engine, environment.plan, {
      startedBy: 'bench',
      onRun: (driver) => drivers.push(driver),
    }),
  });
  monitor.on('event', (event) => events.push(event));
  const canary = Canary.start({ url: environment.url, intervalMs: 10 });
  await canary.waitForAcks(50);

  const faults: ProxyFault[] = [{ kind: 'latency', latencyMs: probeTimeout + 150 }, { kind: 'blackhole' }];
  let longestInjectedMs = 0;
  const injected: { from: number; to: number }[] = [];
  for (let i = 0; i < faultCount; i++) {
    const on = proxy.set(faults[i % 2]!);
    await sleep(transientMs);
    const off = proxy.set([]);
    injected.push({ from: on.at, to: off.at });
    longestInjectedMs = Math.max(longestInjectedMs, off.at - on.at);
    await sleep(gapMs);
  }
  await sleep(window * 2);
  const result = await canary.stop();
  const transientEvents = [...events];
  const failovers = transientEvents.filter((e) => e.type === 'failover-started').length;
  const suspects = transientEvents.filter((e) => e.type === 'site-suspect' && e.site === 'east').length;
  // a fault the probes felt: a probe that started while it was on failed (seen or not by the detector)
  const failedStarts = transientEvents.flatMap((e) =>
    e.type === 'probe-failed' && e.site === 'east' ? [e.at - e.latencyMs] : [],
  );
  const felt = injected.filter((f) => failedStarts.some((at) => at >= f.from - 5 && at <= f.to)).length;
  let longestStreakMs = 0;
  for (const e of transientEvents)
    if (e.type === 'site-recovered') longestStreakMs = Math.max(longestStreakMs, e.downMs);

  // the control: the same proxy, one blackhole three windows long, must be detected and failed over
  const cut = Date.now();
  proxy.set({ kind: 'blackhole' });
  let detectedMs: number | undefined;
  for (
    const deadline = Date.now() + 15_000;
    Date.now() < deadline && detectedMs === undefined;
    await sleep(20)
  ) {
    const lost = events.find((e) => e.type === 'site-lost');
    if (lost?.type === 'site-lost') detectedMs = lost.confirmedAt - cut;
  }
  await Promise.allSettled(drivers.map((driver) => driver.done));
  const controlFailovers = events.filter((e) => e.type === 'failover-started').length - failovers;

  console.log(`bench:chaos on examples/two-site/warm-standby.yaml, node ${process.version}, 2 cores`);
  console.log('| measure | value |\n| --- | ---: |');
  console.log(`| detection window (plan) | ${window} ms |`);
  console.log(`| transient faults injected (latency ${probeTimeout + 150} ms / blackhole) | ${faultCount} |`);
  console.log(`| fault length asked / longest as injected | ${transientMs} ms / ${longestInjectedMs} ms |`);
  console.log(`| faults that failed a probe | ${felt} |`);
  console.log(`| faults the monitor saw (site suspect) | ${suspects} |`);
  console.log(`| longest failing probe streak | ${longestStreakMs} ms |`);
  console.log(`| failovers caused by the transients (target 0) | ${failovers} |`);
  console.log(`| client writes failed during the transients | ${result.failures.length} of ${result.sent} |`);
  console.log(
    `| control: blackhole of ${window * 3} ms and more, detected after | ${detectedMs ?? 'not detected'} ms |`,
  );
  console.log(`| control: failovers started (target 1) | ${controlFailovers} |`);
  process.exitCode = failovers === 0 && controlFailovers === 1 ? 0 : 1;
} finally {
  await monitor?.stop();
  await Promise.allSettled(drivers.map((driver) => driver.done));
  await environment.close();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
}
