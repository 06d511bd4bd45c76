/**
 * Test support for the postgres provider: a compiled plan whose `db` component is placed on a PgCluster's
 * nodes, and an action context that collects evidence.
 */
import type { Component, Placement, Plan, ReplicationMode } from '../../plan/model.ts';
import { AT, testPlan } from '../testing.ts';
import type { PgCluster } from '../../pg/cluster.ts';

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
