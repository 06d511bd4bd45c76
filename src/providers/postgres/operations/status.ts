/** Role, fencing and replication of PostgreSQL servers, read over SQL; unreachable servers are reported. */
import { DrctlError } from '../../../errors.ts';
import { one, withClient } from '../../../pg/client.ts';
import type { Target } from './target.ts';

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
