/**
 * The namespace-bed part of bench:failover: the two-site shop on real hosts (src/testbed/shop.ts), its
 * failover with every action on the sites' hosts over SSH (the postgres and process providers acting on
 * their placements' hosts) beside the same work as shell commands on this machine, in one run. Prints the
 * client-observed RTO per scenario for both, and the cost one multiplexed SSH step adds over a local one.
 * The failover starts at the fault (no detection window): what differs between the two is only where the
 * actions run.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Canary, measureLoss, measureOutage } from '../src/drill/canary.ts';
import { Engine } from '../src/engine/index.ts';
import { closeExecutors, executorFor, localExecutor, runChecked } from '../src/exec/index.ts';
import { providers } from '../src/providers/index.ts';
import { openStore } from '../src/store/index.ts';
import { NetnsBed } from '../src/testbed/netns-bed.ts';
import { BedShop } from '../src/testbed/shop.ts';

const SCENARIOS = ['killed', 'cut', 'frozen'] as const;
type Scenario = (typeof SCENARIOS)[number];

export interface BedFigures {
  stepLocalMs: number;
  stepSshMs: number;
  rto: Map<string, { ssh: number[]; local: number[]; lost: number }>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function stepCost(bed: NetnsBed, runs: number): Promise<{ local: number; ssh: number }> {
  const remote = executorFor(bed.target('east'));
  await remote.connect();
  const time = async (run: () => Promise<unknown>): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await run();
      samples.push(performance.now() - started);
    }
    return samples;
  };
  const local = await time(() => runChecked(localExecutor, 'true'));
  const ssh = await time(() => runChecked(remote, 'true'));
  return { local: median(local), ssh: median(ssh) };
}

async function failover(
  bed: NetnsBed,
  scenario: Scenario,
  overSsh: boolean,
): Promise<{ rtoMs: number; lost: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-bed-'));
  chmodSync(dir, 0o755);
  const shop = await BedShop.create({ bed, dir, overSsh });
  const store = await openStore(join(dir, 'state'));
  const engine = new Engine({ store, providers, stateDir: join(dir, 'state'), pollMs: 20 });
  const canary = Canary.start({ url: shop.url });
  try {
    await canary.waitForAcks(30);
    const faultAt = Date.now();
    if (scenario === 'killed') await bed.kill('east');
    else if (scenario === 'cut') await bed.cut('east');
    else await bed.freeze('east');
    const run = await engine.start({ plan: shop.plan, runbook: 'failover', startedBy: 'alice' });
    const outcome = await run.done;
    if (outcome.status !== 'succeeded') throw new Error(`failover ${scenario} ended ${outcome.status}`);
    await canary.waitForAcks(30);
    const result = await canary.stop();
    const outage = measureOutage(result, faultAt);
    const lost = await measureLoss(result.acks, (ids) => shop.ordersPresent('west', ids));
    return { rtoMs: outage.rtoMs ?? NaN, lost: lost.count };
  } finally {
    await canary.stop();
    await shop.close();
    await store.close?.();
    await bed.heal('east');
    await bed.thaw('east');
    await bed.kill('east');
    await bed.kill('west');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the bed's part of the bench; undefined (with the reason printed) where no bed can be made. */
export async function benchBed(runs: number): Promise<BedFigures | undefined> {
  const unavailable = NetnsBed.unavailable();
  if (unavailable !== undefined) {
    console.log(`namespace bed: skipped, ${unavailable}`);
    return undefined;
  }
  const bed = await NetnsBed.create({ hosts: ['east', 'west'] });
  try {
    const cost = await stepCost(bed, 30);
    console.log(
      `one step: ${cost.local.toFixed(1)} ms here, ${cost.ssh.toFixed(1)} ms over multiplexed SSH (median of 30)`,
    );
    const rto = new Map<string, { ssh: number[]; local: number[]; lost: number }>();
    for (const scenario of SCENARIOS) {
      const figures = { ssh: [] as number[], local: [] as number[], lost: 0 };
      rto.set(scenario, figures);
      for (let i = 1; i <= runs; i++) {
        for (const overSsh of [true, false]) {
          const { rtoMs, lost } = await failover(bed, scenario, overSsh);
          (overSsh ? figures.ssh : figures.local).push(rtoMs);
          figures.lost += lost;
          console.log(
            `bed east-${scenario} ${i}/${runs} ${overSsh ? 'over SSH' : 'steps here'}: RTO ${Math.round(rtoMs)} ms, lost ${lost}`,
          );
        }
      }
    }
    return { stepLocalMs: cost.local, stepSshMs: cost.ssh, rto };
  } finally {
    await closeExecutors();
    await bed.close();
  }
}

export function printBed(figures: BedFigures): boolean {
  const added = figures.stepSshMs - figures.stepLocalMs;
  console.log('\nnamespace bed (hosts with their own addresses, failover started at the fault):');
  console.log(
    `  added cost of one multiplexed SSH step  ${added.toFixed(1)} ms (target ≤ 30 ms): ${added <= 30 ? 'met' : 'MISSED'}`,
  );
  let met = added <= 30;
  console.log('  scenario      RTO over SSH (median)  RTO steps here (median)  ratio  lost');
  for (const [scenario, f] of figures.rto) {
    const ratio = median(f.ssh) / median(f.local);
    met &&= ratio <= 1.5 && f.lost === 0;
    console.log(
      `  east-${scenario.padEnd(8)} ${`${Math.round(median(f.ssh))} ms`.padStart(20)}  ${`${Math.round(median(f.local))} ms`.padStart(23)}  ${ratio.toFixed(2).padStart(5)}  ${f.lost}`,
    );
  }
  console.log(`  targets: RTO over SSH ≤ 1.5× and 0 acknowledged writes lost: ${met ? 'met' : 'MISSED'}`);
  return met;
}
