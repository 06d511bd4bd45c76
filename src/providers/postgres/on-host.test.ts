/**
 * PostgreSQL server operations on the database's host over SSH, on real hosts (network namespaces with
 * their own addresses running sshd, logged in as `postgres`): promotion with pg_ctl there, run again as a
 * resumed step would be, and base backups with a point-in-time restore made with the host's programs.
 * The whole failover and failback on hosts is test/testbed/failover-over-ssh.test.ts. Skipped with a
 * message where no bed can be made.
 */
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import { closeExecutors } from '../../exec/index.ts';
import { pgAvailable, serverRunAs } from '../../pg/index.ts';
import type { Plan } from '../../plan/model.ts';
import { NetnsBed } from '../../testbed/netns-bed.ts';
import { tempDir } from '../../../test/support/tmp.ts';
import type { ActionContext } from '../provider.ts';
import { flushWalArchive, postgresProvider } from './index.ts';
import { contextFor, PgBedPair } from './testing.ts';

const unavailable = NetnsBed.unavailable() ?? (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`postgres on hosts skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('postgres server operations on the database host', () => {
  let bed: NetnsBed;
  let plan: Plan;
  let dir: string;
  let pair: PgBedPair;
  const ctx = (step?: { runId: string; stepId: string }): ActionContext => ({
    ...contextFor(plan, join(dir, 'state')),
    ...step,
  });
  const act = (
    name: keyof typeof postgresProvider.actions,
    params: Record<string, unknown>,
    step?: { runId: string; stepId: string },
  ) => {
    const action = postgresProvider.actions[name];
    return action.run(action.params.parse({ component: 'db', ...params }) as never, ctx(step));
  };
  const address = (site: string): string => bed.host(site).address;
  const sql = (site: string, text: string, port?: number) => pair.sql(site, text, port);
  const east = () => ({
    subject: { component: 'db', site: 'east' },
    url: `postgres://postgres@${address('east')}:5432/postgres`,
  });
  const treeBytes = (path: string): number =>
    readdirSync(path, { withFileTypes: true }).reduce(
      (sum, entry) =>
        sum +
        (entry.isDirectory()
          ? treeBytes(join(path, entry.name))
          : entry.isFile()
            ? statSync(join(path, entry.name)).size
            : 0),
      0,
    );
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
    dir = tempDir('drctl-pg-host-');
    // the hosts log in as postgres: it owns the data directories, the backups and its state there
    chmodSync(dir, 0o755);
    const runAs = serverRunAs();
    if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
    pair = await PgBedPair.create(bed, dir);
    plan = pair.plan;
    await sql('east', 'create table orders (id int primary key, note text)');
  }, 120_000);

  afterAll(async () => {
    await closeExecutors();
    await bed?.kill('east').catch(() => undefined);
    await bed?.kill('west').catch(() => undefined);
    await bed?.close();
  });

  it("takes a base backup with the host's programs into a location there, and restores it to a point in time on the host", async () => {
    const backup = await act('basebackup', { site: 'east' });
    const record = backup.output as { id: string; path: string; bytes: number; verified: boolean };
    expect(record).toMatchObject({ verified: true, path: `${dir}/backups/db/base/${record.id}` });
    // the record's bytes are the copy's, as the host counted them (the hosts share this file system)
    expect(record.bytes).toBe(treeBytes(record.path) - statSync(join(record.path, 'drctl-backup.json')).size);

    for (let id = 10; id < 15; id++) await sql('east', `insert into orders values (${id}, 'kept')`);
    await sleep(20);
    const target = new Date();
    await sleep(20);
    for (let id = 15; id < 20; id++)
      await sql('east', `insert into orders values (${id}, 'after the target')`);
    await flushWalArchive(east());

    const restored = await act('restore-pitr', {
      site: 'east',
      target_time: target.toISOString(),
      data_dir: `${dir}/restored`,
      port: 5433,
    });
    expect(restored.output).toMatchObject({ backup: record.id, dataDir: `${dir}/restored` });
    // it runs on the host: in east's namespace, answering at east's address
    expect(await bed.pids('east')).toContain((restored.output as { pid: number }).pid);
    expect(await sql('east', 'select id from orders order by id', 5433)).toEqual(
      [10, 11, 12, 13, 14].map((id) => [id]),
    );
  });

  it('promotes the standby with pg_ctl on its host, and a second attempt of the same step promotes nothing', async () => {
    await sql('east', "insert into orders values (1, 'before the promotion')");
    const step = { runId: 'run-1', stepId: 'promote-west' };
    const first = await act('promote', { site: 'west' }, step);
    expect(first.summary).toMatch(/^promoted db at west \(pg_ctl on host db-west \(.+\)\) in \d+ ms/);
    expect(first.output).toMatchObject({ how: 'pg_ctl' });
    expect(await sql('west', 'select pg_is_in_recovery()')).toEqual([[false]]);
    await sql('west', "insert into orders values (2, 'on the new primary')");
    const promotions = () => readFileSync(`${dir}/west.log`, 'utf8').match(/archive recovery complete/g);
    expect(promotions()).toHaveLength(1);
    // marked on the host before pg_ctl promote was asked
    expect(existsSync(join(dir, 'on-west', 'promoted', 'run-1', 'promote-west'))).toBe(true);

    // as when the driver died after pg_ctl promote and the run resumes the step
    const again = await act('promote', { site: 'west' }, step);
    expect(again.summary).toMatch(
      /^not promoted again: an earlier attempt of this step promoted db at west at /,
    );
    expect(again.output).toMatchObject({ how: 'pg_ctl', promotedBefore: expect.any(String) });
    expect(promotions()).toHaveLength(1);

    // a primary this step did not promote is refused, as before
    const error = await act('promote', { site: 'west' }, { runId: 'run-2', stepId: 'promote-west' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_PG_ALREADY_PRIMARY');
  });
});
