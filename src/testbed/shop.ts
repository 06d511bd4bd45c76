/**
 * The reference disaster on a bed of real hosts: the two-site shop with east and west each a network
 * namespace (src/testbed/netns-bed.ts) running sshd, PostgreSQL 15 (east primary, west a synchronous
 * streaming standby) and the order service. The front door is drctl's traffic router in the root namespace,
 * or (`door: 'dns'`) a DNS name served by BIND on a third host `ns` (src/testbed/bed-dns.ts): clients resolve
 * `shop.example.test` through a caching resolver, and the runbooks move them with `dns.set`.
 * Every action of the failover and failback runbooks runs on the sites' hosts over SSH (`overSsh`): the
 * postgres and process providers act on their placements' hosts. For comparison, the same work runs as
 * shell commands on this machine (the bed's hosts share its file system and pids).
 *
 *   const shop = await BedShop.create({ bed, dir });
 *   shop.plan; shop.url          // the compiled plan (hosts: db-east, app-east, db-west, app-west), the front door
 *   await shop.ordersPresent('west', ids)
 *   await shop.close();
 *
 * Set-up itself goes through the execution layer and the plan's hosts too, so the bed proves what an
 * operator's hosts need: a `postgres` login for the database hosts, `root` (or sudo) for the app hosts.
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { executorOn, runChecked, shellQuote } from '../exec/index.ts';
import { loadPlan } from '../plan/index.ts';
import type { Plan } from '../plan/model.ts';
import { findPgBinaries, serverRunAs } from '../pg/index.ts';
import { HostProcessGroups, processSpecFor } from '../supervise/index.ts';
import { TrafficRouter } from '../router/index.ts';
import { freePort } from '../system/ports.ts';
import { BedDns } from './bed-dns.ts';
import type { NetnsBed } from './netns-bed.ts';

const ORDER_SERVICE = fileURLToPath(
  new URL('../../examples/two-site/app/order-service.mjs', import.meta.url),
);
const PG_PORT = 5432;
const APP_PORT = 8080;
const SITES = ['east', 'west'] as const;
type ShopSite = (typeof SITES)[number];

export interface BedShopOptions {
  bed: NetnsBed;
  /** A directory the shop's files go in (data directories, logs, the plan). */
  dir: string;
  /** Run the runbooks' actions over SSH on the hosts (true) or on this machine. @default true */
  overSsh?: boolean;
  /**
   * The front door: drctl's router, or the name `shop.example.test` served by BIND on the bed's host `ns`
   * (the bed must have one), whose A record the runbooks switch. @default 'router'
   */
  door?: 'router' | 'dns';
  /** TTL of the shop's A record, with `door: 'dns'`. @default 5 */
  ttlSeconds?: number;
  /**
   * What the failback's rebuild of east does with writes east committed after the failover: `save` them
   * to a reconciliation file (read on east's host over SSH), or `discard` them. @default 'discard'
   */
  stranded?: 'save' | 'discard';
}

/** The environment variable the DNS runbook steps read the TSIG secret from. */
export const SHOP_TSIG_ENV = 'BED_SHOP_TSIG_SECRET';

export class BedShop {
  readonly plan: Plan;
  /** The front door clients use: the router's URL, or the DNS name's. */
  readonly url: string;
  readonly planFile: string;
  /** With `door: 'dns'`: the servers, and how a client resolves the name through the resolver. */
  readonly dns: BedDns | undefined;
  readonly #router: TrafficRouter | undefined;
  readonly #bed: NetnsBed;

  private constructor(parts: {
    plan: Plan;
    url: string;
    router: TrafficRouter | undefined;
    dns: BedDns | undefined;
    planFile: string;
    bed: NetnsBed;
  }) {
    this.plan = parts.plan;
    this.url = parts.url;
    this.#router = parts.router;
    this.dns = parts.dns;
    this.planFile = parts.planFile;
    this.#bed = parts.bed;
  }

  static async create(options: BedShopOptions): Promise<BedShop> {
    const { bed, dir } = options;
    const bin = findPgBinaries().dir;
    const runAs = serverRunAs();
    const pgDir = join(dir, 'pg');
    mkdirSync(pgDir, { recursive: true, mode: 0o755 });
    if (runAs !== undefined) chownSync(pgDir, runAs.uid, runAs.gid);
    mkdirSync(join(dir, 'app'), { recursive: true });
    const routerPort = await freePort();
    const ttl = options.ttlSeconds ?? 5;
    const dns =
      options.door === 'dns'
        ? await BedDns.create({
            bed,
            host: 'ns',
            dir,
            records: [`shop ${ttl} IN A ${bed.host('east').address}`],
          })
        : undefined;
    // read by the dns.set steps, as an operator's environment would hold it
    if (dns !== undefined) process.env[SHOP_TSIG_ENV] = dns.key.secret;
    const planFile = join(dir, 'plan.yaml');
    writeFileSync(
      planFile,
      shopPlan({
        bed,
        dir,
        bin,
        overSsh: options.overSsh ?? true,
        node: process.execPath,
        door: dns === undefined ? { routerPort } : { dns, ttl },
        stranded: options.stranded ?? 'discard',
      }),
    );
    const plan = await loadPlan(planFile);
    const address = (site: ShopSite): string => bed.host(site).address;
    const db = (site: ShopSite) => executorOn(plan, `db-${site}`);
    const psql = (site: ShopSite, sql: string): string =>
      `${bin}/psql -h ${address(site)} -p ${PG_PORT} -U postgres -d postgres -qAtc ${shellQuote(sql)}`;

    // east: a new primary, asynchronous until west streams
    await runChecked(
      db('east'),
      [
        `${bin}/initdb -D ${pgDir}/east -U postgres --auth=trust -N >/dev/null`,
        `printf '%s\\n' ${serverConf(address('east')).map(shellQuote).join(' ')} >> ${pgDir}/east/postgresql.conf`,
        `echo "host all all ${bed.subnet} trust" >> ${pgDir}/east/pg_hba.conf`,
        `echo "host replication all ${bed.subnet} trust" >> ${pgDir}/east/pg_hba.conf`,
        `${bin}/pg_ctl -D ${pgDir}/east -l ${pgDir}/east.log -w -t 60 start >/dev/null`,
        psql('east', 'CREATE DATABASE shop'),
        `${bin}/psql -h ${address('east')} -p ${PG_PORT} -U postgres -d shop -qAtc ${shellQuote(ORDERS_TABLE)}`,
      ].join(' && '),
      { what: 'setting up PostgreSQL at east' },
    );
    // west: a streaming standby of east; synchronous_standby_names matters only once it is a primary
    await runChecked(
      db('west'),
      [
        `${bin}/pg_basebackup -h ${address('east')} -p ${PG_PORT} -U postgres -D ${pgDir}/west -R -X stream -c fast`,
        // cluster_name names the standby in pg_stat_replication, where readiness looks for its site
        `printf "%s\\n" "listen_addresses = '${address('west')}'" "synchronous_standby_names = ''" "cluster_name = 'west'" >> ${pgDir}/west/postgresql.auto.conf`,
        `${bin}/pg_ctl -D ${pgDir}/west -l ${pgDir}/west.log -w -t 60 start >/dev/null`,
      ].join(' && '),
      { what: 'setting up the standby at west' },
    );
    await runChecked(
      db('east'),
      `${psql('east', "ALTER SYSTEM SET synchronous_standby_names = '*'")} && ${psql('east', 'SELECT pg_reload_conf()')} >/dev/null`,
    );
    await waitFor(
      async () =>
        (
          await runChecked(
            db('east'),
            psql('east', "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"),
          )
        ).stdout.trim() === '1',
      30_000,
      'west streaming synchronously from east',
    );

    for (const site of SITES) {
      const app = executorOn(plan, `app-${site}`);
      // over SSH the service is the process provider's on its host, as the runbooks' process.start expects
      if (options.overSsh ?? true)
        await new HostProcessGroups(app).start(processSpecFor(plan, { component: 'orders', site }).spec);
      else await runChecked(app, startOrders(dir, site, address(site), process.execPath));
    }
    if (dns !== undefined) {
      const url = `http://shop.${dns.zone}:${APP_PORT}`;
      await waitFor(
        async () => (await fetch(`http://${address('east')}:${APP_PORT}/ready`)).status === 200,
        30_000,
        'the order service at east to answer',
      );
      return new BedShop({ plan, url, router: undefined, dns, planFile, bed });
    }
    const router = await TrafficRouter.create({
      endpoints: SITES.map((site, index) => ({
        site,
        url: `http://${address(site)}:${APP_PORT}`,
        priority: index + 1,
      })),
      mode: 'priority',
      host: '127.0.0.1',
      port: routerPort,
      probe: { path: '/ready', intervalMs: 50, timeoutMs: 150, failures: 2, successes: 1 },
    });
    const shop = new BedShop({ plan, url: router.url, router, dns: undefined, planFile, bed });
    await waitFor(
      async () => (await fetch(`${router.url}/ready`).catch(() => undefined))?.status === 200,
      30_000,
      'the front door to answer',
    );
    return shop;
  }

  /** Of `ids`, the orders the site's database holds. */
  async ordersPresent(site: ShopSite, ids: readonly string[]): Promise<string[]> {
    const client = new pg.Client({
      host: this.#bed.host(site).address,
      port: PG_PORT,
      user: 'postgres',
      database: 'shop',
      connectionTimeoutMillis: 5_000,
    });
    await client.connect();
    try {
      const result = await client.query<{ id: string }>('SELECT id FROM orders WHERE id = ANY($1)', [ids]);
      return result.rows.map((row) => row.id);
    } finally {
      await client.end();
    }
  }

  /** Stops the router. What runs on the hosts (BIND too) goes with them (`NetnsBed.kill`, `close`). */
  async close(): Promise<void> {
    await this.#router?.close();
    if (this.dns !== undefined) delete process.env[SHOP_TSIG_ENV];
  }
}

const ORDERS_TABLE = `CREATE TABLE IF NOT EXISTS orders (
  seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, item TEXT NOT NULL, qty INTEGER NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now())`;

function serverConf(address: string): string[] {
  return [
    `listen_addresses = '${address}'`,
    `port = ${PG_PORT}`,
    "cluster_name = 'east'",
    "unix_socket_directories = ''",
    'wal_level = replica',
    'max_wal_senders = 10',
    'hot_standby = on',
    'wal_keep_size = 256MB',
    // every fault here is a process or network fault: the page cache survives them (see src/pg/cluster.ts)
    'fsync = off',
  ];
}

/** Starts the site's order service unless it already runs (its pid file names a live process). */
function startOrders(dir: string, site: string, address: string, node: string): string {
  const pidFile = `${dir}/app/orders-${site}.pid`;
  const env = `SITE=${site} HOST=${address} PORT=${APP_PORT} DATABASE_URL=postgres://postgres@${address}:${PG_PORT}/shop`;
  // already running: its pid is alive and not a zombie (a killed service nobody reaped still answers kill -0)
  return `S=$(ps -o stat= -p "$(cat ${pidFile} 2>/dev/null)" 2>/dev/null); case "$S" in ''|Z*) ;; *) exit 0;; esac; ${env} setsid ${node} ${ORDER_SERVICE} >> ${dir}/app/orders-${site}.log 2>&1 < /dev/null & echo $! > ${pidFile}`;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The shop's plan on the bed: hosts per site, and runbooks whose every action names its host. */
interface ShopPlanOptions {
  bed: NetnsBed;
  dir: string;
  bin: string;
  overSsh: boolean;
  node: string;
  door: { routerPort: number } | { dns: BedDns; ttl: number };
  stranded: 'save' | 'discard';
}

/** What every part of the shop's plan is written with: the sites' addresses and how an action is said. */
interface ShopPlanWords {
  o: ShopPlanOptions;
  pgDir: string;
  addr: (site: ShopSite) => string;
  /** A placement's `host:` field over SSH; nothing when the work runs here. */
  host: (name: string) => string;
  /** A command the database's OS user runs. */
  db: (command: string) => string;
  /** The step's action: the provider's over SSH, the same work as a shell command here. */
  act: (action: string, params: string, command: string) => string;
  psql: (site: ShopSite, sql: string) => string;
  fence: (site: ShopSite) => string;
}

function shopPlanWords(o: ShopPlanOptions): ShopPlanWords {
  const pgDir = `${o.dir}/pg`;
  const addr = (site: ShopSite): string => o.bed.host(site).address;
  return {
    o,
    pgDir,
    addr,
    host: (name) => (o.overSsh ? `host: ${name}, ` : ''),
    // here, drctl is root: the database's programs refuse root, so they run as its OS user, as on its host
    db: (command) => (o.overSsh ? command : `runuser -u postgres -- /bin/sh -c ${shellQuote(command)}`),
    act: (action, params, command) =>
      o.overSsh
        ? `action: ${action}\n            with: ${params}`
        : `action: shell.run\n            with: { command: ${JSON.stringify(command)} }`,
    psql: (site, sql) =>
      `${o.bin}/psql -h ${addr(site)} -p ${PG_PORT} -U postgres -d postgres -qAtc ${shellQuote(sql)}`,
    fence: (site) =>
      `P=$(head -1 ${pgDir}/${site}/postmaster.pid 2>/dev/null) || exit 0; kill -KILL $P $(pgrep -P $P) 2>/dev/null; exit 0`,
  };
}

/** The sites' hosts: a bed with a bastion lets SSH in only from it, so every host is reached through it. */
function shopSites(w: ShopPlanWords): string {
  const { bed, dir } = w.o;
  const bastion = bed.hosts.get('bastion');
  const access = `identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}`;
  // what drctl keeps on a host (pid files, logs) stays in the shop's directory
  const stateDir = (name: string): string =>
    name.startsWith('db-') ? `${w.pgDir}/${name}` : `${dir}/hosts/${name}`;
  const hostEntry = (site: ShopSite, role: 'db' | 'app'): string =>
    `${role}-${site}: { address: ${w.addr(site)}, user: ${role === 'db' ? 'postgres' : 'root'}, ${access}, state_dir: ${stateDir(`${role}-${site}`)}${bastion === undefined ? '' : ', jump: bastion'} }`;
  const bastionEntry =
    bastion === undefined ? '' : `\n      bastion: { address: ${bastion.address}, user: root, ${access} }`;
  return `sites:
  east:
    role: primary
    hosts:
      ${hostEntry('east', 'db')}
      ${hostEntry('east', 'app')}${bastionEntry}
  west:
    role: secondary
    hosts:
      ${hostEntry('west', 'db')}
      ${hostEntry('west', 'app')}`;
}

/** The database, the order service and (with the DNS door) the name, placed on the sites' hosts. */
function shopComponents(w: ShopPlanWords): string {
  const { o, addr, host } = w;
  const q = (text: string): string => JSON.stringify(text);
  const orderEnv = (site: ShopSite): string =>
    `{ SITE: ${site}, HOST: "{{host}}", PORT: "{{port}}", DATABASE_URL: "postgres://postgres@${addr(site)}:${PG_PORT}/shop" }`;
  const dnsComponent =
    'dns' in o.door
      ? `
      - id: name
        kind: dns
        placement:
          east: { server: "${o.door.dns.server}", zone: ${o.door.dns.zone}, name: shop, type: A }`
      : '';
  return `    components:
      - id: db
        kind: postgres
        placement:
          east: { ${host('db-east')}url: "postgres://postgres@${addr('east')}:${PG_PORT}/shop", data_dir: ${w.pgDir}/east }
          west: { ${host('db-west')}url: "postgres://postgres@${addr('west')}:${PG_PORT}/shop", data_dir: ${w.pgDir}/west, standby: true }
        replication: { mode: sync, from: east, to: west }
      - id: orders
        kind: process
        depends_on: [db]
        placement:
          east: { ${host('app-east')}command: ${q(`exec ${o.node} ${ORDER_SERVICE}`)}, port: ${APP_PORT}, url: "http://${addr('east')}:${APP_PORT}", env: ${orderEnv('east')} }
          west: { ${host('app-west')}command: ${q(`exec ${o.node} ${ORDER_SERVICE}`)}, port: ${APP_PORT}, url: "http://${addr('west')}:${APP_PORT}", env: ${orderEnv('west')}, standby: true }
        probe: { url: /health, interval: 50ms, timeout: 250ms, failures: 3 }${dnsComponent}`;
}

/** The last step of each runbook: wait for the router to send orders to the site, or switch the DNS record. */
function frontDoorStep(w: ShopPlanWords, site: ShopSite, needs: string): string {
  const door = w.o.door;
  if ('routerPort' in door)
    return `- id: front-door-${site}
            needs: [${needs}]
            wait: { until: { http: { url: "http://127.0.0.1:${door.routerPort}/ready", status: 200, json: { site: ${site} } } }, every: 20ms, deadline: 30s }`;
  const record = `server: "${door.dns.server}", zone: ${door.dns.zone}, name: shop, type: A`;
  return `- id: dns-${site}
            needs: [${needs}]
            action: dns.set
            with: { ${record}, values: [${w.addr(site)}], ttl: ${door.ttl}, tsig: { name: ${door.dns.key.name}, secret_env: ${SHOP_TSIG_ENV} } }
            validate:
              - { name: the zone's servers answer ${site}, check: dns.check, with: { ${record}, values: [${w.addr(site)}], within: 10s, every: 20ms } }`;
}

function failoverRunbook(w: ShopPlanWords): string {
  const { o, act, db } = w;
  return `      failover:
        description: >-
          Fencing east runs beside promoting west, not before it: with synchronous replication east cannot
          commit once west stops acknowledging, and an east that is cut off would hold the promotion up for
          its connect timeout.
        steps:
          - id: fence-east
            ${act('postgres.fence', '{ component: db, site: east, how: stop, if_unreachable: skip }', db(w.fence('east')))}
            timeout: 10s
          - id: promote-west
            ${act('postgres.promote', '{ component: db, site: west }', db(`${o.bin}/pg_ctl -D ${w.pgDir}/west promote -w -t 60`))}
            timeout: 1m
            on_failure: abort
          - id: start-orders-west
            needs: [promote-west]
            ${act('process.start', '{ component: orders, site: west }', startOrders(o.dir, 'west', w.addr('west'), o.node))}
            on_failure: abort
          ${frontDoorStep(w, 'west', 'start-orders-west')}`;
}

function failbackRunbook(w: ShopPlanWords): string {
  const { o, act, db, psql, pgDir, addr } = w;
  const { bin } = o;
  const rebuild = (site: ShopSite, from: ShopSite): string =>
    [
      `${w.fence(site).replace(/; exit 0$/, '')}`,
      `rm -rf ${pgDir}/${site}`,
      `${bin}/pg_basebackup -h ${addr(from)} -p ${PG_PORT} -U postgres -D ${pgDir}/${site} -R -X stream -c fast`,
      `printf "%s\\n" "listen_addresses = '${addr(site)}'" "synchronous_standby_names = ''" "default_transaction_read_only = off" "cluster_name = '${site}'" >> ${pgDir}/${site}/postgresql.auto.conf`,
      `${bin}/pg_ctl -D ${pgDir}/${site} -l ${pgDir}/${site}.log -w -t 60 start >/dev/null`,
    ].join('\n');
  return `      failback:
        description: >-
          ${
            o.stranded === 'save'
              ? "East's stranded writes (committed there after the failover) are saved to a reconciliation file."
              : "East's stranded writes are discarded: with synchronous replication and the fence none of them was acknowledged to a client."
          }
        steps:
          - id: rebuild-east
            ${act('postgres.rebuild', `{ component: db, site: east, from: west, stranded: ${o.stranded} }`, db(rebuild('east', 'west')))}
            timeout: 2m
            on_failure: abort
          - id: protect-west
            needs: [rebuild-east]
            action: shell.run
            with: { ${w.host('db-west')}command: ${JSON.stringify(db(`${psql('west', "ALTER SYSTEM SET synchronous_standby_names = '*'")} && ${psql('west', 'SELECT pg_reload_conf()')} && until [ "$(${psql('west', "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")})" = 1 ]; do sleep 0.05; done`))} }
            timeout: 1m
            on_failure: abort
          - id: fence-west
            needs: [protect-west]
            ${act('postgres.fence', '{ component: db, site: west, how: read-only }', db(`${psql('west', 'ALTER SYSTEM SET default_transaction_read_only = on')} && ${psql('west', 'SELECT pg_reload_conf()')} && ${psql('west', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")} >/dev/null`))}
            on_failure: abort
          - id: promote-east
            needs: [fence-west]
            ${act('postgres.promote', '{ component: db, site: east }', db(`until [ "$(${psql('east', 'SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()')})" = t ]; do sleep 0.02; done; ${bin}/pg_ctl -D ${pgDir}/east promote -w -t 60`))}
            timeout: 1m
            on_failure: abort
          - id: start-orders-east
            needs: [promote-east]
            ${act('process.start', '{ component: orders, site: east }', startOrders(o.dir, 'east', addr('east'), o.node))}
            on_failure: abort
          ${frontDoorStep(w, 'east', 'start-orders-east')}`;
}

/** The shop's plan on the bed: hosts per site, and runbooks whose every action names its host. */
function shopPlan(o: ShopPlanOptions): string {
  const w = shopPlanWords(o);
  return `# the two-site shop on a bed of hosts (generated by src/testbed/shop.ts)
version: 1
name: bed-shop
${shopSites(w)}
contacts:
  - { id: alice, name: Alice Ng, backup: bob }
  - { id: bob, name: Bob Okafor, backup: alice }
activation: { criteria: [east is lost], approvers: [alice, bob], quorum: 1 }
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    rto: 2m
    rpo: 0s
    # what a drill on this environment as it runs (environment: existing) watches and writes through
    failover: { automatic: true, detect_after: 250ms }
${
  'routerPort' in o.door
    ? `    front_door: { listen: "127.0.0.1:${o.door.routerPort}", component: orders, probe: /ready, interval: 50ms, timeout: 150ms, failures: 2, successes: 1 }
`
    : ''
}${shopComponents(w)}
    runbooks:
${failoverRunbook(w)}
${failbackRunbook(w)}
`;
}
