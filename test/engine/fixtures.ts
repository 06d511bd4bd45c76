/** Plans and engines for the engine tests: real YAML through the real loader, a real SQLite store. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Engine } from '../../src/engine/index.ts';
import type { EngineOptions } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';

export const CONTACTS = [
  { id: 'alice', name: 'Alice Ng', role: 'DR lead', backup: 'bob' },
  { id: 'bob', name: 'Bob Li', backup: 'alice', roles: ['approver'] },
  { id: 'carol', name: 'Carol Diaz', backup: 'bob', roles: ['approver'] },
  { id: 'dave', name: 'Dave Ora', backup: 'carol' },
];

/** A plan with one workload `shop` and one runbook `failover` made of `steps`, written into `dir`. */
export function writePlan(dir: string, steps: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'plan.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      name: 'engine test',
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: CONTACTS,
      workloads: [
        { id: 'shop', tier: 1, strategy: 'hot-standby', owner: 'alice', runbooks: { failover: { steps } } },
      ],
      ...extra,
    }),
  );
  return file;
}

export interface Bench {
  dir: string;
  stateDir: string;
  planFile: string;
  plan: Plan;
  store: RunStore;
  engine: Engine;
}

export async function setup(
  steps: unknown[],
  options: Partial<EngineOptions> & { extra?: Record<string, unknown> } = {},
): Promise<Bench> {
  const dir = tempDir('drctl-engine-');
  const planFile = writePlan(dir, steps, options.extra);
  const plan = await loadPlan(planFile);
  const stateDir = join(dir, '.drctl');
  const store = await openStore(stateDir);
  const engine = new Engine({ store, providers, stateDir, pollMs: 20, ...options });
  return { dir, stateDir, planFile, plan, store, engine };
}
