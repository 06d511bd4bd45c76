/**
 * Ten failovers of the state database during runs, with two live instances: the driver keeps its run
 * through each (no takeover: a holder's lease is judged on the promoted server only once it had time to
 * renew there), no step starts or runs twice, and every run finishes and verifies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { stopAll } from '../engine/cli-process.ts';
import { storeFailoverTrials } from './store-failovers.ts';

afterAll(stopAll);

describe.skipIf(!pgAvailable())('drctl serve through failovers of its PostgreSQL store', () => {
  it('keeps each run with its live driver through 10 promotions, no step doubled, every run verified', async () => {
    const trials = await storeFailoverTrials(Number(process.env.DRCTL_TRIALS ?? 10));
    console.log(
      `store failover, primary lost → next step: ${trials.map((t) => Math.round(t.lossToNextStepMs)).join(', ')} ms`,
    );
    console.log(trials.map((t) => t.drivers.join('→')).join(' | '));
    expect(trials.map((t) => t.takeovers)).toEqual(Array(trials.length).fill(0));
    expect(trials.flatMap((t) => t.doubled)).toEqual([]);
    expect(trials.map((t) => t.status)).toEqual(Array(trials.length).fill('succeeded'));
    expect(trials.every((t) => t.verified)).toBe(true);
  }, 600_000);
});
