/**
 * Throw-away PostgreSQL clusters on this machine, for tests, `drctl demo`, drills and benchmarks: a primary
 * made with initdb and standbys made with `pg_basebackup -R` (streaming replication through a replication
 * slot), synchronous or asynchronous, each on a free 127.0.0.1 port, all in one temporary directory.
 * `close()` stops every server and removes the directory; a server is also killed if the process exits
 * without closing (see server.ts).
 *
 *   const cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
 *   cluster.node('east').url   // postgres://postgres:…@127.0.0.1:PORT/drctl
 *   await cluster.node('east').kill();
 *   await cluster.close();
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../errors.ts';
import { freePort } from '../system/ports.ts';
import { chownToServer, findPgBinaries, runPgTool, type PgBinaries } from './binaries.ts';
import { one, toolConnection, withClient } from './client.ts';
import { PgServer, quoteConf, runningPostmaster } from './server.ts';

export { freePort };

export type ClusterReplicationMode = 'sync' | 'async';

export interface PgClusterOptions {
  /** Site names; the first holds the primary, the others a standby each. @default ['east', 'west'] */
  sites?: readonly string[];
  /** sync: a commit returns once the first standby has flushed it; async: at once. @default 'async' */
  mode?: ClusterReplicationMode;
  /** Database created on the primary. @default 'drctl' */
  database?: string;
  /** Superuser password (user `postgres`). @default random */
  password?: string;
  /** Directory of the server programs. @default found by findPgBinaries() */
  binDir?: string;
  /**
   * fsync on the servers. Off by default because every fault drctl injects here is a process fault
   * (SIGKILL, SIGSTOP, a cut connection): the kernel's page cache survives those, so what a commit
   * acknowledged is still there and the synchronous-mode "no acknowledged write lost" claim is as honest
   * as with fsync on. Only a simulated machine or power loss would need it on. @default false
   */
  fsync?: boolean;
  /** Parent of the cluster's temporary directory. @default os.tmpdir() */
  parentDir?: string;
  /** Extra settings for every server's postgresql.conf. */
  settings?: Record<string, string>;
}

const openClusters = new Set<PgCluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Servers the cluster started die with the process (server.ts); this catches the ones actions started.
  process.on('exit', () => {
    for (const cluster of openClusters) {
      try {
        cluster.killStrays();
        rmSync(cluster.dir, { recursive: true, force: true });
      } catch {
        // Best effort while exiting.
      }
    }
  });
}

/** One site's server in a cluster. Its role (primary or standby) can change through failover. */
export class PgNode {
  readonly site: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly #cluster: PgCluster;
  #server: PgServer | undefined;

  constructor(cluster: PgCluster, site: string, port: number) {
    this.#cluster = cluster;
    this.site = site;
    this.port = port;
    this.dataDir = join(cluster.dir, site, 'data');
    this.logFile = join(cluster.dir, site, 'postgres.log');
  }

  /** Superuser URL of the cluster's database on this node. */
  get url(): string {
    return this.urlFor(this.#cluster.database);
  }

  urlFor(database: string, user = 'postgres', password = this.#cluster.password): string {
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  get running(): boolean {
    return this.#server?.running === true;
  }

  /** The postmaster pid while it runs. */
  get pid(): number | undefined {
    return this.running ? this.#server?.pid : undefined;
  }

  /** Start the server (again) and wait until it accepts connections. */
  async start(options: { wait?: boolean } = {}): Promise<void> {
    if (this.running) return;
    this.#server = await PgServer.start({
      binaries: this.#cluster.binaries,
      dataDir: this.dataDir,
      port: this.port,
      socketDir: join(this.#cluster.dir, this.site),
      logFile: this.logFile,
      noWait: options.wait === false,
    });
  }

  /** Fast shutdown. */
  async stop(): Promise<void> {
    await this.#server?.stop();
  }

  /** SIGKILL the postmaster and its backends. */
  async kill(): Promise<void> {
    await this.#server?.kill();
  }

  /** Forget the running server without stopping it (a provider action now owns the data directory). */
  adopt(server: PgServer | undefined): void {
    this.#server = server;
  }
}

export class PgCluster {
  readonly dir: string;
  readonly binaries: PgBinaries;
  readonly password: string;
  readonly database: string;
  readonly mode: ClusterReplicationMode;
  readonly nodes: PgNode[] = [];
  readonly #options: PgClusterOptions;

  private constructor(options: PgClusterOptions, binaries: PgBinaries) {
    this.#options = options;
    this.binaries = binaries;
    this.password = options.password ?? randomBytes(12).toString('hex');
    this.database = options.database ?? 'drctl';
    this.mode = options.mode ?? 'async';
    this.dir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'drctl-pg-'));
    openClusters.add(this);
    installExitHook();
    // initdb, pg_basebackup and the servers run as the `postgres` user when drctl is root.
    chownToServer(this.dir);
  }

  /** A primary on the first site and a standby on each other site, replicating and running. */
  static async create(options: PgClusterOptions = {}): Promise<PgCluster> {
    const sites = options.sites ?? ['east', 'west'];
    const [primarySite, ...standbySites] = sites;
    if (primarySite === undefined)
      throw new DrctlError('DRCTL_PG_CLUSTER_SITES', 'a cluster needs at least one site');
    const cluster = new PgCluster(options, findPgBinaries(options.binDir));
    try {
      await cluster.#initPrimary(primarySite);
      for (const site of standbySites) await cluster.addStandby(site, primarySite);
      if (cluster.mode === 'sync' && standbySites.length > 0)
        await cluster.setSynchronous(primarySite, standbySites);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  node(site: string): PgNode {
    const node = this.nodes.find((candidate) => candidate.site === site);
    if (node === undefined)
      throw new DrctlError('DRCTL_PG_CLUSTER_SITES', `the cluster has no node at site ${site}`);
    return node;
  }

  async #initPrimary(site: string): Promise<PgNode> {
    const node = new PgNode(this, site, await freePort());
    this.nodes.push(node);
    await this.#makeSiteDir(site);
    const pwfile = join(this.dir, site, 'pwfile');
    writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    chownToServer(pwfile);
    await runPgTool(
      this.binaries,
      'initdb',
      [
        '-D',
        node.dataDir,
        '-U',
        'postgres',
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '--no-instructions',
        // Durability of the template files does not matter: the cluster lives in a temporary directory.
        '--no-sync',
      ],
      { subject: `site ${site}` },
    );
    rmSync(pwfile);
    const settings: Record<string, string> = {
      wal_level: 'replica',
      max_wal_senders: '10',
      max_replication_slots: '10',
      // pg_rewind needs hint bits WAL-logged (or data checksums) to rebuild a former primary.
      wal_log_hints: 'on',
      hot_standby: 'on',
      hot_standby_feedback: 'on',
      wal_receiver_status_interval: '1s',
      // Archiving is switched on here because it needs a restart; the archive_command is set by the
      // postgres.basebackup action, and until then WAL segments are kept for it.
      archive_mode: 'on',
      fsync: this.#options.fsync === true ? 'on' : 'off',
      shared_buffers: '32MB',
      max_connections: '60',
      ...this.#options.settings,
    };
    appendFileSync(
      join(node.dataDir, 'postgresql.conf'),
      `\n# drctl test cluster\n${Object.entries(settings)
        .map(([name, value]) => `${name} = ${quoteConf(value)}`)
        .join('\n')}\n`,
    );
    await node.start();
    await withClient({ component: 'cluster', site }, node.urlFor('postgres'), async (client) => {
      await client.query(`create database "${this.database.replace(/"/g, '""')}"`);
    });
    return node;
  }

  async #makeSiteDir(site: string): Promise<void> {
    mkdirSync(join(this.dir, site), { recursive: true });
    chownToServer(join(this.dir, site));
  }

  /** Make a standby of `from` at `site` with pg_basebackup -R and a replication slot, and start it. */
  async addStandby(site: string, from: string): Promise<PgNode> {
    const node = new PgNode(this, site, await freePort());
    this.nodes.push(node);
    await this.#makeSiteDir(site);
    return this.#makeStandby(node, from);
  }

  /**
   * Make the node at `site` (a stopped or lost former primary) a standby of `from` again, on the same
   * port, from a fresh base backup: what an operator does after a failover to get a standby back.
   */
  async rebuildStandby(site: string, from: string): Promise<PgNode> {
    const node = this.node(site);
    await node.kill();
    rmSync(node.dataDir, { recursive: true, force: true });
    // a slot of the same name left on `from` (it was this site's primary before) would refuse -C
    await withClient({ component: 'cluster', site: from }, this.node(from).url, (client) =>
      client.query(
        'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
        [slotName(site)],
      ),
    );
    return this.#makeStandby(node, from);
  }

  async #makeStandby(node: PgNode, from: string): Promise<PgNode> {
    const { site } = node;
    const source = this.node(from);
    const connection = toolConnection(source.urlFor('postgres'), { application_name: site });
    await runPgTool(
      this.binaries,
      'pg_basebackup',
      [
        '-D',
        node.dataDir,
        '-d',
        connection.conninfo,
        '-R',
        '-X',
        'stream',
        '-C',
        '-S',
        slotName(site),
        '--checkpoint=fast',
        '--no-sync',
      ],
      { subject: `site ${site}`, env: connection.env },
    );
    await node.start();
    await this.waitStreaming(from, site);
    return node;
  }

  /**
   * Makes the standby at site `standby` stream from `primary` through `port` on 127.0.0.1 (a fault proxy in
   * front of the primary), so a fault between the sites cuts replication too. The WAL receiver reconnects
   * at once; this returns when it streams again.
   */
  async replicateThrough(primary: string, standby: string, port: number): Promise<void> {
    const sender = () =>
      withClient({ component: 'cluster', site: primary }, this.node(primary).url, (client) =>
        one<{ pid: number; state: string }>(
          client,
          'select pid, state from pg_stat_replication where application_name = $1',
          [standby],
        ),
      );
    const before = (await sender())?.pid;
    await withClient({ component: 'cluster', site: standby }, this.node(standby).url, async (client) => {
      const row = await one<{ conninfo: string }>(client, 'select current_setting($1) as conninfo', [
        'primary_conninfo',
      ]);
      const conninfo = row?.conninfo ?? '';
      if (!/\bport=\d+/.test(conninfo))
        throw new DrctlError('DRCTL_PG_CLUSTER_SITES', `the standby at site ${standby} has no primary port`);
      await client.query(
        `alter system set primary_conninfo = ${client.escapeLiteral(conninfo.replace(/\bport=\d+/, `port=${port}`))}`,
      );
      await client.query('select pg_reload_conf()');
    });
    // the WAL receiver restarts when primary_conninfo changes: wait for a new sender that streams
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = await sender();
      if (now !== undefined && now.pid !== before && now.state === 'streaming') return;
      if (Date.now() > deadline)
        throw new DrctlError(
          'DRCTL_PG_TIMEOUT',
          `the standby at site ${standby} did not stream from site ${primary} through port ${port} in time`,
          { hint: `see ${this.node(standby).logFile}` },
        );
      await sleep(50);
    }
  }

  /** Commits on `primary` wait until the first of `standbys` has flushed them. */
  async setSynchronous(primary: string, standbys: readonly string[]): Promise<void> {
    const names = standbys.map((name) => `"${name}"`).join(', ');
    await withClient({ component: 'cluster', site: primary }, this.node(primary).url, async (client) => {
      await client.query(
        `alter system set synchronous_standby_names = ${client.escapeLiteral(`FIRST 1 (${names})`)}`,
      );
      await client.query('select pg_reload_conf()');
    });
    await this.waitStreaming(primary, standbys[0] ?? '', 'sync');
  }

  /** Wait until `standby` streams from `primary` (and is its synchronous standby when asked). */
  async waitStreaming(
    primary: string,
    standby: string,
    syncState?: 'sync',
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await withClient(
        { component: 'cluster', site: primary },
        this.node(primary).url,
        (client) =>
          one<{ state: string; sync_state: string }>(
            client,
            'select state, sync_state from pg_stat_replication where application_name = $1',
            [standby],
          ),
      );
      if (row?.state === 'streaming' && (syncState === undefined || row.sync_state === syncState)) return;
      if (Date.now() > deadline) {
        throw new DrctlError(
          'DRCTL_PG_TIMEOUT',
          `the standby at site ${standby} did not start streaming from site ${primary} in time`,
          {
            hint: `see ${this.node(standby).logFile}`,
          },
        );
      }
      await sleep(50);
    }
  }

  /**
   * Stop every server (SIGKILL: the data is thrown away) and remove the directory. Servers that provider
   * actions started on the cluster's data directories (a rebuilt standby, a restore) go too.
   */
  async close(): Promise<void> {
    openClusters.delete(this);
    await Promise.all(this.nodes.map((node) => node.kill()));
    this.killStrays();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILL every postmaster whose data directory lies in this cluster's directory. */
  killStrays(): void {
    for (const site of readdirSync(this.dir, { withFileTypes: true })) {
      if (!site.isDirectory()) continue;
      for (const entry of readdirSync(join(this.dir, site.name))) {
        const pid = runningPostmaster(join(this.dir, site.name, entry));
        if (pid === undefined) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }
      }
    }
  }
}

/** The replication slot a standby at `site` uses on its primary. */
export function slotName(site: string): string {
  return `drctl_${site.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
}
