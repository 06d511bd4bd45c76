/**
 * drctl's file backup with the data and the repository on this machine, against the same tree backed up
 * from one host into a repository on another (network namespaces with their own addresses running sshd,
 * src/testbed/netns-bed.ts), in one run: a first backup, a second one of the unchanged tree (everything is
 * read and chunked again, nothing is sent), and a restore of the newest backup. Between hosts the data
 * crosses two SSH channels (a tar from the source host to drctl, new chunks from drctl to the repository's
 * host); on this machine it is read and written in place by the worker threads.
 *
 *   sudo npm run bench:backup-hosts                          # ~100 MB, 3000 files, half of them text
 *   DRCTL_BENCH_SIZE=20MB DRCTL_BENCH_FILES=500 npm run bench:backup-hosts
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostRepository } from '../src/backup/host-repository.ts';
import type { Repository } from '../src/backup/manifest.ts';
import { BackupRepository } from '../src/backup/repository.ts';
import { closeExecutors, executorFor } from '../src/exec/index.ts';
import type { Executor } from '../src/exec/index.ts';
import { NetnsBed } from '../src/testbed/netns-bed.ts';
import { table } from './table.ts';

const MB = 1 << 20;
const totalBytes = Number(/^(\d+)MB$/i.exec(process.env['DRCTL_BENCH_SIZE'] ?? '100MB')?.[1] ?? 100) * MB;
const fileCount = Number(process.env['DRCTL_BENCH_FILES'] ?? 3000);

/** Log-like text: compresses about 4–5x, as logs on a file share do. */
function textLike(size: number): Buffer {
  const lines: string[] = [];
  for (let length = 0; length < size;) {
    const line = `${new Date(1.7e12 + length * 997).toISOString()} INFO order=${randomBytes(5).toString('hex')} status=${length % 7 === 0 ? 500 : 200}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

/** `fileCount` files in 30 directories: most small, a few large, half of each text-like. */
function makeTree(root: string): void {
  const large = Math.max(1, Math.floor(fileCount / 300));
  const largeSize = Math.floor((totalBytes * 0.6) / large);
  const smallSize = Math.floor((totalBytes * 0.4) / (fileCount - large));
  for (let i = 0; i < fileCount; i += 1) {
    const dir = join(root, `d${i % 30}`);
    mkdirSync(dir, { recursive: true });
    const size = i < large ? largeSize : smallSize;
    writeFileSync(join(dir, `f${i}`), i % 2 === 0 ? textLike(size) : randomBytes(size));
  }
}

interface Timing {
  first: number;
  again: number;
  restore: number;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function phases(
  repository: Repository,
  source: string,
  from: Executor | undefined,
  target: string,
): Promise<Timing> {
  const options = { kind: 'files', site: 'bench', ...(from === undefined ? {} : { from }) };
  const first = await timed(() => repository.backupDirectory(source, options));
  const again = await timed(() => repository.backupDirectory(source, options));
  const restore = await timed(() =>
    repository.restoreTree(undefined, target, { site: 'bench', ...(from === undefined ? {} : { to: from }) }),
  );
  return { first, again, restore };
}

async function main(): Promise<void> {
  const unavailable = NetnsBed.unavailable();
  if (unavailable !== undefined) {
    console.log(`bench:backup-hosts needs the namespace bed: ${unavailable}`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'drctl-bench-hosts-'));
  const bed = await NetnsBed.create({ hosts: ['east', 'west'] });
  try {
    const tree = join(work, 'tree');
    makeTree(tree);
    const before = loadavg()[0] ?? 0;
    const subject = { component: 'bench', site: 'west' };
    const local = await phases(
      new BackupRepository(join(work, 'repo-local'), { subject }),
      tree,
      undefined,
      join(work, 'restored-local'),
    );
    const east = executorFor(bed.target('east'));
    const west = executorFor(bed.target('west'));
    await Promise.all([east.connect(), west.connect()]);
    const hosts = await phases(
      new HostRepository(west, join(work, 'repo-west'), { subject }),
      tree,
      east,
      join(work, 'restored-east'),
    );
    const after = loadavg()[0] ?? 0;
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const mbps = (ms: number): string => `${(totalBytes / MB / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(
      `\n${fileCount} files, ${totalBytes / MB} MB (half text-like); ${cpus().length} cores, load ${before.toFixed(1)} → ${after.toFixed(1)}\n`,
    );
    table(
      ['phase', 'local → local', 'east → west (SSH)', 'ratio'],
      (['first', 'again', 'restore'] as const).map((phase) => [
        { first: 'first backup', again: 'unchanged tree', restore: 'restore' }[phase],
        `${s(local[phase])} (${mbps(local[phase])})`,
        `${s(hosts[phase])} (${mbps(hosts[phase])})`,
        `${(hosts[phase] / local[phase]).toFixed(2)}x`,
      ]),
    );
  } finally {
    await closeExecutors();
    await bed.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
