import { describe, expect, it } from 'vitest';
import { inFlightLimit, silenceDeadline } from './monitor.ts';

describe('probe scheduling', () => {
  it('lets enough probes overlap for one to start every interval, within a bound', () => {
    expect(inFlightLimit({ intervalMs: 50, timeoutMs: 250 })).toBe(5);
    expect(inFlightLimit({ intervalMs: 500, timeoutMs: 500 })).toBe(1);
    expect(inFlightLimit({ intervalMs: 1_000, timeoutMs: 500 })).toBe(1);
    expect(inFlightLimit({ intervalMs: 10, timeoutMs: 5_000 })).toBe(8);
  });

  it('counts a silent probe as failed in time for the window, never before half its timeout', () => {
    // the two-site plans: 3 probes 50 ms apart are all counted 250 ms after the first started
    expect(silenceDeadline({ intervalMs: 50, timeoutMs: 250, failures: 3 }, 250)).toBe(150);
    expect(silenceDeadline({ intervalMs: 50, timeoutMs: 250, failures: 3 }, 120)).toBe(125);
    // the plan defaults (1 s, 500 ms, 3, window 3 s): only a timeout is a failure
    expect(silenceDeadline({ intervalMs: 1_000, timeoutMs: 500, failures: 3 }, 3_000)).toBeUndefined();
    expect(silenceDeadline({ intervalMs: 50, timeoutMs: 250, failures: 3 }, undefined)).toBeUndefined();
  });
});
