// One primary with WAL archiving is shared by these tests; each restore goes to its own new instance.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError, UsageError } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import { PgCluster, freePort } from '../../pg/cluster.ts';
import { flushWalArchive, listBackups, postgresProvider } from './index.ts';
import { stopDataDir } from '../../pg/server.ts';
import { contextFor, planFor } from './testing.ts';

let cluster: PgCluster;
let plan: Plan;
let workDir: string;
const restored: string[] = [];

async function act(
  name: string,
  params: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const action = postgresProvider.actions[name as keyof typeof postgresProvider.actions];
  return (await action.run(action.params.parse(params), contextFor(plan, workDir))).output;
}

async function sql<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function rejection(promise: Promise<unknown>): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DrctlError);
  return error as DrctlError;
}

beforeAll(async () => {
  cluster = await PgCluster.create({ sites: ['east'] });
  workDir = mkdtempSync(join(tmpdir(), 'drctl-pg-backup-'));
  // The server's OS user writes the backups and WAL here and reads them back when restoring.
  chmodSync(workDir, 0o755);
  plan = planFor(cluster, { baseDir: workDir, backupPath: 'backups', mode: 'none', rpoMs: 60_000 });
  await sql(
    cluster.node('east').url,
    'create table orders (id int primary key, committed_at timestamptz default clock_timestamp())',
  );
});

afterAll(async () => {
  for (const dataDir of restored) await stopDataDir(dataDir);
  await cluster?.close();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe('postgres base backups and point-in-time restore', () => {
  it('takes a verified base backup into the backup location and archives WAL next to it', async () => {
    const output = await act('basebackup', { component: 'db', site: 'east' });
    expect(output).toMatchObject({ component: 'db', site: 'east', verified: true });
    const location = join(workDir, 'backups', 'db');
    expect(listBackups(location).map((backup) => backup.id)).toEqual([output?.['id']]);
    expect(readdirSync(join(location, 'base')).some((name) => name.endsWith('.partial'))).toBe(false);
    await flushWalArchive({ subject: { component: 'db', site: 'east' }, url: cluster.node('east').url });
    expect(readdirSync(join(location, 'wal')).length).toBeGreaterThan(0);
  });

  it('reports the newest base backup age as a readiness fact', async () => {
    const facts = await postgresProvider.readiness(
      plan.workloads[0]!.components[0]!,
      contextFor(plan, workDir),
    );
    // Without a standby the RPO rests on the backups, so the newest one must be younger than the RPO.
    expect(facts.find((fact) => fact.name === 'backup-age')).toMatchObject({
      site: 'west',
      ok: true,
      limit: 60_000,
    });
  });

  it('a point-in-time restore contains exactly the rows committed before the target time', async () => {
    const url = cluster.node('east').url;
    for (let id = 1; id <= 5; id++) await sql(url, `insert into orders (id) values (${id})`);
    await sleep(30);
    const target = new Date();
    await sleep(30);
    for (let id = 6; id <= 10; id++) await sql(url, `insert into orders (id) values (${id})`);
    await flushWalArchive({ subject: { component: 'db', site: 'east' }, url });

    const dataDir = join(workDir, 'restored');
    restored.push(dataDir);
    const port = await freePort();
    const output = await act('restore-pitr', {
      component: 'db',
      site: 'east',
      target_time: target.toISOString(),
      data_dir: dataDir,
      port,
    });
    expect(output).toMatchObject({ targetTime: target.toISOString() });
    const restoredUrl = new URL(url);
    restoredUrl.port = String(port);
    const rows = await sql<{ id: number }>(restoredUrl.toString(), 'select id from orders order by id');
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3, 4, 5]);
    // The restored instance is promoted: it takes writes of its own.
    await sql(restoredUrl.toString(), 'insert into orders (id) values (100)');
  });

  it('refuses to restore into a directory that already holds data, touching nothing', async () => {
    const dataDir = join(workDir, 'occupied');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'keep.txt'), 'precious');
    const error = await rejection(
      act('restore-pitr', {
        component: 'db',
        site: 'east',
        target_time: new Date().toISOString(),
        data_dir: dataDir,
        port: await freePort(),
      }),
    );
    expect(error.code).toBe('DRCTL_PG_RESTORE_TARGET_NOT_EMPTY');
    expect(error.message).toContain('component db at site east');
    expect(readdirSync(dataDir)).toEqual(['keep.txt']);
  });

  it('refuses a target time before every backup and leaves no data directory behind', async () => {
    const dataDir = join(workDir, 'too-early');
    const error = await rejection(
      act('restore-pitr', {
        component: 'db',
        site: 'east',
        target_time: '2001-01-01T00:00:00Z',
        data_dir: dataDir,
        port: await freePort(),
      }),
    );
    expect(error.code).toBe('DRCTL_PG_NO_BACKUP');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('names the missing server programs with an install hint as a usage error', () => {
    let caught: unknown;
    try {
      findPgBinaries(join(workDir, 'no-such-bin'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).code).toBe('DRCTL_PG_BINARIES_MISSING');
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).hint).toContain('apt-get install');
  });
});
