/**
 * Test support for the postgres provider: a compiled plan whose `db` component is placed on a PgCluster's
 * nodes, an action context that collects evidence, and a primary and standby on a bed's hosts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { executorOn, runChecked, shellQuote } from '../../exec/index.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import type { PgCluster } from '../../pg/cluster.ts';
import { loadPlan } from '../../plan/index.ts';
import type { Component, Placement, Plan, ReplicationMode } from '../../plan/model.ts';
import type { NetnsBed } from '../../testbed/netns-bed.ts';
import { AT, testPlan } from '../testing.ts';

export interface PlanOptions {
  baseDir: string;
  /** Replication mode of the component. @default the cluster's */
  mode?: ReplicationMode;
  /** Backup location path (policy `to: west`). */
  backupPath?: string;
  /** Override a site's URL, e.g. with a wrong password. */
  urls?: Record<string, string>;
  rpoMs?: number;
}

export function planFor(cluster: PgCluster, options: PlanOptions): Plan {
  const placement: Placement[] = cluster.nodes.map((node, index) => ({
    site: node.site,
    standby: index > 0,
    url: options.urls?.[node.site] ?? node.url,
    path: undefined,
    command: undefined,
    host: undefined,
    fields: { url: node.url, data_dir: node.dataDir, bin_dir: cluster.binaries.dir },
    at: AT,
  }));
  const component: Component = {
    id: 'db',
    workload: 'shop',
    name: 'db',
    kind: 'postgres',
    description: undefined,
    tier: 1,
    strategy: 'hot-standby',
    placement,
    dependsOn: [],
    references: [],
    probe: undefined,
    replication: {
      mode: options.mode ?? cluster.mode,
      from: undefined,
      to: undefined,
      everyMs: undefined,
      maxLagMs: undefined,
      at: AT,
    },
    backups:
      options.backupPath === undefined
        ? []
        : [
            {
              everyMs: 3_600_000,
              type: 'full',
              to: 'west',
              path: options.backupPath,
              media: 'disk',
              keep: { daily: 7, weekly: 4, monthly: 12, yearly: 0 },
              verifyEveryMs: 30 * 86_400_000,
              immutable: false,
              at: AT,
            },
          ],
    recoveryMs: undefined,
    at: AT,
  };
  return testPlan({
    baseDir: options.baseDir,
    sites: cluster.nodes.map((node) => node.site),
    workload: {
      strategy: 'hot-standby',
      rtoMs: 3_600_000,
      rpoMs: options.rpoMs ?? 5_000,
      automaticFailover: true,
      detectAfterMs: 1_000,
      components: [component],
    },
  });
}

export { testContext as contextFor, type TestContext } from '../testing.ts';

/**
 * A primary on the bed's host `east` and a streaming standby on `west`, both logged into as `postgres`,
 * under `dir` (which must be the server user's), with a compiled plan whose component `db` places them
 * on hosts `db-east` and `db-west` (backups under `<dir>/backups`).
 */
export class PgBedPair {
  readonly plan: Plan;
  readonly #bed: NetnsBed;
  readonly #dir: string;
  readonly #bin: string;

  private constructor(bed: NetnsBed, dir: string, plan: Plan) {
    this.#bed = bed;
    this.#dir = dir;
    this.plan = plan;
    this.#bin = findPgBinaries().dir;
  }

  static async create(bed: NetnsBed, dir: string): Promise<PgBedPair> {
    const address = (site: string): string => bed.host(site).address;
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
    const pair = new PgBedPair(bed, dir, await loadPlan(join(dir, 'plan.yaml')));
    const bin = pair.#bin;
    const conf = [
      `listen_addresses = '${address('east')}'`,
      "unix_socket_directories = ''",
      'wal_level = replica',
      'archive_mode = on',
      "archive_command = '/bin/true'",
      'fsync = off',
    ];
    await pair.#onHost(
      'east',
      [
        `${bin}/initdb -D ${dir}/east -U postgres --auth=trust -N >/dev/null`,
        `printf '%s\\n' ${conf.map(shellQuote).join(' ')} >> ${dir}/east/postgresql.conf`,
        `echo "host all all ${bed.subnet} trust" >> ${dir}/east/pg_hba.conf`,
        `echo "host replication all ${bed.subnet} trust" >> ${dir}/east/pg_hba.conf`,
        `${bin}/pg_ctl -D ${dir}/east -l ${dir}/east.log -w -t 60 start >/dev/null`,
      ].join(' && '),
    );
    await pair.makeStandby();
    return pair;
  }

  /** (Re)makes west a streaming standby of east: whatever ran there is stopped and replaced. */
  async makeStandby(): Promise<void> {
    const [bin, dir] = [this.#bin, this.#dir];
    await this.#onHost(
      'west',
      [
        `{ ${bin}/pg_ctl -D ${dir}/west -m immediate stop >/dev/null 2>&1; rm -rf ${dir}/west; }`,
        `${bin}/pg_basebackup -h ${this.#bed.host('east').address} -U postgres -D ${dir}/west -R -X stream -c fast`,
        `echo "listen_addresses = '${this.#bed.host('west').address}'" >> ${dir}/west/postgresql.auto.conf`,
        `${bin}/pg_ctl -D ${dir}/west -l ${dir}/west.log -w -t 60 start >/dev/null`,
      ].join(' && '),
    );
  }

  /** Rows of a statement on a site's server (or another port at its address), as arrays. */
  async sql(site: string, text: string, port = 5432): Promise<unknown[][]> {
    const client = new pg.Client({
      host: this.#bed.host(site).address,
      port,
      user: 'postgres',
      database: 'postgres',
    });
    await client.connect();
    try {
      return (await client.query<unknown[]>({ text, rowMode: 'array' })).rows;
    } finally {
      await client.end();
    }
  }

  #onHost(site: string, script: string): Promise<unknown> {
    return runChecked(executorOn(this.plan, `db-${site}`), script, { what: `setting up ${site}` });
  }
}
