/**
 * Store failover trials, shared by the test and `bench:store`: a PostgreSQL primary with a synchronous
 * standby, two `drctl serve` instances on a multi-host URL, and per trial a run of short steps during
 * which the primary is SIGKILLed and the standby promoted; then the lost primary is rebuilt as the new
 * primary's synchronous standby, so the next trial fails over the other way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runPgTool } from '../../src/pg/binaries.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { cli } from '../engine/cli-process.ts';
import { chainSteps, site } from './instances.ts';
import type { RunView } from './instances.ts';
import { eventually } from './support.ts';

export interface FailoverTrial {
  /** From the primary's SIGKILL to the next step-started record. */
  lossToNextStepMs: number;
  /** `run-driven` records after the first: a takeover from the live driver. */
  takeovers: number;
  /** Steps started or run more than once. */
  doubled: string[];
  status: string;
  verified: boolean;
  /** The pids that drove the run, in order (one unless a takeover happened). */
  drivers: number[];
}

const STEPS = 8;

export async function storeFailoverTrials(
  count: number,
  options: { leaseTtlMs?: number; onTrial?: (trial: FailoverTrial, index: number) => void } = {},
): Promise<FailoverTrial[]> {
  const cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
  const trials: FailoverTrial[] = [];
  try {
    const [east, west] = [cluster.node('east'), cluster.node('west')];
    const url = east.url
      .replace(`127.0.0.1:${east.port}`, `127.0.0.1:${east.port},127.0.0.1:${west.port}`)
      .concat('?target_session_attrs=read-write');
    const s = await site(url, chainSteps(STEPS, 0.1), { leaseTtlMs: options.leaseTtlMs ?? 3_000 });
    try {
      const one = await s.start('one');
      const two = await s.start('two');
      await Promise.all([s.waitUp(one), s.waitUp(two)]);
      let [primary, standby] = ['east', 'west'];
      const before = new Map<string, number>();
      for (let index = 0; index < count; index += 1) {
        const run = await s.api<RunView>(one, 'POST', '/api/v1/runs', { runbook: 'failover' });
        await eventually(
          async () => (await s.journal(run.id)).some((r) => r.type === 'step-succeeded' && r.step === 's3'),
          30_000,
        );
        const lostAt = Date.now();
        await cluster.node(primary).kill();
        // the promotion comes a moment later, as a failover manager's would
        await sleep(100 + Math.random() * 400);
        await runPgTool(cluster.binaries, 'pg_ctl', ['promote', '-w', '-D', cluster.node(standby).dataDir]);
        const done = await eventually(async () => {
          const view = await s.api<RunView>(one, 'GET', `/api/v1/runs/${run.id}`).catch(() => undefined);
          return view !== undefined && !['running', 'waiting'].includes(view.status) ? view : undefined;
        }, 60_000);
        const records = await s.journal(run.id);
        const next = records.find((r) => r.type === 'step-started' && r.at.getTime() > lostAt);
        const executions = s.executions();
        const doubled: string[] = [];
        for (let step = 1; step <= STEPS; step += 1) {
          const id = `s${step}`;
          const started = records.filter((r) => r.type === 'step-started' && r.step === id).length;
          const ran = (executions.get(id) ?? 0) - (before.get(id) ?? 0);
          if (started !== 1 || ran !== 1) doubled.push(`${id} (started ${started}, ran ${ran})`);
          before.set(id, executions.get(id) ?? 0);
        }
        const audit = await cli(['audit', 'verify', run.id, '--state', s.state], { cwd: s.dir });
        const trial: FailoverTrial = {
          lossToNextStepMs: next === undefined ? Number.NaN : next.at.getTime() - lostAt,
          takeovers: records.filter((r) => r.type === 'run-driven').length - 1,
          doubled,
          status: done.status,
          verified: audit.code === 0,
          drivers: records.filter((r) => r.type === 'run-driven').map((r) => r.data.pid as number),
        };
        trials.push(trial);
        options.onTrial?.(trial, index);
        // the lost primary comes back as the new primary's synchronous standby
        await cluster.rebuildStandby(primary, standby);
        await cluster.setSynchronous(standby, [primary]);
        [primary, standby] = [standby, primary];
      }
    } finally {
      await s.close();
      if (process.env.DRCTL_TRIAL_LOGS !== undefined) {
        for (const instance of s.instances)
          for (const line of (await instance.process.exit).stderr.split('\n'))
            if (/"level":(40|50)|took over/.test(line)) console.log(instance.name, line.slice(0, 400));
      }
    }
  } finally {
    await cluster.close();
  }
  return trials;
}
