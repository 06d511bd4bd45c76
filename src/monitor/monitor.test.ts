import { describe, expect, it } from 'vitest';
import { inFlightLimit } from './monitor.ts';

describe('probe scheduling', () => {
  it('lets enough probes overlap for one to start every interval, within a bound', () => {
    expect(inFlightLimit({ intervalMs: 50, timeoutMs: 250 })).toBe(5);
    expect(inFlightLimit({ intervalMs: 500, timeoutMs: 500 })).toBe(1);
    expect(inFlightLimit({ intervalMs: 1_000, timeoutMs: 500 })).toBe(1);
    expect(inFlightLimit({ intervalMs: 10, timeoutMs: 5_000 })).toBe(8);
  });
});
