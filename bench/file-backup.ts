/**
 * File backup throughput: drctl's backup repository against `tar c DIR | sha256sum` (the read floor:
 * read every byte once and hash it, write nothing), `cp -r` + `sync` (the write floor: a durable copy,
 * no hashing) and `restic backup` when restic is installed, over the same generated tree of mixed file
 * sizes; then again after changing 1% of the files.
 *
 *   npm run bench:backup                         # 1 GiB tree
 *   DRCTL_BENCH_SIZE=100MB npm run bench:backup  # a quick run
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupRepository } from '../src/providers/files/repository.ts';

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1 << 10, MB: 1 << 20, GB: 1 << 30 };

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text.trim());
  if (match === null) throw new Error(`DRCTL_BENCH_SIZE: not a size: ${text} (write 1GB, 200MB, ...)`);
  return Math.round(Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? 1));
}

const totalBytes = parseSize(process.env['DRCTL_BENCH_SIZE'] ?? '1GB');

/** Byte shares of small, medium and large files, roughly what a file share holds. */
const CLASSES = [
  { share: 0.3, min: 4 << 10, max: 64 << 10 },
  { share: 0.4, min: 256 << 10, max: 4 << 20 },
  { share: 0.3, min: 16 << 20, max: 64 << 20 },
];

function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}

async function generateTree(root: string): Promise<string[]> {
  const files: string[] = [];
  for (const [index, sizeClass] of CLASSES.entries()) {
    let budget = Math.round(totalBytes * sizeClass.share);
    while (budget > 0) {
      const size = Math.min(
        budget,
        between(sizeClass.min, Math.min(sizeClass.max, Math.max(sizeClass.min + 1, totalBytes / 4))),
      );
      const dir = join(root, `class-${index}`, `d${files.length % 16}`);
      await mkdir(dir, { recursive: true });
      const path = join(dir, `f${files.length}.bin`);
      // Random bytes: incompressible, so no tool wins by compressing or deduplicating test patterns.
      await writeFile(path, randomBytes(size));
      files.push(path);
      budget -= size;
    }
  }
  return files;
}

async function time(work: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.toString()}`);
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

interface Row {
  run: string;
  tool: string;
  seconds: number;
  bytes: number;
}

const work = await mkdtemp(join(tmpdir(), 'drctl-bench-backup-'));
try {
  const tree = join(work, 'tree');
  process.stderr.write(`generating ${(totalBytes / (1 << 20)).toFixed(0)} MiB tree in ${tree}...\n`);
  const files = await generateTree(tree);
  const repository = new BackupRepository(join(work, 'drctl-repo'), {
    subject: { component: 'bench', site: 'backup' },
  });
  const resticRepo = join(work, 'restic-repo');
  const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') };
  const restic = hasCommand('restic');
  const rows: Row[] = [];
  const notes: string[] = [];

  const round = async (label: string): Promise<void> => {
    let copied = 0;
    rows.push({
      run: label,
      tool: 'drctl backup',
      seconds: await time(async () => {
        const manifest = await repository.backupDirectory(tree, { kind: 'files', site: 'bench' });
        copied = manifest.stats.copiedBytes;
      }),
      bytes: totalBytes,
    });
    notes.push(`${label}: drctl copied ${(copied / (1 << 20)).toFixed(1)} MiB into its repository`);
    rows.push({
      run: label,
      tool: 'tar c \\| sha256sum',
      seconds: await time(() => run('sh', ['-c', `tar c -C '${tree}' . | sha256sum`])),
      bytes: totalBytes,
    });
    // The floor for writing a durable copy: what any backup to local disk pays before hashing anything.
    const copy = join(work, `cp-${label}`);
    rows.push({
      run: label,
      tool: 'cp -r + sync',
      seconds: await time(() => run('sh', ['-c', `cp -r '${tree}' '${copy}' && sync`])),
      bytes: totalBytes,
    });
    await rm(copy, { recursive: true, force: true });
    if (restic) {
      rows.push({
        run: label,
        tool: 'restic backup',
        seconds: await time(() => run('restic', ['-r', resticRepo, 'backup', '--quiet', tree], resticEnv)),
        bytes: totalBytes,
      });
    }
  };

  if (restic) run('restic', ['-r', resticRepo, 'init'], resticEnv);
  else notes.push('restic is not installed (apt-get install restic): its rows are skipped');

  await round('full');
  const changed = files.filter((_, index) => index % 100 === 0);
  for (const path of changed) await writeFile(path, randomBytes(between(4 << 10, 64 << 10)));
  notes.push(`incremental: rewrote ${changed.length} of ${files.length} files (1%)`);
  await round('incremental');
  const verify = await time(async () => {
    const report = await repository.verify(undefined);
    if (!report.ok) throw new Error('verification failed');
  });
  rows.push({ run: 'verify newest', tool: 'drctl verify', seconds: verify, bytes: totalBytes });
  const restoreTarget = join(work, 'restored');
  rows.push({
    run: 'restore newest',
    tool: 'drctl restore',
    seconds: await time(
      async () => void (await repository.restoreTree(undefined, restoreTarget, { site: 'bench' })),
    ),
    bytes: totalBytes,
  });

  const drctlSeconds = (label: string): number =>
    rows.find((row) => row.run === label && row.tool === 'drctl backup')?.seconds ?? Number.NaN;
  const lines = [
    `drctl file backup benchmark: ${files.length} files, ${(totalBytes / (1 << 20)).toFixed(0)} MiB, node ${process.version}, ${cpus().length} cores`,
    '',
    '| run | tool | seconds | MiB/s | time vs drctl backup |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((row) => {
      const reference = drctlSeconds(row.run);
      const ratio = Number.isNaN(reference) ? '' : `${(row.seconds / reference).toFixed(2)}x`;
      return `| ${row.run} | ${row.tool} | ${row.seconds.toFixed(2)} | ${(row.bytes / (1 << 20) / row.seconds).toFixed(0)} | ${ratio} |`;
    }),
    '',
    ...notes.map((note) => `- ${note}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
