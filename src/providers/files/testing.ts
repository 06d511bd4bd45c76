/**
 * Test support for the backup providers: a compiled plan with the components a test needs, an action
 * context that collects evidence, and temporary directories that are removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { BackupPolicy, Component, Placement, Plan, Retention } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';

const AT = { file: 'plan.yaml', line: 1, column: 1 };

export interface ComponentSpec {
  id: string;
  kind: string;
  /** Site → path of the data there; the first site is the primary. */
  placement: Record<string, string>;
  backup?: { to: string; path: string; keep?: Retention; verifyEveryMs?: number };
}

export function makePlan(baseDir: string, specs: ComponentSpec[], rpoMs = 3_600_000): Plan {
  const components: Component[] = specs.map((spec) => {
    const placement: Placement[] = Object.entries(spec.placement).map(([site, path], index) => ({
      site,
      standby: index > 0,
      url: undefined,
      path,
      command: undefined,
      fields: { path },
      at: AT,
    }));
    const backups: BackupPolicy[] =
      spec.backup === undefined
        ? []
        : [
            {
              everyMs: 3_600_000,
              type: 'incremental',
              to: spec.backup.to,
              path: spec.backup.path,
              media: 'disk',
              keep: spec.backup.keep ?? { daily: 7, weekly: 4, monthly: 12, yearly: 7 },
              verifyEveryMs: spec.backup.verifyEveryMs ?? 30 * 86_400_000,
              immutable: false,
              at: AT,
            },
          ];
    return {
      id: spec.id,
      workload: 'shop',
      name: spec.id,
      kind: spec.kind,
      description: undefined,
      tier: 1,
      strategy: 'warm-standby',
      placement,
      dependsOn: [],
      references: [],
      probe: undefined,
      replication: undefined,
      backups,
      recoveryMs: undefined,
      at: AT,
    };
  });
  return {
    version: 1,
    name: 'test',
    description: undefined,
    hash: 'test',
    files: [join(baseDir, 'plan.yaml')],
    baseDir,
    review: { intervalMs: 365 * 86_400_000, last: undefined, by: undefined, at: AT },
    sites: [
      { id: 'east', role: 'primary', description: undefined, location: undefined, at: AT },
      { id: 'west', role: 'secondary', description: undefined, location: undefined, at: AT },
    ],
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
        strategy: 'warm-standby',
        owner: 'alice',
        rtoMs: 14_400_000,
        rpoMs,
        objectivesFrom: { rto: 'tier', rpo: 'plan' },
        flows: [],
        signoff: undefined,
        automaticFailover: false,
        detectAfterMs: 60_000,
        components,
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

export function makeContext(plan: Plan, stateDir: string): TestContext {
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

/** A fresh temporary directory and its removal, for `beforeEach`/`afterEach`. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `drctl-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
