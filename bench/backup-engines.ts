/**
 * drctl's orchestration overhead over the backup engines it drives: the restic provider's backup and
 * restore actions against running `restic` directly on the same generated tree. Runs are interleaved
 * (the order flips each round) so both sides see the same cache and load, and each round starts from two
 * repositories initialised the same way, so the first backup is full and the second incremental for both.
 *
 *   npm run bench:backup-engines                      # 200 MB in about 2,000 files, 3 runs
 *   npm run bench:backup-engines -- --mb 50 --runs 5
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Component } from '../src/plan/model.ts';
import { findPgbackrest, pgbackrestProvider } from '../src/providers/pgbackrest/index.ts';
import { chownToServer, pgAvailable, serverRunAs } from '../src/pg/binaries.ts';
import { PgCluster } from '../src/pg/cluster.ts';
import { AT, testContext, testPlan } from '../src/providers/testing.ts';
import { resticProvider } from '../src/providers/restic/index.ts';
import { engineContext, hasBinary, resticPlan } from '../src/providers/restic/testing.ts';
import { table } from './table.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    mb: { type: 'string', default: '200' },
    'pg-mb': { type: 'string', default: '50' },
  },
});
const pgMegabytes = Number(values['pg-mb']);
const runs = Number(values.runs);
const megabytes = Number(values.mb);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs: not a positive whole number: ${values.runs}`);
if (!(megabytes > 0)) throw new Error(`--mb: not a positive number: ${values.mb}`);

const PASSWORD_ENV = 'DRCTL_BENCH_RESTIC_PASSWORD';
process.env[PASSWORD_ENV] = 'bench';
/** About 100 KiB a file on average, so 200 MB makes about 2,000 files. */
const FILE_BYTES = 100 << 10;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs a command the way drctl runs its engines (spawned, output collected), so the spawn costs match. */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
  });
}

function generateTree(root: string, bytes: number): string[] {
  const files: string[] = [];
  let left = bytes;
  while (left > 0) {
    // sizes from 4 KiB to about twice the average, random bytes so nothing compresses or deduplicates
    const size = Math.min(left, 4096 + Math.floor(Math.random() * 2 * FILE_BYTES));
    const dir = join(root, `d${files.length % 20}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `f${files.length}.bin`);
    writeFileSync(path, randomBytes(size));
    files.push(path);
    left -= size;
  }
  return files;
}

type Side = 'direct' | 'drctl';
interface Sample {
  engine: string;
  operation: string;
  side: Side;
  seconds: number;
}

const samples: Sample[] = [];
const loads: number[] = [];
const work = mkdtempSync(join(tmpdir(), 'drctl-bench-engines-'));

async function interleaved(
  round: number,
  engine: string,
  operation: string,
  sides: Record<Side, () => Promise<unknown>>,
): Promise<void> {
  const order: Side[] = round % 2 === 0 ? ['direct', 'drctl'] : ['drctl', 'direct'];
  for (const side of order) {
    loads.push(loadavg()[0]!);
    samples.push({ engine, operation, side, seconds: await time(sides[side]) });
  }
}

async function benchRestic(): Promise<void> {
  const tree = join(work, 'tree');
  process.stderr.write(`restic: generating ${megabytes} MB in ${tree}...\n`);
  const files = generateTree(tree, megabytes * 1e6);
  process.stderr.write(`restic: ${files.length} files\n`);
  const direct = join(work, 'restic-direct');
  const directEnv = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(direct, 'cache'), TZ: 'UTC' };
  const directRepo = join(direct, 'repo');
  const viaDir = join(work, 'restic-drctl');
  const { plan } = await resticPlan(viaDir, { passwordEnv: PASSWORD_ENV });
  const stateDir = join(viaDir, 'state');
  const ctx = engineContext(plan, stateDir);
  const actions = resticProvider.actions;
  // the same arguments drctl passes, so the comparison is of orchestration, not of restic options
  const backupArgs = [
    '--repo',
    directRepo,
    'backup',
    '--json',
    '--host',
    'drctl',
    '--tag',
    'drctl:docs',
    '.',
  ];

  for (let round = 0; round < runs; round++) {
    process.stderr.write(`restic: round ${round + 1} of ${runs}\n`);
    rmSync(direct, { recursive: true, force: true });
    rmSync(join(viaDir, 'repo'), { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(direct, { recursive: true });
    await run('restic', ['--repo', directRepo, 'init'], { env: directEnv });
    await actions.init.run({ component: 'docs' }, ctx);

    const backup = {
      direct: () => run('restic', backupArgs, { cwd: tree, env: directEnv }),
      drctl: () => actions.backup.run({ component: 'docs', source: tree }, ctx),
    };
    await interleaved(round, 'restic', 'backup, full', backup);
    // 1% of the files rewritten: the second backup reads the tree and uploads only what changed
    for (const path of files.filter((_, i) => (i + round) % 100 === 0))
      writeFileSync(path, randomBytes(4096 + Math.floor(Math.random() * 2 * FILE_BYTES)));
    await interleaved(round, 'restic', 'backup, incremental', backup);

    const directTarget = join(work, 'restored-direct');
    const viaTarget = join(work, 'restored-drctl');
    rmSync(directTarget, { recursive: true, force: true });
    rmSync(viaTarget, { recursive: true, force: true });
    await interleaved(round, 'restic', 'restore latest', {
      direct: () =>
        run('restic', ['--repo', directRepo, 'restore', 'latest', '--target', directTarget], {
          env: directEnv,
        }),
      drctl: () => actions.restore.run({ component: 'docs', target: viaTarget }, ctx),
    });
    // drctl restores with --verify (restic reads every restored file back): the same work, done directly
    rmSync(directTarget, { recursive: true, force: true });
    rmSync(viaTarget, { recursive: true, force: true });
    await interleaved(round, 'restic', 'restore latest --verify', {
      direct: () =>
        run('restic', ['--repo', directRepo, 'restore', 'latest', '--target', directTarget, '--verify'], {
          env: directEnv,
        }),
      drctl: () => actions.restore.run({ component: 'docs', target: viaTarget }, ctx),
    });
    const restored = readdirSync(viaTarget, { recursive: true }).length;
    const restoredDirect = readdirSync(directTarget, { recursive: true }).length;
    if (restored !== restoredDirect)
      throw new Error(`restores differ: ${restoredDirect} entries direct, ${restored} via drctl`);
  }
}

function pgbackrestInstalled(): boolean {
  try {
    findPgbackrest();
    return true;
  } catch {
    return false;
  }
}

/** A plan with one postgres component `db` whose pgBackRest stanza `db` lives in `repository`. */
function pgPlan(cluster: PgCluster, repository: string) {
  const node = cluster.node('east');
  const component = {
    id: 'db',
    workload: 'shop',
    name: 'db',
    kind: 'postgres',
    description: undefined,
    tier: 1,
    strategy: 'backup-restore',
    placement: [
      {
        site: 'east',
        standby: false,
        url: node.url,
        path: undefined,
        command: undefined,
        host: undefined,
        fields: {
          url: node.url,
          data_dir: node.dataDir,
          socket_dir: join(cluster.dir, 'east'),
          bin_dir: cluster.binaries.dir,
        },
        at: AT,
      },
    ],
    dependsOn: [],
    references: [],
    probe: undefined,
    replication: undefined,
    backups: [
      {
        everyMs: 86_400_000,
        type: 'full',
        to: 'vault',
        path: undefined,
        media: 'disk',
        keep: { daily: 7, weekly: 4, monthly: 0, yearly: 0 },
        verifyEveryMs: 30 * 86_400_000,
        immutable: false,
        engine: 'pgbackrest',
        repository,
        stanza: 'db',
        at: AT,
      },
    ],
    recoveryMs: undefined,
    at: AT,
  } as Component;
  return testPlan({
    baseDir: cluster.dir,
    sites: ['east', 'vault'],
    workload: { strategy: 'backup-restore', rtoMs: 3_600_000, rpoMs: 300_000, components: [component] },
  });
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function benchPgbackrest(): Promise<void> {
  process.stderr.write('pgbackrest: starting PostgreSQL...\n');
  const cluster = await PgCluster.create({ sites: ['east'] });
  try {
    const url = cluster.node('east').url;
    // about 330 bytes a row on disk
    const rowCount = Math.round((pgMegabytes * 1e6) / 330);
    await sql(
      url,
      `create table items as select g as id, repeat(md5(g::text), 4) as note from generate_series(1, ${rowCount}) g`,
    );
    await sql(url, 'alter table items add primary key (id)');
    const plan = pgPlan(cluster, join(cluster.dir, 'repo'));
    const stateDir = join(cluster.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    chownToServer(stateDir);
    const ctx = testContext(plan, stateDir);
    const actions = pgbackrestProvider.actions;
    // the provider writes the config file and sets archive_command; the direct runs use that same file
    await actions.stanza_create.run(actions.stanza_create.params.parse({ component: 'db' }), ctx);
    const configFile = join(stateDir, 'pgbackrest', 'db--vault', 'pgbackrest.conf');
    const runAs = serverRunAs();
    const direct = (command: string, args: string[]) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(
          findPgbackrest(),
          [`--config=${configFile}`, '--stanza=db', '--log-level-console=warn', ...args, command],
          {
            cwd: '/',
            env: {
              ...process.env,
              ...(runAs === undefined ? {} : { HOME: '/tmp', USER: runAs.user }),
              PGPASSWORD: cluster.password,
            },
            stdio: ['ignore', 'ignore', 'pipe'],
            ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
          },
        );
        const err: Buffer[] = [];
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve()
            : reject(new Error(`pgbackrest ${command} exited ${code}: ${Buffer.concat(err).toString()}`)),
        );
      });
    // both sides back up into the one stanza (archive_command feeds one); each incremental follows the
    // same amount of change, so both sides copy about as much
    const change = () =>
      sql(url, `update items set note = md5(note) where id % 100 = ${samples.length % 100}`);
    for (let round = 0; round < runs; round++) {
      process.stderr.write(`pgbackrest: round ${round + 1} of ${runs}\n`);
      await interleaved(round, 'pgBackRest', 'backup, full', {
        direct: () => direct('backup', ['--type=full']),
        drctl: () => actions.backup.run(actions.backup.params.parse({ component: 'db', type: 'full' }), ctx),
      });
      await interleaved(round, 'pgBackRest', 'backup, incremental', {
        direct: async () => {
          await change();
          await direct('backup', ['--type=incr']);
        },
        drctl: async () => {
          await change();
          await actions.backup.run(actions.backup.params.parse({ component: 'db', type: 'incr' }), ctx);
        },
      });
      const directTarget = join(cluster.dir, `restored-direct-${round}`);
      const viaTarget = join(cluster.dir, `restored-drctl-${round}`);
      await interleaved(round, 'pgBackRest', 'restore latest', {
        direct: async () => {
          mkdirSync(directTarget, { mode: 0o700 });
          chownToServer(directTarget);
          await direct('restore', [`--pg1-path=${directTarget}`, '--archive-mode=off']);
        },
        drctl: () =>
          actions.restore.run(actions.restore.params.parse({ component: 'db', data_dir: viaTarget }), ctx),
      });
      rmSync(directTarget, { recursive: true, force: true });
      rmSync(viaTarget, { recursive: true, force: true });
    }
  } finally {
    await cluster.close();
  }
}

try {
  if (!hasBinary('restic')) throw new Error('restic is not installed (apt-get install restic)');
  await benchRestic();
  if (pgbackrestInstalled() && pgAvailable()) await benchPgbackrest();
  else process.stderr.write('pgbackrest or PostgreSQL is not installed: its rows are skipped\n');

  const rows: string[][] = [];
  const keys = [...new Set(samples.map((s) => `${s.engine}\t${s.operation}`))];
  for (const key of keys) {
    const [engine, operation] = key.split('\t') as [string, string];
    const of = (side: Side) =>
      median(
        samples
          .filter((s) => s.engine === engine && s.operation === operation && s.side === side)
          .map((s) => s.seconds),
      );
    const direct = of('direct');
    const via = of('drctl');
    const overhead = via - direct;
    const target = Math.max(1, direct * 0.05);
    rows.push([
      engine,
      operation,
      direct.toFixed(2),
      via.toFixed(2),
      overhead.toFixed(2),
      `${((overhead / direct) * 100).toFixed(1)} %`,
      `< ${target.toFixed(2)} s`,
      overhead < target ? 'yes' : 'no',
    ]);
  }
  process.stdout.write(
    `drctl over its backup engines: ${megabytes} MB, ${runs} runs each, interleaved; node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the runs\n\n`,
  );
  table(
    [
      'engine',
      'operation',
      'direct median s',
      'via drctl median s',
      'overhead s',
      'overhead %',
      'target',
      'met',
    ],
    rows,
  );
  // the medians hide how much a loaded machine moves single runs; the runs themselves show it
  process.stdout.write('\nAll runs (s, in the order taken):\n');
  for (const key of keys) {
    const [engine, operation] = key.split('\t') as [string, string];
    const list = (side: Side) =>
      samples
        .filter((s) => s.engine === engine && s.operation === operation && s.side === side)
        .map((s) => s.seconds.toFixed(2))
        .join(', ');
    process.stdout.write(`- ${engine} ${operation}: direct ${list('direct')}; via drctl ${list('drctl')}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
