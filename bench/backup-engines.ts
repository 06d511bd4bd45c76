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
import { resticProvider } from '../src/providers/restic/index.ts';
import { engineContext, hasBinary, resticPlan } from '../src/providers/restic/testing.ts';
import { table } from './table.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, mb: { type: 'string', default: '200' } },
});
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
    const restored = readdirSync(viaTarget, { recursive: true }).length;
    const restoredDirect = readdirSync(directTarget, { recursive: true }).length;
    if (restored !== restoredDirect)
      throw new Error(`restores differ: ${restoredDirect} entries direct, ${restored} via drctl`);
  }
}

try {
  if (!hasBinary('restic')) throw new Error('restic is not installed (apt-get install restic)');
  await benchRestic();

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
} finally {
  rmSync(work, { recursive: true, force: true });
}
