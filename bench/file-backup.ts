/**
 * File backup against restic, side by side in one run over the same generated tree of mixed file sizes:
 * a first backup, an incremental one after 4 KiB were overwritten in each of 101 files (the large ones
 * among them), a verification that reads every stored byte, and a restore of the newest backup. Each
 * phase prints drctl's time over restic's, wall and CPU (every thread and child process: on a shared
 * machine the wall time depends on the neighbours), and the bytes each repository holds. The floors
 * `tar c DIR | sha256sum` (read and hash every byte, write nothing) and `cp -r` + `sync` (a durable copy,
 * nothing hashed) are timed beside the first backup.
 *
 *   npm run bench:backup                          # 1 GiB tree, random (incompressible) data
 *   DRCTL_BENCH_SIZE=100MB npm run bench:backup   # a quick run
 *   DRCTL_BENCH_DATA=mixed npm run bench:backup   # half the small and medium files are text-like
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupRepository } from '../src/backup/repository.ts';

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1 << 10, MB: 1 << 20, GB: 1 << 30 };

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text.trim());
  if (match === null) throw new Error(`DRCTL_BENCH_SIZE: not a size: ${text} (write 1GB, 200MB, ...)`);
  return Math.round(Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? 1));
}

const totalBytes = parseSize(process.env['DRCTL_BENCH_SIZE'] ?? '1GB');
const data = process.env['DRCTL_BENCH_DATA'] ?? 'random';
if (data !== 'random' && data !== 'mixed') throw new Error('DRCTL_BENCH_DATA: random or mixed');

/** Byte shares of small, medium and large files, roughly what a file share holds. */
const CLASSES = [
  { share: 0.3, min: 4 << 10, max: 64 << 10 },
  { share: 0.4, min: 256 << 10, max: 4 << 20 },
  { share: 0.3, min: 16 << 20, max: 64 << 20 },
];
const CHANGED_FILES = 101;
const CHANGED_BYTES = 4 << 10;

function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}

/** Log-like lines: compress about 4–5x, as text and logs on a real file share do. */
function textLike(size: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const line = `${new Date(1.7e12 + length * 997).toISOString()} INFO order=${randomBytes(5).toString('hex')} path=/api/orders/${length % 977} status=${length % 7 === 0 ? 500 : 200} ms=${length % 313}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

interface TreeFile {
  path: string;
  size: number;
  sizeClass: number;
}

async function generateTree(root: string): Promise<TreeFile[]> {
  const files: TreeFile[] = [];
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
      // Random bytes are incompressible, so no tool wins by compressing or deduplicating test patterns;
      // `mixed` makes half the small and medium files text, where compression pays.
      const text = data === 'mixed' && index < 2 && files.length % 2 === 0;
      await writeFile(path, text ? textLike(size) : randomBytes(size));
      files.push({ path, size, sizeClass: index });
      budget -= size;
    }
  }
  return files;
}

/** The files the incremental run changes: every large file (up to 10), 10 medium ones, the rest small. */
function pickChanged(files: TreeFile[]): TreeFile[] {
  const large = files.filter((file) => file.sizeClass === 2).slice(0, 10);
  const medium = files.filter((file) => file.sizeClass === 1).slice(0, 10);
  const small = files.filter((file) => file.sizeClass === 0);
  const wanted = CHANGED_FILES - large.length - medium.length;
  const step = Math.max(1, Math.floor(small.length / wanted));
  return [...large, ...medium, ...small.filter((_, index) => index % step === 0).slice(0, wanted)];
}

/** Overwrite 4 KiB in place at a random offset: the size stays, the content and mtime change. */
async function changeInPlace(file: TreeFile): Promise<void> {
  const handle = await open(file.path, 'r+');
  try {
    const length = Math.min(CHANGED_BYTES, file.size);
    await handle.write(randomBytes(length), 0, length, between(0, file.size - length + 1));
  } finally {
    await handle.close();
  }
}

/**
 * CPU seconds used so far by this process (every thread) and by the children it has waited for (restic,
 * `sync`): on a shared machine the wall time depends on the neighbours, the CPU time much less.
 */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  // /proc/self/stat: fields 16 and 17 (cutime, cstime) in clock ticks; the name in field 2 may hold spaces.
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const children = Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
  return (own.user + own.system) / 1e6 + children / 100;
}

async function time(work: () => Promise<void> | void): Promise<{ seconds: number; cpu: number }> {
  const start = process.hrtime.bigint();
  const cpu = cpuSeconds();
  await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: cpuSeconds() - cpu };
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

/** Apparent size of everything under a directory: what a repository holds. */
async function storedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

interface Row {
  phase: string;
  tool: string;
  seconds: number;
  /** CPU seconds, user and system, of every thread and child process. */
  cpu: number;
}

const MIB = 1 << 20;
const mib = (bytes: number): string => (bytes / MIB).toFixed(1);

const work = await mkdtemp(join(tmpdir(), 'drctl-bench-backup-'));
try {
  const tree = join(work, 'tree');
  process.stderr.write(`generating ${(totalBytes / MIB).toFixed(0)} MiB ${data} tree in ${tree}...\n`);
  const files = await generateTree(tree);
  const drctlRepo = join(work, 'drctl-repo');
  const repository = new BackupRepository(drctlRepo, { subject: { component: 'bench', site: 'backup' } });
  const resticRepo = join(work, 'restic-repo');
  const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') };
  const restic = hasCommand('restic');
  const rows: Row[] = [];
  const notes: string[] = [];
  const stored: { phase: string; drctl: number; restic: number }[] = [];
  const load = [loadavg()[0] ?? 0];
  const timed = async (phase: string, tool: string, work: () => Promise<void> | void): Promise<void> => {
    process.stderr.write(`${phase}: ${tool}...\n`);
    rows.push({ phase, tool, ...(await time(work)) });
  };
  const measureStored = async (phase: string): Promise<void> => {
    stored.push({
      phase,
      drctl: await storedBytes(drctlRepo),
      restic: restic ? await storedBytes(resticRepo) : Number.NaN,
    });
  };

  if (restic) run('restic', ['-r', resticRepo, 'init'], resticEnv);
  else notes.push('restic is not installed (apt-get install restic): its rows are skipped');

  const backupRound = async (phase: string): Promise<void> => {
    await timed(phase, 'drctl backup', async () => {
      const manifest = await repository.backupDirectory(tree, { kind: 'files', site: 'bench' });
      notes.push(
        `${phase}: drctl read ${manifest.stats.files - manifest.stats.unchangedFiles} files and stored ${mib(manifest.stats.copiedBytes)} MiB of new content in ${mib(manifest.stats.storedBytes ?? manifest.stats.copiedBytes)} MiB`,
      );
    });
    if (restic)
      await timed(phase, 'restic backup', () =>
        run('restic', ['-r', resticRepo, 'backup', '--quiet', tree], resticEnv),
      );
    await measureStored(phase);
  };

  await backupRound('full');
  await timed('full', 'tar c | sha256sum', () => run('sh', ['-c', `tar c -C '${tree}' . | sha256sum`]));
  // The floor for writing a durable copy: what any backup to local disk pays before hashing anything.
  const copy = join(work, 'cp-copy');
  await timed('full', 'cp -r + sync', () => run('sh', ['-c', `cp -r '${tree}' '${copy}' && sync`]));
  await rm(copy, { recursive: true, force: true });
  load.push(loadavg()[0] ?? 0);

  const changed = pickChanged(files);
  for (const file of changed) await changeInPlace(file);
  const bySize = changed.map((file) => file.sizeClass);
  notes.push(
    `incremental: ${CHANGED_BYTES >> 10} KiB overwritten in each of ${changed.length} files (${bySize.filter((c) => c === 2).length} large, ${bySize.filter((c) => c === 1).length} medium, ${bySize.filter((c) => c === 0).length} small) of ${files.length}`,
  );
  await backupRound('incremental');
  load.push(loadavg()[0] ?? 0);

  await timed('verify', 'drctl verify', async () => {
    const report = await repository.verify(undefined, { record: false });
    if (!report.ok) throw new Error(`drctl verification failed: ${JSON.stringify(report.problems[0])}`);
  });
  if (restic)
    await timed('verify', 'restic check --read-data', () =>
      run('restic', ['-r', resticRepo, 'check', '--read-data'], resticEnv),
    );

  // The restored trees stay until every restore has run: on ext4 without a journal, creating files
  // within a minute of deleting thousands skips each recently freed inode with a read of its table
  // block, which made whichever restore followed a deletion seconds slower.
  await timed('restore', 'drctl restore', async () => {
    await repository.restoreTree(undefined, join(work, 'restored-drctl'), { site: 'bench' });
  });
  if (restic) {
    await timed('restore', 'restic restore', () =>
      run(
        'restic',
        ['-r', resticRepo, 'restore', 'latest', '--target', join(work, 'restored-restic')],
        resticEnv,
      ),
    );
    // restic writes without fsync; drctl's restore is durable when it returns, so this is the like-for-like.
    await timed('restore', 'restic restore + sync', () =>
      run(
        'sh',
        [
          '-c',
          `restic -r '${resticRepo}' restore latest --target '${join(work, 'restored-restic-synced')}' >/dev/null && sync`,
        ],
        resticEnv,
      ),
    );
  }
  for (const name of ['restored-drctl', 'restored-restic', 'restored-restic-synced'])
    await rm(join(work, name), { recursive: true, force: true });
  load.push(loadavg()[0] ?? 0);

  const seconds = (phase: string, tool: string, measure: 'seconds' | 'cpu' = 'seconds'): number =>
    rows.find((row) => row.phase === phase && row.tool === tool)?.[measure] ?? Number.NaN;
  const ratio = (value: number, reference: number): string =>
    Number.isNaN(value) || Number.isNaN(reference) ? '' : `${(value / reference).toFixed(2)}x`;
  const drctlTool: Record<string, string> = {
    full: 'drctl backup',
    incremental: 'drctl backup',
    verify: 'drctl verify',
    restore: 'drctl restore',
  };
  const resticTool: Record<string, string> = {
    full: 'restic backup',
    incremental: 'restic backup',
    verify: 'restic check --read-data',
    restore: 'restic restore',
  };
  const growth = (tool: 'drctl' | 'restic'): number =>
    (stored.find((s) => s.phase === 'incremental')?.[tool] ?? 0) -
    (stored.find((s) => s.phase === 'full')?.[tool] ?? 0);
  const storedFull = stored.find((s) => s.phase === 'full');
  const lines = [
    `drctl file backup benchmark: ${files.length} files, ${(totalBytes / MIB).toFixed(0)} MiB of ${data} data, node ${process.version}, ${cpus().length} cores, load average ${load.map((l) => l.toFixed(1)).join(' → ')}`,
    '',
    '| phase | drctl, s | restic, s | drctl / restic | drctl, CPU s | restic, CPU s | CPU drctl / restic |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...['full', 'incremental', 'verify', 'restore'].map((phase) => {
      const [ours, theirs] = [drctlTool, resticTool].map((tool) => seconds(phase, tool[phase] ?? ''));
      const [ourCpu, theirCpu] = [drctlTool, resticTool].map((tool) =>
        seconds(phase, tool[phase] ?? '', 'cpu'),
      );
      return `| ${phase} | ${ours?.toFixed(2)} | ${theirs?.toFixed(2)} | ${ratio(ours ?? NaN, theirs ?? NaN)} | ${ourCpu?.toFixed(2)} | ${theirCpu?.toFixed(2)} | ${ratio(ourCpu ?? NaN, theirCpu ?? NaN)} |`;
    }),
    `| stored after full, MiB | ${mib(storedFull?.drctl ?? 0)} | ${mib(storedFull?.restic ?? Number.NaN)} | ${ratio(storedFull?.drctl ?? 0, storedFull?.restic ?? Number.NaN)} | | | |`,
    `| growth of the incremental, MiB | ${mib(growth('drctl'))} | ${mib(growth('restic'))} | ${ratio(growth('drctl'), growth('restic'))} | | | |`,
    '',
    '| phase | tool | seconds | CPU seconds | MiB/s |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.phase} | ${row.tool.replace('|', '\\|')} | ${row.seconds.toFixed(2)} | ${row.cpu.toFixed(2)} | ${(totalBytes / MIB / row.seconds).toFixed(0)} |`,
    ),
    '',
    ...notes.map((note) => `- ${note}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
