/**
 * Promoting a standby on a host of the bed (a network namespace running sshd and PostgreSQL): `pg_ctl
 * promote -w` on the host over SSH (what `postgres.promote` does when the placement names a host and a
 * data_dir) against `pg_promote()` over SQL from this machine (without). Each run promotes the standby at
 * west until it accepts a write, then makes west a standby of east again; the two ways alternate.
 *
 *   npm run bench:pg-promote-host                 # 5 runs each
 *   DRCTL_BENCH_RUNS=3 npm run bench:pg-promote-host
 */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeExecutors } from '../src/exec/index.ts';
import { serverRunAs } from '../src/pg/index.ts';
import { hostServer, resolve } from '../src/providers/postgres/placement.ts';
import { promote } from '../src/providers/postgres/operations/promote.ts';
import { PgBedPair } from '../src/providers/postgres/testing.ts';
import { NetnsBed } from '../src/testbed/netns-bed.ts';

const runs = Number(process.env['DRCTL_BENCH_RUNS'] ?? '5');
const unavailable = NetnsBed.unavailable();
if (unavailable !== undefined) {
  console.log(`bench:pg-promote-host needs a bed of network namespaces: ${unavailable}`);
  process.exit(0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const bed = await NetnsBed.create({ hosts: ['east', 'west'] });
const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-promote-'));
try {
  chmodSync(dir, 0o755);
  const runAs = serverRunAs();
  if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
  const pair = await PgBedPair.create(bed, dir);
  const west = resolve(pair.plan, 'db', 'west');
  const ways = {
    'pg_ctl promote over SSH': { host: hostServer(pair.plan, west) },
    'pg_promote() over SQL': {},
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((way) => [way, []]));
  // one promotion first, unmeasured: the SSH master connection is opened then, as a run's first step does
  await promote(west, ways['pg_ctl promote over SSH']);
  await pair.makeStandby();
  for (let run = 0; run < runs; run++) {
    for (const [way, options] of run % 2 === 0 ? Object.entries(ways) : Object.entries(ways).reverse()) {
      const result = await promote(west, options);
      times[way]?.push(result.promotedInMs);
      await pair.makeStandby();
    }
  }
  const load = loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
  console.log(`promotion until a write is accepted, ${runs} runs each, load ${load}`);
  console.log('| way | median ms | min ms | max ms |');
  console.log('|---|---|---|---|');
  for (const [way, values] of Object.entries(times))
    console.log(`| ${way} | ${median(values)} | ${Math.min(...values)} | ${Math.max(...values)} |`);
} finally {
  await closeExecutors();
  await bed.kill('east').catch(() => undefined);
  await bed.kill('west').catch(() => undefined);
  await bed.close();
  rmSync(dir, { recursive: true, force: true });
}
