/**
 * pgBackRest on the database's host, over SSH (a network namespace running sshd and PostgreSQL, logged in
 * as the server's OS user): the stanza, its check, a full backup and a restore that starts a server on the
 * host all run there, with the repository on the host's path. Skipped with a message where no bed can be
 * made.
 */
import { chownSync, chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.ts';
import { closeExecutors, executorOn, runChecked, shellQuote } from '../../exec/index.ts';
import { checkHosts } from '../../hosts/check.ts';
import { findPgBinaries, pgAvailable, serverRunAs } from '../../pg/binaries.ts';
import { loadPlan } from '../../plan/index.ts';
import type { Plan } from '../../plan/model.ts';
import { NetnsBed } from '../../testbed/netns-bed.ts';
import { engineContext, hasBinary } from '../restic/testing.ts';
import { pgbackrestProvider } from './index.ts';

const unavailable =
  NetnsBed.unavailable() ??
  (!pgAvailable()
    ? 'the PostgreSQL server programs are not installed'
    : !hasBinary('pgbackrest')
      ? 'pgbackrest is not installed'
      : undefined);
if (unavailable !== undefined) console.warn(`pgbackrest on hosts skipped: ${unavailable}`);

const CIPHER = 'pgbackrest on hosts: cipher pass';
const actions = pgbackrestProvider.actions;

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query({ text: sql, rowMode: 'array' })).rows.map((row: unknown[]) => row[0]);
  } finally {
    await client.end();
  }
}

describe.skipIf(unavailable !== undefined)('pgbackrest on the database host over SSH', () => {
  let bed: NetnsBed;
  let dir: string;
  let plan: Plan;
  let address: string;
  const bin = unavailable === undefined ? findPgBinaries().dir : '';
  const ctx = () => engineContext(plan, join(dir, 'state'));
  const stop = (dataDir: string) =>
    executorOn(plan, 'db-east').run(`${bin}/pg_ctl -D ${shellQuote(dataDir)} stop -m immediate`);

  beforeAll(async () => {
    process.env.DRCTL_TEST_PGBACKREST_HOST_CIPHER = CIPHER;
    dir = tempDir('drctl-pgbackrest-host-');
    // the host logs in as the server's OS user, who owns what it writes here
    chmodSync(dir, 0o755);
    const owner = serverRunAs() ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    for (const sub of ['pg', 'sock', 'on-east']) {
      mkdirSync(join(dir, sub));
      chownSync(join(dir, sub), owner.uid, owner.gid);
    }
    bed = await NetnsBed.create({ hosts: ['east'] });
    address = bed.host('east').address;
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: pgbackrest-on-hosts
sites:
  east: { role: primary, hosts: { db-east: { address: ${address}, user: postgres, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}, state_dir: ${dir}/on-east } } }
  vault: { role: backup }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: shop
    tier: 1
    strategy: backup-restore
    owner: erin
    rto: 1h
    rpo: 1h
    components:
      - id: db
        kind: postgres
        placement:
          east: { host: db-east, url: "postgres://postgres@${address}:5432/postgres", data_dir: ${dir}/pg/main, socket_dir: ${dir}/sock }
        backups:
          - { engine: pgbackrest, every: 1d, to: vault, repository: ${dir}/pg/repo, password_env: DRCTL_TEST_PGBACKREST_HOST_CIPHER }
`,
    );
    plan = await loadPlan(join(dir, 'plan.yaml'));
    const settings = [
      `listen_addresses = '${address}'`,
      `unix_socket_directories = '${dir}/sock'`,
      'archive_mode = on',
      "archive_command = '/bin/true'",
      'fsync = off',
    ];
    await runChecked(
      executorOn(plan, 'db-east'),
      [
        `${bin}/initdb -D ${dir}/pg/main -U postgres --auth=trust -N --wal-segsize=1 >/dev/null`,
        `printf '%s\\n' ${settings.map(shellQuote).join(' ')} >> ${dir}/pg/main/postgresql.conf`,
        `echo "host all all ${bed.subnet} trust" >> ${dir}/pg/main/pg_hba.conf`,
        `${bin}/pg_ctl -D ${dir}/pg/main -l ${dir}/pg/main.log -w -t 60 start >/dev/null`,
      ].join(' && '),
      // the server's archive_command (archive-push) encrypts with the cipher pass it finds in its environment
      { what: 'setting up PostgreSQL on the host', env: { PGBACKREST_REPO1_CIPHER_PASS: CIPHER } },
    );
  });
  afterAll(async () => {
    delete process.env.DRCTL_TEST_PGBACKREST_HOST_CIPHER;
    if (plan !== undefined) for (const data of ['main', 'restored']) await stop(`${dir}/pg/${data}`);
    await closeExecutors();
    await bed?.close();
    // made in beforeAll, where tempDir cannot register its own clean-up
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the stanza, checks it and takes a full backup on the host, then restores there into a server that has the rows', async () => {
    const context = ctx();
    const url = `postgres://postgres@${address}:5432/postgres`;
    await query(url, 'create table orders (id int primary key)');
    await query(url, 'insert into orders select generate_series(1, 42)');
    const created = await actions.stanza_create.run({ component: 'db' }, context);
    // the server on the host archives with the config drctl wrote there, not here
    expect(created.output).toMatchObject({
      archiveCommand: expect.stringContaining(`--config=${dir}/on-east/pgbackrest/db--vault/pgbackrest.conf`),
    });
    expect(existsSync(join(dir, 'state', 'pgbackrest'))).toBe(false);
    expect((await actions.check.run({ component: 'db' }, context)).output).toMatchObject({ ok: true });
    const backup = await actions.backup.run({ component: 'db', type: 'full' }, context);
    expect(backup.output).toMatchObject({ type: 'full' });

    const restored = await actions.restore.run(
      { component: 'db', data_dir: `${dir}/pg/restored`, port: 5433 },
      context,
    );
    expect(restored.output).toMatchObject({ port: 5433, archiving: false });
    const pid = (restored.output as { pid: number }).pid;
    expect(await bed.pids('east')).toContain(pid);
    expect(
      await query(`postgres://postgres@${address}:5433/postgres`, 'select count(*)::int from orders'),
    ).toEqual([42]);
    // the cipher pass went to the host in the commands' environment, never into evidence
    expect(JSON.stringify(context.recorded)).not.toContain(CIPHER);

    const report = await checkHosts(plan);
    const east = report.hosts.find((h) => h.host === 'db-east');
    expect(east?.tools).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'pgbackrest',
          present: true,
          version: expect.stringMatching(/^pgBackRest \d/),
        }),
      ]),
    );
    expect(east?.disk.map((d) => d.path)).toEqual(
      expect.arrayContaining([`${dir}/pg/repo`, `${dir}/pg/main`]),
    );
  });
});
