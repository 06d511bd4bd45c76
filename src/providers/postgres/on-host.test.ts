/**
 * PostgreSQL server operations on the database's host over SSH, on real hosts (network namespaces with
 * their own addresses running sshd, logged in as `postgres`): promotion with pg_ctl there, run again as a
 * resumed step would be, and base backups with a point-in-time restore made with the host's programs.
 * The whole failover and failback on hosts is test/testbed/failover-over-ssh.test.ts. Skipped with a
 * message where no bed can be made.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import { closeExecutors, executorOn, runChecked, shellQuote } from '../../exec/index.ts';
import { findPgBinaries, pgAvailable, serverRunAs } from '../../pg/index.ts';
import { loadPlan } from '../../plan/index.ts';
import type { Plan } from '../../plan/model.ts';
import { silentLogger } from '../../system/logger.ts';
import { NetnsBed } from '../../testbed/netns-bed.ts';
import { tempDir } from '../../../test/support/tmp.ts';
import type { ActionContext } from '../provider.ts';
import { flushWalArchive, postgresProvider } from './index.ts';

const unavailable = NetnsBed.unavailable() ?? (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`postgres on hosts skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('postgres server operations on the database host', () => {
  let bed: NetnsBed;
  let plan: Plan;
  let dir: string;
  const bin = unavailable === undefined ? findPgBinaries().dir : '';
  const evidence: Record<string, unknown> = {};
  const ctx = (step?: { runId: string; stepId: string }): ActionContext => ({
    ...step,
    signal: new AbortController().signal,
    log: silentLogger(),
    plan,
    stateDir: join(dir, 'state'),
    evidence: (name, value) => (evidence[name] = value),
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
  const sql = async (site: string, text: string, port = 5432): Promise<unknown[][]> => {
    const client = new pg.Client({ host: address(site), port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      return (await client.query<unknown[]>({ text, rowMode: 'array' })).rows;
    } finally {
      await client.end();
    }
  };
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
  const onHost = (site: string, script: string) =>
    runChecked(executorOn(plan, `db-${site}`), script, { what: `setting up ${site}` });

  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
    dir = tempDir('drctl-pg-host-');
    // the hosts log in as postgres: it owns the data directories, the backups and its state there
    chmodSync(dir, 0o755);
    const runAs = serverRunAs();
    if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
    const host = (site: string): string =>
      `db-${site}: { address: ${address(site)}, user: postgres, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}, state_dir: ${dir}/on-${site} }`;
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: postgres-on-hosts
sites:
  east: { role: primary, hosts: { ${host('east')} } }
  west: { role: secondary, hosts: { ${host('west')} } }
contacts: [{ id: alice, name: Alice }]
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    rto: 5m
    rpo: 0s
    components:
      - id: db
        kind: postgres
        placement:
          east: { host: db-east, url: "postgres://postgres@${address('east')}:5432/postgres", data_dir: ${dir}/east }
          west: { host: db-west, url: "postgres://postgres@${address('west')}:5432/postgres", data_dir: ${dir}/west, standby: true }
        replication: { mode: async, from: east, to: west }
        backups: [{ to: east, every: 1h, path: ${dir}/backups }]
`,
    );
    plan = await loadPlan(join(dir, 'plan.yaml'));
    const conf = [
      `listen_addresses = '${address('east')}'`,
      "unix_socket_directories = ''",
      'wal_level = replica',
      'archive_mode = on',
      "archive_command = '/bin/true'",
      'fsync = off',
    ];
    await onHost(
      'east',
      [
        `${bin}/initdb -D ${dir}/east -U postgres --auth=trust -N >/dev/null`,
        `printf '%s\\n' ${conf.map(shellQuote).join(' ')} >> ${dir}/east/postgresql.conf`,
        `echo "host all all ${bed.subnet} trust" >> ${dir}/east/pg_hba.conf`,
        `echo "host replication all ${bed.subnet} trust" >> ${dir}/east/pg_hba.conf`,
        `${bin}/pg_ctl -D ${dir}/east -l ${dir}/east.log -w -t 60 start >/dev/null`,
      ].join(' && '),
    );
    await onHost(
      'west',
      [
        `${bin}/pg_basebackup -h ${address('east')} -U postgres -D ${dir}/west -R -X stream -c fast`,
        `echo "listen_addresses = '${address('west')}'" >> ${dir}/west/postgresql.auto.conf`,
        `${bin}/pg_ctl -D ${dir}/west -l ${dir}/west.log -w -t 60 start >/dev/null`,
      ].join(' && '),
    );
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
