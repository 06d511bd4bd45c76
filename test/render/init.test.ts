import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/index.ts';
import { STRATEGIES, TIERS } from '../../src/plan/schema.ts';
import { STRATEGY_GUIDES } from '../../src/plan/strategies.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

describe('drctl init', () => {
  const root = tempDir();

  describe.each(TIERS.flatMap((tier) => STRATEGIES.map((strategy) => [tier, strategy] as const)))(
    'tier %s, %s',
    (tier, strategy) => {
      it('writes a plan that validates, with the strategy suggested actions as steps to fill in', async () => {
        const dir = join(root, `${tier}-${strategy}`);
        const result = await runCli(
          'init',
          dir,
          '--tier',
          String(tier),
          '--strategy',
          strategy,
          '--name',
          'svc',
        );
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        const plan = await loadPlan(join(dir, 'plan.yaml'));
        const workload = plan.workloads[0]!;
        expect(workload).toMatchObject({ tier, strategy });
        const setup = workload.runbooks.find((r) => r.name === 'setup')!;
        const guide = STRATEGY_GUIDES[strategy];
        expect(setup.steps.map((s) => s.id)).toEqual(guide.actions.map((a) => a.id));
        for (const [index, step] of setup.steps.entries()) {
          expect(step.kind).toBe('manual');
          expect(step.evidence).toEqual(guide.actions[index]!.validation);
        }
        const recovery = workload.runbooks.map((r) => r.name);
        expect(recovery).toEqual(
          strategy === 'backup-restore' ? ['restore', 'setup'] : ['failover', 'failback', 'setup'],
        );
      });
    },
  );

  it('picks the strategy seed 002 suggests for the tier when none is given', async () => {
    const dir = join(root, 'suggested');
    const result = await runCli('init', dir, '--tier', '3');
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'plan.yaml'), 'utf8')).toContain('strategy: backup-restore');
  });

  it('never overwrites an existing plan', async () => {
    const dir = join(root, 'twice');
    expect((await runCli('init', dir, '--tier', '1')).code).toBe(0);
    const before = readFileSync(join(dir, 'plan.yaml'), 'utf8');
    const again = await runCli('init', dir, '--tier', '2', '--strategy', 'cold-standby');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /^DRCTL_INIT_EXISTS .*plan\.yaml already exists; drctl init never overwrites a plan\n {2}hint: /,
    );
    expect(readFileSync(join(dir, 'plan.yaml'), 'utf8')).toBe(before);
  });

  it('refuses an unknown tier or strategy with exit code 2', async () => {
    const badTier = await runCli('init', join(root, 'bad-tier'), '--tier', '5');
    expect(badTier.code).toBe(2);
    expect(badTier.stderr).toContain('DRCTL_INIT_TIER tier must be 0, 1, 2 or 3, not "5"');
    const badStrategy = await runCli(
      'init',
      join(root, 'bad-strategy'),
      '--tier',
      '1',
      '--strategy',
      'pilot-light',
    );
    expect(badStrategy.code).toBe(2);
    expect(badStrategy.stderr).toContain('DRCTL_INIT_STRATEGY unknown strategy "pilot-light"');
  });
});
