import { describe, expect, it } from 'vitest';
import { EndpointHealth } from './health.ts';

const thresholds = { failures: 3, successes: 2, flapLimit: 3, flapWindowMs: 60_000, holdDownMs: 30_000 };

function feed(health: EndpointHealth, results: boolean[], start = 0, step = 1_000): number {
  let now = start;
  for (const ok of results) {
    health.observe(ok, now);
    now += step;
  }
  return now;
}

describe('endpoint health', () => {
  it('lets the first probe decide the state at start', () => {
    const up = new EndpointHealth(thresholds);
    expect(up.observe(true, 0)).toMatchObject({ from: 'unknown', to: 'up' });
    const down = new EndpointHealth(thresholds);
    expect(down.observe(false, 0, 'ECONNREFUSED')).toMatchObject({
      from: 'unknown',
      to: 'down',
      reason: 'first probe failed: ECONNREFUSED',
    });
  });

  it('marks an endpoint down only after the configured consecutive failures', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [true, false, false]);
    expect(health.state).toBe('up');
    const transition = health.observe(false, 3_000);
    expect(transition).toMatchObject({ from: 'up', to: 'down', since: 1_000 });
  });

  it('does not go down when a success breaks the run of failures', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [true, false, false, true, false, false, true]);
    expect(health.state).toBe('up');
  });

  it('needs the configured consecutive successes to come back up', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [false, true, false, true]);
    expect(health.state).toBe('down');
    expect(health.observe(true, 10_000)).toMatchObject({ from: 'down', to: 'up' });
  });

  it('holds a flapping endpoint out of rotation until it stays healthy through the hold-down', () => {
    const health = new EndpointHealth(thresholds);
    // up, then three downs and recoveries inside the flap window
    let now = feed(health, [true]);
    for (let flap = 0; flap < 2; flap += 1) now = feed(health, [false, false, false, true, true], now);
    expect(health.state).toBe('up');
    now = feed(health, [false, false, false, true], now);
    const transition = health.observe(true, now);
    expect(transition).toMatchObject({ to: 'suppressed' });
    expect(health.suppressedUntil).toBe(now + thresholds.holdDownMs);
    expect(health.observe(true, now + 29_000)).toBeUndefined();
    expect(health.observe(true, now + 30_000)).toMatchObject({ from: 'suppressed', to: 'up' });
  });

  it('forgets downs older than the flap window', () => {
    const health = new EndpointHealth(thresholds);
    let now = feed(health, [true]);
    for (let flap = 0; flap < 3; flap += 1)
      now = feed(health, [false, false, false, true, true], now, 10_000);
    expect(health.state).toBe('up');
  });

  it('sends a suppressed endpoint back down on a failed probe', () => {
    const health = new EndpointHealth({ ...thresholds, flapLimit: 1 });
    const now = feed(health, [true, false, false, false, true, true]);
    expect(health.state).toBe('suppressed');
    expect(health.observe(false, now)).toMatchObject({ from: 'suppressed', to: 'down' });
  });
});

describe('endpoint health: passive (live traffic)', () => {
  it('takes an up endpoint out at once and lets only probes sent afterwards bring it back', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [true]);
    expect(health.suspect(5_000, 'ECONNRESET')).toMatchObject({
      from: 'up',
      to: 'suspect',
      reason: 'live traffic failed: ECONNRESET',
    });
    // a probe sent before the failure and answered after it proves nothing
    expect(health.observe(true, 5_100, '', 4_900)).toBeUndefined();
    expect(health.observe(true, 5_200, '', 5_150)).toBeUndefined();
    expect(health.state).toBe('suspect');
    expect(health.observe(true, 5_300, '', 5_250)).toMatchObject({ from: 'suspect', to: 'up' });
  });

  it('goes down from suspect after the configured failed probes, and ignores failures when not up', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [true]);
    health.suspect(1_000, 'ECONNREFUSED');
    expect(health.suspect(1_001, 'ECONNREFUSED')).toBeUndefined();
    feed(health, [false, false], 1_100, 100);
    expect(health.state).toBe('suspect');
    expect(health.observe(false, 1_300)).toMatchObject({ from: 'suspect', to: 'down' });
    expect(health.suspect(1_400, 'ECONNREFUSED')).toBeUndefined();
  });

  it('counts each time live traffic took it out towards flap damping', () => {
    const health = new EndpointHealth(thresholds);
    feed(health, [true]);
    let now = 1_000;
    for (let i = 0; i < 2; i += 1) {
      health.suspect(now, 'ECONNREFUSED');
      now = feed(health, [true, true], now + 10, 10);
      expect(health.state).toBe('up');
    }
    health.suspect(now, 'ECONNREFUSED');
    feed(health, [true, true], now + 10, 10);
    expect(health.state).toBe('suppressed');
  });
});
