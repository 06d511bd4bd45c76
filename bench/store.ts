/**
 * The PostgreSQL state store, measured: engine throughput (durable no-op steps per second) on PostgreSQL
 * beside SQLite in the same run, and takeover time with two real `drctl serve` processes (the compiled
 * build) on one PostgreSQL: the driving instance is SIGKILLed at a random point, 20 times, and the time
 * from the kill to the next step started by the other instance is recorded. Before each kill the killed
 * instance of the round before is up again, so every takeover has a live peer waiting.
 * Then store failovers: a PostgreSQL primary with a synchronous standby under two instances (3 s lease);
 * during each run the primary is SIGKILLed and the standby promoted 0.1–0.5 s later, 10 times (each
 * time the lost primary is rebuilt as the new one's standby): the time from the primary's loss to the
 * next step, and that the live driver kept its run (no takeover, no step twice).
 * Targets: takeover median under 2 s with the default lease (5 s); PostgreSQL at least 500 steps/s;
 * store failover: 0 takeovers, 0 steps twice.
 *
 *   npm run bench:store [-- --steps 2000] [-- --kills 20] [-- --failovers 10] (0: skip that part)
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { Engine } from '../src/engine/index.ts';
import { PgCluster } from '../src/pg/cluster.ts';
import { pgAvailable } from '../src/pg/binaries.ts';
import { createToken } from '../src/server/index.ts';
import { openStore } from '../src/store/index.ts';
import type { RunStore } from '../src/store/index.ts';
import { PostgresStore } from '../src/store/postgres/index.ts';
import { freePort } from '../src/system/ports.ts';
// the trials drive real `drctl serve` processes through the test suite's harness, shared so that the
// test and the benchmark measure the same thing
import { storeFailoverTrials } from '../test/server/store-failovers.ts';
import { noop, noopPlan } from './noop-plan.ts';
import { table } from './table.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/drctl.js');
const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const STEPS = arg('steps', 2_000);
const KILLS = arg('kills', 20);
const FAILOVERS = arg('failovers', 10);

if (!pgAvailable()) {
  console.error('bench:store needs PostgreSQL server binaries: apt-get install postgresql');
  process.exit(1);
}
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-store-'));
// the test clusters run with fsync off (drctl's faults are process faults); one with it on shows the cost
const cluster = await PgCluster.create({ sites: ['east'] });
const synced = await PgCluster.create({ sites: ['east'], fsync: true });
const children = new Set<ChildProcess>();
try {
  const throughput: string[][] = [];
  for (const [name, open] of [
    ['SQLite (WAL)', () => openStore(join(dir, 'sqlite'))],
    ['PostgreSQL, fsync off', () => PostgresStore.open(`${cluster.node('east').url}?schema=bench_engine`)],
    ['PostgreSQL, fsync on', () => PostgresStore.open(`${synced.node('east').url}?schema=bench_engine`)],
  ] as Array<[string, () => Promise<RunStore>]>) {
    for (const shape of ['chain', 'fan-out'] as const) {
      const store = await open();
      try {
        const engine = new Engine({ store, providers: [noop], stateDir: join(dir, 'engine') });
        const started = performance.now();
        const run = await engine.start({ plan: noopPlan(shape, STEPS), runbook: shape, startedBy: 'bench' });
        const outcome = await run.done;
        const seconds = (performance.now() - started) / 1_000;
        if (outcome.status !== 'succeeded') throw new Error(`the ${shape} run ended ${outcome.status}`);
        throughput.push([name, shape, String(STEPS), seconds.toFixed(2), (STEPS / seconds).toFixed(0)]);
      } finally {
        await store.close();
      }
    }
  }

  const takeovers = KILLS > 0 ? await measureTakeovers() : [];
  const failovers = FAILOVERS > 0 ? await storeFailoverTrials(FAILOVERS) : [];
  const [one, five] = loadavg();
  process.stdout.write(`\nstate store, load average ${one?.toFixed(2)} / ${five?.toFixed(2)}\n\n`);
  table(['store', 'shape', 'steps', 'seconds', 'durable steps/s'], throughput);
  if (takeovers.length > 0) {
    const sorted = [...takeovers].sort((a, b) => a - b);
    process.stdout.write(
      `\ntakeover after SIGKILL of the driving drctl serve (kill → next step started by the other), default lease (5 s)\n\n`,
    );
    table(
      ['kills', 'median ms', 'p90 ms', 'max ms', 'min ms'],
      [
        [
          String(sorted.length),
          String(sorted[Math.floor(sorted.length / 2)]),
          String(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]),
          String(sorted.at(-1)),
          String(sorted[0]),
        ],
      ],
    );
    process.stdout.write(`\nall takeovers, ms: ${takeovers.join(', ')}\n`);
  }
  if (failovers.length > 0) {
    const sorted = failovers.map((trial) => Math.round(trial.lossToNextStepMs)).sort((a, b) => a - b);
    process.stdout.write(
      `\nstore failover (primary SIGKILLed, standby promoted 0.1–0.5 s later; 3 s lease): primary lost → next step\n\n`,
    );
    table(
      ['failovers', 'median ms', 'max ms', 'min ms', 'takeovers', 'steps twice', 'runs verified'],
      [
        [
          String(sorted.length),
          String(sorted[Math.floor(sorted.length / 2)]),
          String(sorted.at(-1)),
          String(sorted[0]),
          String(failovers.reduce((sum, trial) => sum + trial.takeovers, 0)),
          String(failovers.reduce((sum, trial) => sum + trial.doubled.length, 0)),
          `${failovers.filter((trial) => trial.verified && trial.status === 'succeeded').length}/${failovers.length}`,
        ],
      ],
    );
    process.stdout.write(
      `\nall failovers, ms: ${failovers.map((trial) => Math.round(trial.lossToNextStepMs)).join(', ')}\n`,
    );
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([cluster.close(), synced.close()]);
  rmSync(dir, { recursive: true, force: true });
}

/** Two `drctl serve` on one schema, a long run of short steps, and `KILLS` kills of its driver. */
async function measureTakeovers(): Promise<number[]> {
  const site = join(dir, 'site');
  execFileSync('mkdir', ['-p', site]);
  // enough steps that the run outlasts every kill: each kill costs at most a few steps' time
  const count = KILLS * 40;
  writeFileSync(
    join(site, 'plan.yaml'),
    stringify({
      version: 1,
      name: 'bench takeover',
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: [
        { id: 'alice', name: 'Alice', backup: 'bob' },
        { id: 'bob', name: 'Bob', backup: 'alice' },
      ],
      workloads: [
        {
          id: 'shop',
          tier: 1,
          strategy: 'hot-standby',
          owner: 'alice',
          runbooks: {
            failover: {
              steps: Array.from({ length: count }, (_, i) => ({
                id: `s${i + 1}`,
                ...(i === 0 ? {} : { needs: [`s${i}`] }),
                idempotent: true,
                run: 'sleep 0.1',
              })),
            },
          },
        },
      ],
    }),
  );
  const state = `${cluster.node('east').url}?schema=bench_takeover`;
  const admin = await PostgresStore.open(state);
  try {
    const { token } = await createToken(admin, { name: 'bench', role: 'operator', createdBy: 'bench' });
    const ports = [await freePort(), await freePort()];
    const launch = (index: number): ChildProcess => {
      const child = spawn(
        process.execPath,
        [BIN, 'serve', 'plan.yaml', '--state', state, '--listen', `127.0.0.1:${ports[index]}`],
        {
          cwd: site,
          env: { ...process.env, DRCTL_STATE_DIR: join(site, `local-${index}`) },
          stdio: 'ignore',
        },
      );
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    };
    const up = async (index: number): Promise<void> => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
        const ok = await fetch(`http://127.0.0.1:${ports[index]}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
      }
      throw new Error(`drctl serve on port ${ports[index]} did not come up`);
    };
    const instances = [launch(0), launch(1)];
    await Promise.all([up(0), up(1)]);
    const started = await fetch(`http://127.0.0.1:${ports[0]}/api/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ runbook: 'failover' }),
    });
    const { id: runId } = (await started.json()) as { id: string };

    const takeovers: number[] = [];
    for (let kill = 0; kill < KILLS; kill += 1) {
      let driver = -1;
      while (driver < 0) {
        const lease = await admin.getLease(runId);
        driver = instances.findIndex((child) => child.pid === lease?.pid);
        if (driver < 0) await sleep(20);
      }
      await sleep(Math.floor(Math.random() * 400));
      const killedAt = Date.now();
      const victim = instances[driver]!;
      const exited = new Promise((resolveExit) => victim.once('exit', resolveExit));
      victim.kill('SIGKILL');
      await exited;
      for (const deadline = killedAt + 30_000; ;) {
        if (Date.now() > deadline) throw new Error(`kill ${kill + 1}: no instance took the run over in 30 s`);
        const records = await admin.readJournal(runId);
        if (records.some((r) => r.type === 'run-finished')) throw new Error('the run finished too early');
        const next = records.find((r) => r.type === 'step-started' && r.at.getTime() >= killedAt);
        if (next !== undefined) {
          takeovers.push(next.at.getTime() - killedAt);
          break;
        }
        await sleep(10);
      }
      instances[driver] = launch(driver);
      await up(driver);
    }
    return takeovers;
  } finally {
    await admin.close();
  }
}
