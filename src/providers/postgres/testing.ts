/**
 * Test support for the postgres provider: a compiled plan whose `db` component is placed on a PgCluster's
 * nodes, and an action context that collects evidence.
 */
import { pino } from 'pino';
import type { Component, Placement, Plan, ReplicationMode } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';
import type { PgCluster } from './cluster.ts';

const AT = { file: 'plan.yaml', line: 1, column: 1 };

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
  return {
    version: 1,
    name: 'test',
    description: undefined,
    hash: 'test',
    files: [],
    baseDir: options.baseDir,
    review: { intervalMs: 365 * 86_400_000, last: undefined, by: undefined, at: AT },
    sites: cluster.nodes.map((node, index) => ({
      id: node.site,
      role: index === 0 ? 'primary' : 'secondary',
      description: undefined,
      location: undefined,
      at: AT,
    })),
    tiers: {
      0: {
        tier: 0,
        name: 'Mission critical',
        slo: '99.99%',
        rtoMs: 3_600_000,
        rpoMs: 300_000,
        source: 'test',
      },
      1: {
        tier: 1,
        name: 'Business critical',
        slo: '99.95%',
        rtoMs: 14_400_000,
        rpoMs: 3_600_000,
        source: 'test',
      },
      2: {
        tier: 2,
        name: 'Business operational',
        slo: '99.9%',
        rtoMs: 86_400_000,
        rpoMs: 14_400_000,
        source: 'test',
      },
      3: {
        tier: 3,
        name: 'Administrative',
        slo: '99.5%',
        rtoMs: 259_200_000,
        rpoMs: 86_400_000,
        source: 'test',
      },
    },
    contacts: [],
    activation: undefined,
    communications: {
      statusPageWithinMs: 900_000,
      updatesEveryMs: 1_800_000,
      rootCauseWithinMs: 259_200_000,
      templates: [],
    },
    secrets: { env: [], file: undefined },
    workloads: [
      {
        id: 'shop',
        name: 'shop',
        description: undefined,
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        rtoMs: 3_600_000,
        rpoMs: options.rpoMs ?? 5_000,
        objectivesFrom: { rto: 'plan', rpo: 'plan' },
        flows: [],
        signoff: undefined,
        automaticFailover: true,
        detectAfterMs: 1_000,
        components: [component],
        runbooks: [],
        at: AT,
      },
    ],
    drills: {
      schedule: { tabletop: 0, partial: 0, full: 0, 'backup-restore': 0 },
      scenarios: [],
      history: [],
    },
    at: AT,
  };
}

export interface TestContext extends ActionContext {
  recorded: Map<string, unknown>;
}

export function contextFor(plan: Plan, stateDir: string): TestContext {
  const recorded = new Map<string, unknown>();
  return {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan,
    stateDir,
    recorded,
    evidence(name, value) {
      recorded.set(name, value);
    },
  };
}
