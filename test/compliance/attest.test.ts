import { describe, expect, it } from 'vitest';
import { FINDINGS } from '../../src/analysis/index.ts';
import { STRATEGIES, STRATEGY_GUIDES } from '../../src/plan/strategies.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const PLAN = 'examples/two-site/plan.yaml';

describe('drctl attest', () => {
  it('records what a person vouches for, shows it in compliance, and lets it expire after the review interval', async () => {
    const state = tempDir();
    const recorded = await runCli(
      'attest',
      PLAN,
      '--state',
      state,
      '--workload',
      'shop',
      '--item',
      'communication-plan',
      '--by',
      'alice',
      '--note',
      'bridge call tested',
      '--now',
      '2026-12-01',
      '--json',
    );
    expect(recorded.code).toBe(0);
    expect(JSON.parse(recorded.stdout)).toMatchObject({
      workload: 'shop',
      item: 'communication-plan',
      by: 'alice',
      note: 'bridge call tested',
      at: '2026-12-01T00:00:00.000Z',
    });

    const listed = await runCli('attest', PLAN, '--state', state, '--now', '2026-12-02', '--json');
    const items = JSON.parse(listed.stdout) as Array<{ item: string; status: string; expiresAt: string }>;
    expect(items.find((i) => i.item === 'communication-plan')).toMatchObject({
      status: 'ok',
      expiresAt: '2027-12-01T00:00:00.000Z',
    });
    expect(items.filter((i) => i.status === 'missing').map((i) => i.item)).toContain('secure-dr-environment');

    const later = await runCli('compliance', PLAN, '--state', state, '--now', '2028-01-01', '--json');
    const report = JSON.parse(later.stdout) as { attestations: Array<{ item: string; status: string }> };
    expect(report.attestations.find((a) => a.item === 'communication-plan')?.status).toBe('expired');
  });

  it('refuses an item a rule checks, naming the ones a person attests', async () => {
    const result = await runCli(
      'attest',
      PLAN,
      '--state',
      tempDir(),
      '--workload',
      'shop',
      '--item',
      'continuous-replication',
      '--by',
      'alice',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_ATTEST_UNKNOWN');
    expect(result.stderr).toContain('communication-plan');
  });

  it('names an existing analysis finding for every action a rule checks', () => {
    for (const strategy of STRATEGIES)
      for (const action of STRATEGY_GUIDES[strategy].actions)
        if (action.checkedBy !== undefined)
          expect(Object.keys(FINDINGS), action.id).toContain(action.checkedBy);
  });
});
