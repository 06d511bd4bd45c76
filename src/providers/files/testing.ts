/**
 * Test support for the backup providers: a compiled plan with the components a test needs, an action
 * context that collects evidence, and temporary directories that are removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupPolicy, Component, Placement, Plan, Retention } from '../../plan/model.ts';
import { AT, testPlan } from '../testing.ts';

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
      host: undefined,
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
  return testPlan({
    baseDir,
    sites: ['east', 'west'],
    workload: {
      strategy: 'warm-standby',
      rtoMs: 14_400_000,
      rpoMs,
      objectivesFrom: { rto: 'tier', rpo: 'plan' },
      components,
    },
  });
}

export { testContext as makeContext, type TestContext } from '../testing.ts';

/** A fresh temporary directory and its removal, for `beforeEach`/`afterEach`. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `drctl-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
