/**
 * PostgreSQL base backup overhead: drctl's `postgres.basebackup` (pg_basebackup into a `.partial`
 * directory, WAL archiving switched on, backup record, rename; with and without pg_verifybackup) against
 * a plain `pg_basebackup -X stream --checkpoint=fast` of the same pgbench-initialised database.
 * Runs alternate so both see the same cache and load.
 *
 *   npm run bench:pg-backup                                  # pgbench scale 20 (about 300 MB)
 *   DRCTL_BENCH_PG_SCALE=5 DRCTL_BENCH_RUNS=3 npm run bench:pg-backup
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPgTool } from '../src/pg/binaries.ts';
import { PgCluster } from '../src/pg/cluster.ts';
import { conninfoFromUrl } from '../src/pg/client.ts';
import { localBackupFiles } from '../src/providers/postgres/backup-location.ts';
import { baseBackup, listBackups } from '../src/providers/postgres/operations/backup.ts';

const scale = Number(process.env['DRCTL_BENCH_PG_SCALE'] ?? '20');
const runs = Number(process.env['DRCTL_BENCH_RUNS'] ?? '3');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const cluster = await PgCluster.create({ sites: ['east'], database: 'bench', fsync: true });
const work = mkdtempSync(join(tmpdir(), 'drctl-bench-pg-'));
// The server's OS user writes the backups here.
chmodSync(work, 0o777);
try {
  const node = cluster.node('east');
  const target = { subject: { component: 'db', site: 'east' }, url: node.url };
  process.stdout.write(`pgbench -i -s ${scale} ...\n`);
  await runPgTool(cluster.binaries, 'pgbench', [
    '-i',
    '-s',
    String(scale),
    '-q',
    '-d',
    conninfoFromUrl(node.url),
  ]);
  const plain: number[] = [];
  const drctl: number[] = [];
  const verified: number[] = [];
  let bytes = 0;
  for (let run = 0; run < runs; run++) {
    const plainDir = join(work, `plain-${run}`);
    plain.push(
      await time(() =>
        runPgTool(cluster.binaries, 'pg_basebackup', [
          '-D',
          plainDir,
          '-d',
          conninfoFromUrl(node.url),
          '-X',
          'stream',
          '--checkpoint=fast',
        ]),
      ),
    );
    rmSync(plainDir, { recursive: true, force: true });
    const location = join(work, `drctl-${run}`);
    drctl.push(
      await time(() =>
        baseBackup(target, { files: localBackupFiles(cluster.binaries), location, verify: false }),
      ),
    );
    bytes = listBackups(location)[0]?.bytes ?? 0;
    rmSync(location, { recursive: true, force: true });
    verified.push(
      await time(() =>
        baseBackup(target, { files: localBackupFiles(cluster.binaries), location, verify: true }),
      ),
    );
    rmSync(location, { recursive: true, force: true });
  }
  const mb = bytes / 1e6;
  const base = median(plain);
  const rows = [
    ['plain `pg_basebackup -X stream`', base],
    ['drctl `postgres.basebackup`, verify: false', median(drctl)],
    ['drctl `postgres.basebackup` (default, with pg_verifybackup)', median(verified)],
  ] as const;
  process.stdout.write(
    `\n${cluster.binaries.version}; ${cpus().length} cores; Node ${process.version}; pgbench scale ${scale}, backup ${mb.toFixed(0)} MB; median of ${runs}\n\n`,
  );
  process.stdout.write('| backup | median | MB/s | ratio to plain |\n| --- | --- | --- | --- |\n');
  for (const [name, seconds] of rows) {
    process.stdout.write(
      `| ${name} | ${seconds.toFixed(2)} s | ${(mb / seconds).toFixed(0)} | ${(seconds / base).toFixed(2)} |\n`,
    );
  }
  process.stdout.write(
    `\nall runs (s): plain ${plain.map((s) => s.toFixed(2)).join(', ')}; drctl ${drctl.map((s) => s.toFixed(2)).join(', ')}; verified ${verified.map((s) => s.toFixed(2)).join(', ')}\n`,
  );
} finally {
  await cluster.close();
  rmSync(work, { recursive: true, force: true });
}
