/**
 * The PostgreSQL provider: replication status and lag, fencing, promotion, rebuilding a former primary for
 * failback, base backups with WAL archiving, point-in-time restore, `sql:` validation queries and
 * readiness facts, for components of kind `postgres`.
 *
 * Parameters name a component and a site; the placement there gives the `url` and, for what drctl must do
 * on the server's files (stop, rebuild, restore), the provider fields `data_dir` and `bin_dir`.
 * See docs/providers/postgres.md. The actions live by concern: failover-actions.ts, rebuild-actions.ts,
 * backup-actions.ts, queries.ts (query, checks, readiness) and preflight.ts; what they do to servers is
 * in operations/.
 */
import type { Component } from '../../plan/model.ts';
import type { ActionContext, Provider } from '../provider.ts';
import { basebackupAction, corruptAction, recoverDelayedAction, restoreAction } from './backup-actions.ts';
import { fenceAction, promoteAction, status, unfenceAction } from './failover-actions.ts';
import { postgresIsolation } from './isolation.ts';
import { runQuery } from './placement.ts';
import { connects, restoreCapacity, serverPrograms, standbyStreaming } from './preflight.ts';
import { queryAction, readiness, streamingCheck, writableCheck } from './queries.ts';
import { rebuildAction, reconcileAction } from './rebuild-actions.ts';

export {
  PgCluster,
  PgNode,
  freePort,
  slotName,
  type PgClusterOptions,
  type ClusterReplicationMode,
} from '../../pg/cluster.ts';
export { PgServer, stopDataDir, type PgServerOptions } from '../../pg/server.ts';
export { findPgBinaries, pgAvailable, type PgBinaries } from '../../pg/binaries.ts';
export * from './operations/index.ts';
export * from './canary.ts';
export * from './stranded.ts';

export const postgresProvider = {
  name: 'postgres',
  description:
    'PostgreSQL: replication status, fencing, promotion, failback rebuild, base backups with WAL archiving, point-in-time restore.',
  kinds: ['postgres'],
  drill: { starts: 'pg-cluster', field: 'data_dir' },
  actions: {
    status,
    fence: fenceAction,
    unfence: unfenceAction,
    promote: promoteAction,
    rebuild: rebuildAction,
    reconcile: reconcileAction,
    basebackup: basebackupAction,
    'restore-pitr': restoreAction,
    corrupt: corruptAction,
    'recover-delayed': recoverDelayedAction,
    query: queryAction,
  },
  checks: { writable: writableCheck, streaming: streamingCheck },
  query: (component: Component, site: string, sql: string, ctx: ActionContext) =>
    runQuery(ctx.plan, component.id, site, sql),
  readiness,
  isolation: postgresIsolation,
  preflight: {
    status: [connects],
    fence: [connects],
    unfence: [connects],
    promote: [connects, standbyStreaming],
    query: [connects],
    rebuild: [serverPrograms],
    reconcile: [connects],
    basebackup: [connects, serverPrograms],
    'restore-pitr': [serverPrograms, ...restoreCapacity],
  },
} satisfies Provider;

export default postgresProvider;
