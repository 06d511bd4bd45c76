/**
 * What the postgres provider does to real servers, independent of plans: replication status, fencing,
 * promotion, rebuilding a former primary as a standby, base backups with WAL archiving and point-in-time
 * restore. The provider's actions resolve a plan placement and call these; the demo and drills may call
 * them directly with a URL.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../errors.ts';
import { chownToServer, runAsServer, runPgTool, type PgBinaries } from '../../pg/binaries.ts';
import { describe, one, redactUrl, toolConnection, withClient, type Subject } from '../../pg/client.ts';
import {
  logTail,
  PgServer,
  quoteConf,
  runningPostmaster,
  stopDataDir,
  type StopOutcome,
} from '../../pg/server.ts';
import { captureStrandedWrites, type Reconciliation } from './stranded.ts';
import type { ServerFiles } from './server-files.ts';
import { HostError } from '../../exec/index.ts';

/** Where a server is and what to call it in messages. */
export interface Target {
  subject: Subject;
  url: string;
}

// ---------------------------------------------------------------------------------------------- status

/** A standby as its primary sees it (pg_stat_replication). */
export interface StandbyLink {
  name: string;
  state: string;
  /** sync: commits wait for it; async: they do not; potential/quorum: PostgreSQL's other states. */
  syncState: string;
  /** WAL the primary has written that the standby has not yet flushed (what a failover would lose). */
  flushLagBytes: number;
  /** WAL the primary has written that the standby has not yet replayed (what its readers miss). */
  replayLagBytes: number;
}

export interface NodeStatus {
  site: string;
  reachable: boolean;
  role: 'primary' | 'standby' | 'unknown';
  error?: string;
  /** Read-only because it is fenced (default_transaction_read_only). */
  fenced?: boolean;
  /** On a primary: its standbys. */
  standbys?: StandbyLink[];
  /** On a standby: whether replay is paused and how far it is behind in time. */
  replayPaused?: boolean;
  /** Seconds between now and the last replayed commit when WAL is waiting to be replayed; 0 when caught up. */
  lagSeconds?: number | null;
  /** On a standby: whether its WAL receiver streams from a primary. */
  streaming?: boolean;
}

/** Role, fencing and replication of one server. Unreachable servers are reported, not thrown. */
export async function nodeStatus(target: Target): Promise<NodeStatus> {
  const site = target.subject.site;
  try {
    return await withClient(
      target.subject,
      target.url,
      async (client) => {
        const base = await one<{ in_recovery: boolean; read_only: string }>(
          client,
          "select pg_is_in_recovery() as in_recovery, current_setting('default_transaction_read_only') as read_only",
        );
        const fenced = base?.read_only === 'on';
        if (base?.in_recovery === true) {
          const row = await one<{ paused: boolean; lag_seconds: number | null; streaming: boolean }>(
            client,
            `select pg_is_wal_replay_paused() as paused,
                    case when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
                         else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end as lag_seconds,
                    exists (select 1 from pg_stat_wal_receiver where status = 'streaming') as streaming`,
          );
          return {
            site,
            reachable: true,
            role: 'standby' as const,
            fenced,
            replayPaused: row?.paused ?? false,
            lagSeconds: row?.lag_seconds ?? null,
            streaming: row?.streaming ?? false,
          };
        }
        const links = await client.query<{
          name: string;
          state: string;
          sync_state: string;
          flush_lag: string | null;
          replay_lag: string | null;
        }>(
          `select application_name as name, state, sync_state,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint::text as flush_lag,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text as replay_lag
             from pg_stat_replication order by application_name`,
        );
        return {
          site,
          reachable: true,
          role: 'primary' as const,
          fenced,
          standbys: links.rows.map((row) => ({
            name: row.name,
            state: row.state,
            syncState: row.sync_state,
            flushLagBytes: Number(row.flush_lag ?? 0),
            replayLagBytes: Number(row.replay_lag ?? 0),
          })),
        };
      },
      { timeoutMs: 3_000 },
    );
  } catch (error) {
    if (error instanceof DrctlError && error.code === 'DRCTL_PG_UNREACHABLE') {
      return { site, reachable: false, role: 'unknown', error: error.message };
    }
    throw error;
  }
}

/** Replication of a component across its sites, as one picture. */
export interface ReplicationStatus {
  nodes: NodeStatus[];
  primary: string | undefined;
  /** sync when the primary has a synchronous standby streaming; async when only asynchronous ones; none otherwise. */
  mode: 'sync' | 'async' | 'none';
  /** Worst replay lag over the standbys, as the primary sees it. Undefined when the primary is unreachable. */
  lagBytes: number | undefined;
  /** Worst time lag over the reachable standbys. */
  lagSeconds: number | undefined;
}

export async function replicationStatus(targets: readonly Target[]): Promise<ReplicationStatus> {
  const nodes = await Promise.all(targets.map((target) => nodeStatus(target)));
  const primaries = nodes.filter((node) => node.role === 'primary' && node.fenced !== true);
  const primary = primaries[0] ?? nodes.find((node) => node.role === 'primary');
  const links = primary?.standbys ?? [];
  const streaming = links.filter((link) => link.state === 'streaming');
  const mode = streaming.some((link) => link.syncState === 'sync')
    ? 'sync'
    : streaming.length > 0
      ? 'async'
      : 'none';
  const lagBytes =
    primary === undefined ? undefined : Math.max(0, ...links.map((link) => link.replayLagBytes));
  const standbyLags = nodes.filter((node) => node.role === 'standby').map((node) => node.lagSeconds ?? 0);
  return {
    nodes,
    primary: primary?.site,
    mode,
    lagBytes,
    lagSeconds: standbyLags.length === 0 ? undefined : Math.max(...standbyLags),
  };
}

// ---------------------------------------------------------------------------------------------- fence

export interface FenceOptions {
  /** read-only: the server refuses writes in every new transaction and its write sessions are cut; stop: it is shut down. */
  how: 'read-only' | 'stop';
  /** Needed for how=stop: the server's data directory, here or on its host. */
  files?: ServerFiles | undefined;
  /** skip: report an unreachable server as not fenced instead of failing. */
  ifUnreachable: 'fail' | 'skip';
}

export interface FenceResult {
  fenced: boolean;
  reachable: boolean;
  how: FenceOptions['how'];
  terminatedSessions: number;
  /** With how=stop: an immediate shutdown, or SIGKILL because the server was frozen or too slow to stop. */
  stopped?: StopOutcome;
}

export async function fence(target: Target, options: FenceOptions): Promise<FenceResult> {
  const base = { how: options.how, terminatedSessions: 0 };
  if (options.how === 'stop') {
    const files = options.files;
    if (files === undefined) {
      throw new DrctlError(
        'DRCTL_PG_NO_DATA_DIR',
        `cannot stop ${describe(target.subject)}: its placement has no data_dir`,
        {
          hint: 'add data_dir to the placement, or fence with how: read-only',
        },
      );
    }
    // A fence is on the failover's critical path and only has to end the writes: an immediate shutdown
    // does not wait for a standby the lost site may no longer reach, and what is left is rewound later.
    let stopped: StopOutcome;
    try {
      stopped = await files.stop('immediate', 5_000);
    } catch (error) {
      // the database's host cannot be reached: the same as a server that cannot be reached
      if (
        error instanceof HostError &&
        error.code === 'DRCTL_HOST_UNREACHABLE' &&
        options.ifUnreachable === 'skip'
      )
        return { ...base, fenced: false, reachable: false };
      throw error;
    }
    if (stopped === 'not-running' && options.ifUnreachable === 'fail' && !(await files.hasData())) {
      throw new DrctlError(
        'DRCTL_PG_NO_DATA_DIR',
        `cannot stop ${describe(target.subject)}: ${files.dataDir} on ${files.where} is not a PostgreSQL data directory`,
      );
    }
    return { ...base, fenced: true, reachable: stopped !== 'not-running', stopped };
  }
  try {
    const terminated = await withClient(target.subject, target.url, async (client) => {
      await client.query('alter system set default_transaction_read_only = on');
      await client.query('select pg_reload_conf()');
      const killed = await client.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
      );
      return killed.rowCount ?? 0;
    });
    // The reload is asynchronous: wait until a new session sees the setting before calling it fenced.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const readOnly = await withClient(target.subject, target.url, async (client) =>
        one<{ value: string }>(client, "select current_setting('default_transaction_read_only') as value"),
      );
      if (readOnly?.value === 'on') break;
      if (Date.now() > deadline) {
        throw new DrctlError(
          'DRCTL_PG_FENCE_FAILED',
          `${describe(target.subject)} did not become read-only after the reload`,
          {
            hint: 'check the server log; fence with how: stop instead',
          },
        );
      }
      await sleep(20);
    }
    return { ...base, fenced: true, reachable: true, terminatedSessions: terminated };
  } catch (error) {
    if (
      error instanceof DrctlError &&
      error.code === 'DRCTL_PG_UNREACHABLE' &&
      options.ifUnreachable === 'skip'
    ) {
      return { ...base, fenced: false, reachable: false };
    }
    throw error;
  }
}

/** Undo a read-only fence. */
export async function unfence(target: Target): Promise<void> {
  await withClient(target.subject, target.url, async (client) => {
    await client.query('alter system reset default_transaction_read_only');
    await client.query('select pg_reload_conf()');
  });
}

// ---------------------------------------------------------------------------------------------- promote

export interface PromoteOptions {
  /** @default 60_000 */
  timeoutMs?: number;
  /**
   * Keep synchronous_standby_names on the promoted server. Off by default: the standby it named is usually
   * the site that was just lost, and commits would wait for it for ever. @default false
   */
  keepSynchronous?: boolean;
  signal?: AbortSignal;
}

export interface PromoteResult {
  promotedInMs: number;
  clearedSynchronousStandbys: string | undefined;
  /**
   * The commit time of the last transaction the standby replayed before it was promoted: what its data is
   * current to (ISO 8601); undefined when it replayed none since it started.
   */
  dataAsOf: string | undefined;
}

export async function promote(target: Target, options: PromoteOptions = {}): Promise<PromoteResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  await withClient(
    target.subject,
    target.url,
    async (client) => {
      const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
      if (row?.in_recovery !== true) {
        throw new DrctlError(
          'DRCTL_PG_ALREADY_PRIMARY',
          `cannot promote ${describe(target.subject)}: it is not a standby (it already accepts writes)`,
          {
            hint: 'check which site is the primary with postgres.status; promote the standby site',
          },
        );
      }
      // pg_promote(true) looks for the end of recovery every 100 ms; a promotion takes tens of ms and is
      // on the failover's critical path, so ask without waiting and look every 10 ms here
      const signalled = await one<{ ok: boolean }>(client, 'select pg_promote(false) as ok');
      let promoted = signalled?.ok === true;
      for (let lastSignal = Date.now(); promoted;) {
        const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
        if (row?.in_recovery === false) break;
        if (Date.now() > started + timeoutMs || options.signal?.aborted === true) {
          promoted = false;
          break;
        }
        // A request that reaches the startup process just as its WAL stream breaks can be taken and then
        // slept through for wal_retrieve_retry_interval (5 s by default, seen with PostgreSQL 15 when the
        // fence kills the primary just before): asking again wakes it.
        if (Date.now() - lastSignal >= 100) {
          lastSignal = Date.now();
          await client.query('select pg_promote(false)').catch(() => undefined);
        }
        await sleep(10);
      }
      if (!promoted) {
        throw new DrctlError(
          'DRCTL_PG_PROMOTE_FAILED',
          `${describe(target.subject)} did not finish promotion within ${timeoutMs} ms`,
          {
            hint: 'check the server log of the standby',
          },
        );
      }
    },
    { statementTimeoutMs: timeoutMs + 5_000 },
  );
  let cleared: string | undefined;
  let dataAsOf: string | undefined;
  // pg_promote returns once recovery ended; confirm with a real write in a fresh session.
  const deadline = started + timeoutMs;
  for (;;) {
    const writable = await withClient(target.subject, target.url, async (client) => {
      // once recovery has ended, pg_last_xact_replay_timestamp() stays at the last transaction it applied
      const state = await one<{
        in_recovery: boolean;
        sync_names: string;
        read_only: string;
        replayed_at: Date | null;
      }>(
        client,
        "select pg_is_in_recovery() as in_recovery, current_setting('synchronous_standby_names') as sync_names, current_setting('default_transaction_read_only') as read_only, pg_last_xact_replay_timestamp() as replayed_at",
      );
      if (state === undefined || state.in_recovery) return false;
      dataAsOf = state.replayed_at?.toISOString();
      if (state.sync_names !== '' && options.keepSynchronous !== true) {
        cleared = state.sync_names;
        await client.query("alter system set synchronous_standby_names = ''");
      }
      if (state.read_only === 'on') await client.query('alter system reset default_transaction_read_only');
      if (cleared !== undefined || state.read_only === 'on') {
        await client.query('select pg_reload_conf()');
        return false;
      }
      await client.query('begin read write');
      await client.query('create temp table drctl_promote_probe (x int)');
      await client.query('rollback');
      return true;
    });
    if (writable) break;
    if (Date.now() > deadline || options.signal?.aborted === true) {
      throw new DrctlError(
        'DRCTL_PG_PROMOTE_FAILED',
        `${describe(target.subject)} was promoted but does not accept writes yet`,
        {
          hint: 'check default_transaction_read_only and the server log',
        },
      );
    }
    await sleep(20);
  }
  return { promotedInMs: Date.now() - started, clearedSynchronousStandbys: cleared, dataAsOf };
}

// ---------------------------------------------------------------------------------------------- rebuild

export interface LocalServer {
  binaries: PgBinaries;
  dataDir: string;
  host: string;
  port: number;
  /** Where the server's log goes. */
  logFile: string;
  /** Unix socket directory; empty for none. @default '' */
  socketDir?: string;
  /** Keep running after drctl exits. */
  persistent: boolean;
}

/** Starts a server drctl manages on this machine, such as a rebuilt standby or a restored instance. */
function startLocal(
  local: LocalServer,
  extra: { signal?: AbortSignal; noWait?: boolean },
): Promise<PgServer> {
  return PgServer.start({
    binaries: local.binaries,
    dataDir: local.dataDir,
    host: local.host,
    port: local.port,
    socketDir: local.socketDir ?? '',
    logFile: local.logFile,
    persistent: local.persistent,
    ...extra,
  });
}

export interface RebuildOptions {
  /** The server to rebuild (the former primary): its files here or on its host. */
  files: ServerFiles;
  /** The same server's files when they are on this machine: needed to save stranded writes. */
  local: LocalServer | undefined;
  /** The current primary it will follow. */
  source: Target;
  /** auto: pg_rewind, and a fresh base backup when rewinding is impossible. @default 'auto' */
  method?: 'auto' | 'rewind' | 'basebackup';
  /** Make it the synchronous standby of the source once it streams. @default false */
  synchronous?: boolean;
  /** Replication slot on the source. @default drctl_<site> */
  slot?: string;
  /** @default 60_000 */
  timeoutMs?: number;
  /**
   * Before the former primary is rewound or replaced, save what it committed after the fork (stranded.ts).
   * Without it those writes are discarded unseen.
   */
  stranded?: { oldUrl: string; scratchDir?: string };
  signal?: AbortSignal;
}

export interface RebuildResult {
  method: 'rewind' | 'basebackup';
  rewindError: string | undefined;
  /** The rebuilt server's postmaster pid, where it runs. */
  pid: number | undefined;
  synchronous: boolean;
  /** With `stranded`: the writes found on the former primary after the fork. */
  reconciliation?: Reconciliation;
}

/**
 * Turn a former primary into a standby of the current primary: stop it, pg_rewind it onto the source's
 * timeline (or take a fresh base backup when rewinding is impossible), point it at the source through a
 * replication slot, start it and wait until it streams.
 */
export async function rebuildStandby(subject: Subject, options: RebuildOptions): Promise<RebuildResult> {
  const { files, local, source } = options;
  if (options.stranded !== undefined && local === undefined)
    throw new DrctlError(
      'DRCTL_PG_STRANDED_ON_HOST',
      `cannot save what ${describe(subject)} committed after the failover: its files are on ${files.where}, and drctl reads stranded writes only on this machine`,
      {
        hint: 'rebuild with stranded: discard (with synchronous replication and a fence no acknowledged write is stranded), or run drctl on the database host',
      },
    );
  const slot = options.slot ?? `drctl_${subject.site.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  const where = describe(subject);
  await withClient(source.subject, source.url, async (client) => {
    const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
    if (row?.in_recovery !== false) {
      throw new DrctlError(
        'DRCTL_PG_NOT_PRIMARY',
        `cannot rebuild ${where} from ${describe(source.subject)}: the source is a standby, not a primary`,
        {
          hint: 'promote the source first, or rebuild from the site that is the primary',
        },
      );
    }
    await client.query(
      'select pg_create_physical_replication_slot($1) where not exists (select 1 from pg_replication_slots where slot_name = $1)',
      [slot],
    );
    // A freshly promoted server records its new timeline in its control file only at the next checkpoint;
    // before that pg_rewind sees one timeline and wrongly concludes that no rewind is needed.
    await client.query('checkpoint');
  });
  await files.stop('fast', 30_000);
  let reconciliation: Reconciliation | undefined;
  if (options.stranded !== undefined && local !== undefined) {
    try {
      reconciliation = await captureStrandedWrites(subject, {
        binaries: local.binaries,
        dataDir: local.dataDir,
        oldUrl: options.stranded.oldUrl,
        source,
        // beside the data directory: the same file system (room for the copy, and cp can reflink) and a
        // place the server's OS user can reach
        scratchDir: options.stranded.scratchDir ?? `${local.dataDir}.drctl-stranded-${process.pid}`,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (cause) {
      throw new DrctlError(
        'DRCTL_PG_STRANDED_CAPTURE_FAILED',
        `cannot tell what ${where} committed after the failover, so it was not rebuilt: ${cause instanceof Error ? cause.message : String(cause)}`,
        {
          hint: 'fix the cause and run the step again (the former primary is untouched), or rebuild with stranded: discard to throw its writes away',
          cause,
        },
      );
    }
  }
  const { conninfo, env } = toolConnection(source.url, {
    application_name: subject.site,
    dbname: 'postgres',
  });
  const method = options.method ?? 'auto';
  let used: RebuildResult['method'] = 'rewind';
  let rewindError: string | undefined;
  let rewindLog: string | undefined;
  if (method !== 'basebackup' && (await files.hasData())) {
    try {
      const rewind = await files.tool(
        'pg_rewind',
        [
          `--target-pgdata=${files.dataDir}`,
          `--source-server=${conninfo}`,
          '--write-recovery-conf',
          '--no-sync',
        ],
        {
          subject: where,
          env,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
      );
      rewindLog = rewind.stdout.trim();
    } catch (error) {
      if (method === 'rewind') throw error;
      rewindError = error instanceof Error ? error.message : String(error);
      used = 'basebackup';
    }
  } else {
    used = 'basebackup';
  }
  if (used === 'basebackup') {
    await files.remove();
    await files.tool(
      'pg_basebackup',
      ['-D', files.dataDir, '-d', conninfo, '-R', '-X', 'stream', '-S', slot, '--checkpoint=fast'],
      {
        subject: where,
        env,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
  }
  await files.makeStandby(slot);
  const server = await files.start(options.signal === undefined ? {} : { signal: options.signal });
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const row = await withClient(source.subject, source.url, (client) =>
      one<{ state: string }>(client, 'select state from pg_stat_replication where application_name = $1', [
        subject.site,
      ]),
    );
    if (row?.state === 'streaming') break;
    if (!(await server.running()) || Date.now() > deadline || options.signal?.aborted === true) {
      await server.stop();
      throw new DrctlError(
        'DRCTL_PG_REBUILD_FAILED',
        `${where} was rebuilt (${used}) but does not stream from ${describe(source.subject)}:\n${rewindLog ?? ''}\n${await files.logTail(30)}`,
        {
          hint: 'the server log above says why; the rebuilt server was stopped',
        },
      );
    }
    await sleep(50);
  }
  if (options.synchronous === true) {
    await withClient(source.subject, source.url, async (client) => {
      await client.query(
        `alter system set synchronous_standby_names = ${client.escapeLiteral(`FIRST 1 ("${subject.site}")`)}`,
      );
      await client.query('select pg_reload_conf()');
    });
  }
  return {
    method: used,
    rewindError,
    pid: server.pid,
    synchronous: options.synchronous === true,
    ...(reconciliation === undefined ? {} : { reconciliation }),
  };
}

// ---------------------------------------------------------------------------------------------- backup

/** What drctl writes beside a finished base backup. A backup without it is incomplete and never used. */
export interface BackupRecord {
  id: string;
  component: string;
  site: string;
  startedAt: string;
  finishedAt: string;
  bytes: number;
  verified: boolean;
  startWal: string | undefined;
}

const BACKUP_RECORD = 'drctl-backup.json';

export interface BaseBackupOptions {
  binaries: PgBinaries;
  /** The component's backup location: base backups go to <location>/base, archived WAL to <location>/wal. */
  location: string;
  /** Check the copy against its manifest with pg_verifybackup. @default true */
  verify?: boolean;
  /** Set the server's archive_command to ship WAL into the location. @default true */
  archive?: boolean;
  signal?: AbortSignal;
}

function dirBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += dirBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

function ensureServerDir(path: string): void {
  mkdirSync(path, { recursive: true });
  chownToServer(path);
}

/** The archive_command that ships WAL segments into `walDir`, never overwriting one already there. */
export function archiveCommand(walDir: string): string {
  const dir = walDir.replace(/'/g, `'\\''`);
  return `test ! -f '${dir}/%f' && cp %p '${dir}/%f'`;
}

/**
 * Take a base backup of a primary into a backup location and make sure WAL is archived next to it, so the
 * backup can be restored to any later point in time. The copy lands in a `.partial` directory and is
 * renamed only once complete (and verified), so an interrupted backup never looks like a backup.
 */
export async function baseBackup(
  target: Target,
  options: BaseBackupOptions,
): Promise<BackupRecord & { path: string; archiveCommand: string | undefined }> {
  const where = describe(target.subject);
  const baseDir = join(options.location, 'base');
  const walDir = join(options.location, 'wal');
  ensureServerDir(options.location);
  ensureServerDir(baseDir);
  ensureServerDir(walDir);
  // pg_basebackup and the archiver write here as the server's OS user: check it can, before anything starts.
  await runAsServer('/bin/sh', ['-c', 'test -w "$1" && test -w "$2"', 'sh', baseDir, walDir]).catch(
    (cause: unknown) => {
      throw new DrctlError(
        'DRCTL_PG_BACKUP_LOCATION',
        `cannot back up ${where}: the backup location ${options.location} is not writable by the database server's OS user`,
        {
          hint: 'make the location (and every directory above it) reachable and writable by that user, or pick another location',
          cause,
        },
      );
    },
  );
  let command: string | undefined;
  if (options.archive !== false) {
    command = archiveCommand(walDir);
    await withClient(target.subject, target.url, async (client) => {
      const row = await one<{ mode: string; command: string }>(
        client,
        "select current_setting('archive_mode') as mode, current_setting('archive_command') as command",
      );
      if (row?.mode === 'off') {
        throw new DrctlError('DRCTL_PG_ARCHIVE_OFF', `cannot archive WAL of ${where}: archive_mode is off`, {
          hint: 'set archive_mode = on in postgresql.conf and restart the server once; drctl sets archive_command itself',
        });
      }
      if (row?.command !== command) {
        await client.query(`alter system set archive_command = ${client.escapeLiteral(command ?? '')}`);
        await client.query('select pg_reload_conf()');
      }
    });
  }
  const started = new Date();
  const id = started
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.(\d+)Z$/, '$1Z');
  const partial = join(baseDir, `${id}.partial`);
  const final = join(baseDir, id);
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  const connection = toolConnection(target.url);
  try {
    await runPgTool(
      options.binaries,
      'pg_basebackup',
      ['-D', partial, '-d', connection.conninfo, '-X', 'stream', '--checkpoint=fast'],
      {
        subject: where,
        env: connection.env,
        ...signalOption,
      },
    );
    let verified = false;
    if (options.verify !== false) {
      await runPgTool(options.binaries, 'pg_verifybackup', ['--quiet', partial], {
        subject: where,
        ...signalOption,
      });
      verified = true;
    }
    const label = readFileSync(join(partial, 'backup_label'), 'utf8');
    const record: BackupRecord = {
      id,
      component: target.subject.component,
      site: target.subject.site,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      bytes: dirBytes(partial),
      verified,
      startWal: /START WAL LOCATION: (\S+)/.exec(label)?.[1],
    };
    writeFileSync(join(partial, BACKUP_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    renameSync(partial, final);
    return { ...record, path: final, archiveCommand: command };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Finished base backups in a location, newest first. */
export function listBackups(location: string): Array<BackupRecord & { path: string }> {
  const baseDir = join(location, 'base');
  if (!existsSync(baseDir)) return [];
  const backups: Array<BackupRecord & { path: string }> = [];
  for (const name of readdirSync(baseDir)) {
    if (name.endsWith('.partial')) continue;
    const recordFile = join(baseDir, name, BACKUP_RECORD);
    if (!existsSync(recordFile)) continue;
    try {
      backups.push({
        ...(JSON.parse(readFileSync(recordFile, 'utf8')) as BackupRecord),
        path: join(baseDir, name),
      });
    } catch {
      // A record that does not parse marks a backup we cannot trust; skip it.
    }
  }
  return backups.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
}

/** Ask the server to close its current WAL segment and wait until the archiver has shipped it. */
export async function flushWalArchive(target: Target, timeoutMs = 30_000): Promise<string> {
  return withClient(target.subject, target.url, async (client) => {
    const switched = await one<{ wal: string }>(client, 'select pg_walfile_name(pg_switch_wal()) as wal');
    const wanted = switched?.wal ?? '';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await one<{ last: string | null; failed: string | null }>(
        client,
        'select last_archived_wal as last, last_failed_wal as failed from pg_stat_archiver',
      );
      if (row?.last !== null && row?.last !== undefined && row.last >= wanted) return wanted;
      if (Date.now() > deadline) {
        throw new DrctlError(
          'DRCTL_PG_ARCHIVE_FAILED',
          `WAL segment ${wanted} of ${describe(target.subject)} was not archived in time (last failed: ${row?.failed ?? 'none'})`,
          {
            hint: 'check archive_command and that the backup location is writable by the server',
          },
        );
      }
      await sleep(50);
    }
  });
}

// ---------------------------------------------------------------------------------------------- restore

export interface RestoreOptions {
  /** The component's backup location (as given to baseBackup). */
  location: string;
  /** Recover up to this moment: commits at or before it are kept, later ones are not. */
  targetTime: Date;
  /**
   * Stop just before this transaction instead (recovery_target_xid, not inclusive): every commit before it
   * is kept, it and what came after are not. `targetTime` then only picks the base backup (one that ended
   * before it), so pass the moment the transaction began.
   */
  beforeXid?: string;
  /** The new instance; its data directory must not exist or be empty. */
  local: LocalServer;
  /** @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RestoreResult {
  backup: BackupRecord & { path: string };
  server: PgServer;
  url: string;
  recoveredInMs: number;
}

/** The recovery_target_* settings: before a transaction, or up to a moment. */
function recoveryTarget(target: { targetTime: Date; beforeXid?: string | undefined }): string[] {
  if (target.beforeXid !== undefined) {
    return [`recovery_target_xid = ${quoteConf(target.beforeXid)}`, "recovery_target_inclusive = 'off'"];
  }
  // recovery_target_time does not take ISO 8601's "T" and "Z".
  return [
    `recovery_target_time = ${quoteConf(target.targetTime.toISOString().replace('T', ' ').replace('Z', '+00'))}`,
  ];
}

/**
 * Restore a base backup into a new instance and replay archived WAL up to `targetTime`, then promote it.
 * The new instance does not archive (it must not write into the location it was restored from).
 * On failure the new instance is stopped and its data directory removed: a half-restored database is
 * never left looking like a restore.
 */
export async function restorePointInTime(
  subject: Subject,
  url: string,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const where = describe(subject);
  const { local } = options;
  if (existsSync(local.dataDir) && readdirSync(local.dataDir).length > 0) {
    throw new DrctlError(
      'DRCTL_PG_RESTORE_TARGET_NOT_EMPTY',
      `cannot restore ${where} into ${local.dataDir}: the directory already holds data`,
      {
        hint: 'restore into a new, empty directory; drctl never overwrites a data directory',
      },
    );
  }
  if (runningPostmaster(local.dataDir) !== undefined) {
    throw new DrctlError(
      'DRCTL_PG_RESTORE_TARGET_NOT_EMPTY',
      `cannot restore ${where} into ${local.dataDir}: a server runs there`,
    );
  }
  const candidates = listBackups(options.location).filter(
    (backup) => new Date(backup.finishedAt) <= options.targetTime,
  );
  const backup = candidates[0];
  if (backup === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NO_BACKUP',
      `no finished base backup of ${where} in ${options.location} ends before ${options.targetTime.toISOString()}`,
      {
        hint: 'take a base backup first (postgres.basebackup), or pick a later target time',
      },
    );
  }
  const started = Date.now();
  const createdDir = !existsSync(local.dataDir);
  let server: PgServer | undefined;
  try {
    if (createdDir) mkdirSync(local.dataDir, { recursive: true });
    chownToServer(local.dataDir);
    await runAsServer('/bin/cp', ['-a', `${backup.path}/.`, local.dataDir], { subject: where });
    rmSync(join(local.dataDir, BACKUP_RECORD), { force: true });
    chmodSync(local.dataDir, 0o700);
    const walDir = join(options.location, 'wal').replace(/'/g, `'\\''`);
    appendFileSync(
      join(local.dataDir, 'postgresql.auto.conf'),
      [
        '# drctl point-in-time restore',
        `restore_command = ${quoteConf(`cp '${walDir}/%f' %p`)}`,
        ...recoveryTarget(options),
        "recovery_target_action = 'promote'",
        "archive_mode = 'off'",
        "synchronous_standby_names = ''",
        "primary_conninfo = ''",
        "primary_slot_name = ''",
        '',
      ].join('\n'),
    );
    rmSync(join(local.dataDir, 'standby.signal'), { force: true });
    writeFileSync(join(local.dataDir, 'recovery.signal'), '');
    chownToServer(join(local.dataDir, 'recovery.signal'));
    server = await startLocal(local, { noWait: true });
    const deadline = started + (options.timeoutMs ?? 120_000);
    for (;;) {
      if (!server.running) {
        throw new DrctlError(
          'DRCTL_PG_RESTORE_FAILED',
          `restoring ${where} to ${options.targetTime.toISOString()} failed:\n${logTail(local.logFile)}`,
          {
            hint: 'the server log above says why; a target after the newest archived WAL cannot be reached',
          },
        );
      }
      const done = await withClient(
        subject,
        url,
        async (client) => (await one<{ r: boolean }>(client, 'select pg_is_in_recovery() as r'))?.r === false,
        {
          timeoutMs: 1_000,
        },
      ).catch(() => false);
      if (done) break;
      if (Date.now() > deadline || options.signal?.aborted === true) {
        throw new DrctlError(
          'DRCTL_PG_RESTORE_FAILED',
          `restoring ${where} to ${options.targetTime.toISOString()} did not finish in time:\n${logTail(local.logFile)}`,
        );
      }
      await sleep(50);
    }
    return { backup, server, url, recoveredInMs: Date.now() - started };
  } catch (error) {
    await server?.kill();
    if (createdDir) rmSync(local.dataDir, { recursive: true, force: true });
    else
      for (const name of readdirSync(local.dataDir))
        rmSync(join(local.dataDir, name), { recursive: true, force: true });
    throw error;
  }
}

export { redactUrl };

// ---------------------------------------------------------------------------------------------- delayed standby

export interface DelayedRecoveryOptions {
  /** The delayed standby, on this machine. */
  local: LocalServer;
  /** Stop before this transaction (not inclusive), or at this moment. */
  target: { targetTime: Date; beforeXid?: string };
  /** @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DelayedRecoveryResult {
  server: PgServer;
  recoveredInMs: number;
  /** The apply delay it had (ms). */
  delayMs: number;
  /** The last transaction it replayed before stopping, and when it had committed. */
  lastReplayedAt: string | null;
}

/**
 * Recover a delayed standby (recovery_min_apply_delay) to a point before damage it has received but not
 * yet applied: restart it with a recovery target and no delay, let it replay up to the target, promote it.
 * WAL it holds is replayed only up to the target, so a bad transaction still waiting out the delay never
 * lands.
 */
export async function recoverDelayedStandby(
  target: Target,
  options: DelayedRecoveryOptions,
): Promise<DelayedRecoveryResult> {
  const where = describe(target.subject);
  const started = Date.now();
  const state = await withClient(target.subject, target.url, (client) =>
    one<{ in_recovery: boolean; delay: string }>(
      client,
      "select pg_is_in_recovery() as in_recovery, current_setting('recovery_min_apply_delay') as delay",
    ),
  );
  if (state?.in_recovery !== true) {
    throw new DrctlError(
      'DRCTL_PG_NOT_STANDBY',
      `${where} is not a standby: there is no delay to recover from`,
      {
        hint: 'name the delayed standby site',
      },
    );
  }
  const delayMs = pgDurationMs(state.delay);
  await stopDataDir(options.local.dataDir);
  appendFileSync(
    join(options.local.dataDir, 'postgresql.auto.conf'),
    [
      '# drctl: recover the delayed standby to before the damage',
      ...recoveryTarget(options.target),
      "recovery_target_action = 'promote'",
      "recovery_min_apply_delay = '0'",
      '',
    ].join('\n'),
  );
  const server = await startLocal(options.local, {
    noWait: true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const deadline = started + (options.timeoutMs ?? 120_000);
  let lastReplayedAt: string | null = null;
  for (;;) {
    const row = await withClient(
      target.subject,
      target.url,
      (client) =>
        one<{ r: boolean; last: Date | null }>(
          client,
          'select pg_is_in_recovery() as r, pg_last_xact_replay_timestamp() as last',
        ),
      { timeoutMs: 1_000 },
    ).catch(() => undefined);
    if (row?.r === false) {
      lastReplayedAt = row.last === null ? null : new Date(row.last).toISOString();
      break;
    }
    if (!server.running || Date.now() > deadline || options.signal?.aborted === true) {
      throw new DrctlError(
        'DRCTL_PG_RESTORE_FAILED',
        `recovering the delayed standby ${where} did not finish:\n${logTail(options.local.logFile)}`,
        {
          hint: 'the server log above says why; a target the standby has not received yet cannot be reached',
        },
      );
    }
    await sleep(50);
  }
  return { server, recoveredInMs: Date.now() - started, delayMs, lastReplayedAt };
}

/** A duration setting as PostgreSQL shows it (`500ms`, `30s`, `1min`, `1h`, `1d`, `0`), in ms. */
export function pgDurationMs(text: string): number {
  const match = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(text.trim());
  if (match === null) return 0;
  const factor = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * factor;
}
