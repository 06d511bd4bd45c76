/**
 * Rehearsal controls without a drill: choosing part of a runbook (`--steps`), and the engine running a
 * run with the other steps journaled skipped, so what needs them goes on.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runView } from '../../src/engine/index.ts';
import { stepsNotChosen } from '../../src/drill/rehearsal.ts';
import { loadPlan } from '../../src/plan/load.ts';
import { setup } from '../engine/fixtures.ts';
import { TWO_SITE } from './support.ts';

describe('rehearsing part of a runbook', async () => {
  const plan = await loadPlan(join(TWO_SITE, 'plan.yaml'));
  const failover = plan.workloads[0]!.runbooks.find((r) => r.name === 'failover')!;

  it('chooses a range in runbook order, an open range, or a list, and leaves out the rest with why', () => {
    expect([...stepsNotChosen(failover, 'promote-west..start-orders-west').keys()]).toEqual([
      'fence-east',
      'front-door-west',
      'verify-front-door',
    ]);
    expect([...stepsNotChosen(failover, 'front-door-west..').keys()]).toEqual([
      'fence-east',
      'promote-west',
      'start-orders-west',
    ]);
    const listed = stepsNotChosen(failover, 'fence-east, verify-front-door');
    expect([...listed.keys()]).toEqual(['promote-west', 'start-orders-west', 'front-door-west']);
    expect(listed.get('promote-west')).toBe(
      'not part of this rehearsal (--steps fence-east, verify-front-door)',
    );
  });

  it('refuses a step the runbook lacks, naming its steps, and a range written backwards', () => {
    expect(() => stepsNotChosen(failover, 'promote-west..promote-east')).toThrow(
      expect.objectContaining({
        code: 'DRCTL_DRILL_UNKNOWN_STEP',
        hint: expect.stringContaining('fence-east, promote-west, start-orders-west'),
      }),
    );
    expect(() => stepsNotChosen(failover, 'start-orders-west..fence-east')).toThrow(
      expect.objectContaining({ code: 'DRCTL_DRILL_UNKNOWN_STEP' }),
    );
  });

  it('runs only the chosen steps; a step whose need was left out still runs', async () => {
    const bench = await setup([
      { id: 'a', run: 'true' },
      { id: 'b', run: 'true', needs: ['a'] },
      { id: 'c', run: 'true', needs: ['b'] },
    ]);
    try {
      const driver = await bench.engine.start({
        plan: bench.plan,
        runbook: 'failover',
        startedBy: 'alice',
        skip: new Map([['b', 'not part of this rehearsal']]),
      });
      expect((await driver.done).status).toBe('succeeded');
      const view = runView(await bench.store.readJournal(driver.runId), undefined);
      expect(view.steps.map((s) => [s.id, s.status])).toEqual([
        ['a', 'succeeded'],
        ['b', 'skipped'],
        ['c', 'succeeded'],
      ]);
    } finally {
      await bench.store.close();
    }
  });
});
