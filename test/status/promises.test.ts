import { describe, expect, it } from 'vitest';
import { communicationPromises } from '../../src/status/index.ts';
import type { Incident } from '../../src/status/index.ts';

const CADENCE = {
  statusPageWithinMs: 15 * 60_000,
  updatesEveryMs: 30 * 60_000,
  rootCauseWithinMs: 72 * 3_600_000,
};
const at = (minutes: number): string =>
  new Date(Date.UTC(2026, 11, 6, 10, 0) + minutes * 60_000).toISOString();

function incident(updates: Array<[number, string]>, resolvedAfter?: number): Incident {
  return {
    id: 'i1',
    kind: 'incident',
    title: 'Shop: failover',
    state: resolvedAfter === undefined ? 'identified' : 'resolved',
    components: ['db'],
    componentState: 'down',
    run: undefined,
    openedAt: at(0),
    resolvedAt: resolvedAfter === undefined ? undefined : at(resolvedAfter),
    startsAt: undefined,
    endsAt: undefined,
    updates: updates.map(([minutes, body]) => ({ at: at(minutes), state: 'identified', body, by: 'drctl' })),
  };
}

describe("seed 004's communication promises", () => {
  it('are met when the page was updated in time, often enough, and the root cause came within 72 hours', () => {
    const kept = incident(
      [
        [5, 'Failing over'],
        [30, 'Still failing over'],
        [50, 'Back'],
        [48 * 60, 'Root cause: a disk'],
      ],
      55,
    );
    expect(
      communicationPromises(kept, CADENCE, new Date(at(49 * 60))).map((p) => [
        p.promise,
        p.status,
        p.observedMs,
      ]),
    ).toEqual([
      ['status-page', 'met', 5 * 60_000],
      ['updates', 'met', 25 * 60_000],
      ['root-cause', 'met', 48 * 3_600_000],
    ]);
  });

  it('are missed by a late first update and a 40-minute silence, and pending for a root cause still in time', () => {
    const late = incident([
      [20, 'Looking into it'],
      [60, 'Failing over'],
    ]);
    expect(communicationPromises(late, CADENCE, new Date(at(70))).map((p) => [p.promise, p.status])).toEqual([
      ['status-page', 'missed'],
      ['updates', 'missed'],
      ['root-cause', 'pending'],
    ]);
    // three days later, still no root cause
    expect(communicationPromises(late, CADENCE, new Date(at(73 * 60)))[2]?.status).toBe('missed');
  });
});
