/**
 * A provider whose one action does nothing, and plans of its steps as a chain or a fan-out: what the
 * engine benchmarks measure is then the scheduler and the journal, on whichever store they are given.
 */
import { tmpdir } from 'node:os';
import { z } from 'zod';
import type { Plan, Runbook, Step } from '../src/plan/index.ts';
import { defineAction } from '../src/providers/index.ts';
import type { Provider } from '../src/providers/index.ts';

const at = { file: 'bench', line: 1, column: 1 };

export const noop = {
  name: 'noop',
  description: 'does nothing',
  kinds: [],
  actions: {
    pass: defineAction({
      description: 'nothing',
      params: z.object({}),
      idempotent: true,
      evidence: [],
      run: async () => ({ summary: 'ok' }),
    }),
  },
  checks: {},
} satisfies Provider;

function step(id: string, needs: string[]): Step {
  return {
    id,
    name: id,
    description: undefined,
    kind: 'action',
    needs,
    prerequisite: undefined,
    owner: undefined,
    expectedMs: 1,
    contingencyMs: 0,
    timeoutMs: undefined,
    retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
    idempotent: true,
    run: undefined,
    action: 'noop.pass',
    call: { provider: 'noop', name: 'pass', params: {} },
    with: {},
    manual: undefined,
    approval: undefined,
    wait: undefined,
    validate: [],
    evidence: [],
    onFailure: 'abort',
    escalateTo: undefined,
    undo: undefined,
    at,
  };
}

export function noopPlan(shape: 'chain' | 'fan-out', count: number): Plan {
  const steps = Array.from({ length: count }, (_, index) =>
    step(`s${index}`, index === 0 ? [] : shape === 'chain' ? [`s${index - 1}`] : ['s0']),
  );
  const runbook: Runbook = {
    workload: 'bench',
    name: shape,
    kind: 'custom',
    description: undefined,
    prerequisites: [],
    postRequisites: [],
    steps,
    at,
  };
  return {
    version: 1,
    name: 'bench',
    description: undefined,
    hash: `bench-${shape}`,
    files: ['bench.yaml'],
    baseDir: tmpdir(),
    review: { intervalMs: 0, last: undefined, by: undefined, at },
    sites: [],
    tiers: {} as Plan['tiers'],
    contacts: [],
    activation: undefined,
    communications: {
      statusPageWithinMs: 0,
      updatesEveryMs: 0,
      rootCauseWithinMs: 0,
      consoleUrl: '',
      channels: [],
      templates: [],
    },
    secrets: { env: [], file: undefined },
    workloads: [
      {
        id: 'bench',
        name: 'bench',
        description: undefined,
        tier: 3,
        strategy: 'backup-restore',
        owner: 'bench',
        rtoMs: 0,
        rpoMs: 0,
        objectivesFrom: { rto: 'tier', rpo: 'tier' },
        flows: [],
        signoff: undefined,
        automaticFailover: false,
        detectAfterMs: 0,
        components: [],
        runbooks: [runbook],
        at,
      },
    ],
    drills: { schedule: {} as Plan['drills']['schedule'], scenarios: [], blackouts: [], history: [] },
    at,
  };
}
