/**
 * Test support shared by the providers' tests: a compiled plan of one workload built from the plan's own
 * defaults, and an action context that collects evidence. Providers' own fixtures add their components.
 */
import { pino } from 'pino';
import {
  CADENCE_DEFAULTS,
  CONSOLE_URL_DEFAULT,
  DRILL_SCHEDULE_DEFAULTS,
  REVIEW_INTERVAL_DEFAULT_MS,
  TIER_DEFAULTS,
} from '../plan/defaults.ts';
import type { Plan, Site, Workload } from '../plan/model.ts';
import type { ActionContext } from './provider.ts';

export const AT = { file: 'plan.yaml', line: 1, column: 1 };

/** A workload `shop` owned by alice; the test says what differs. */
export type TestWorkload = Pick<Workload, 'strategy' | 'rtoMs' | 'rpoMs' | 'components'> & Partial<Workload>;

export function testPlan(options: { baseDir: string; sites: string[]; workload: TestWorkload }): Plan {
  const sites: Site[] = options.sites.map((id, index) => ({
    id,
    role: index === 0 ? 'primary' : 'secondary',
    description: undefined,
    location: undefined,
    hosts: [],
    at: AT,
  }));
  const workload: Workload = {
    id: 'shop',
    name: 'shop',
    description: undefined,
    tier: 1,
    owner: 'alice',
    objectivesFrom: { rto: 'plan', rpo: 'plan' },
    flows: [],
    signoff: undefined,
    automaticFailover: false,
    detectAfterMs: 60_000,
    runbooks: [],
    at: AT,
    ...options.workload,
  };
  return {
    version: 1,
    name: 'test',
    description: undefined,
    hash: 'test',
    files: [],
    baseDir: options.baseDir,
    review: { intervalMs: REVIEW_INTERVAL_DEFAULT_MS, last: undefined, by: undefined, at: AT },
    sites,
    tiers: structuredClone(TIER_DEFAULTS),
    contacts: [],
    activation: undefined,
    communications: {
      ...CADENCE_DEFAULTS,
      consoleUrl: CONSOLE_URL_DEFAULT,
      channels: [],
      templates: [],
    },
    secrets: { env: [], file: undefined },
    workloads: [workload],
    drills: { schedule: { ...DRILL_SCHEDULE_DEFAULTS }, scenarios: [], blackouts: [], history: [] },
    at: AT,
  };
}

export interface TestContext extends ActionContext {
  recorded: Map<string, unknown>;
}

export function testContext(plan: Plan, stateDir: string): TestContext {
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
