import { describe, expect, it } from 'vitest';
import { SiteLossDetector } from './detector.ts';
import type { DetectorTransition } from './detector.ts';

function detector(detectAfterMs = 1_000, failures = 3): SiteLossDetector {
  return new SiteLossDetector({
    workload: 'shop',
    detectAfterMs,
    components: [{ id: 'api', failures }],
    watchedSites: ['east'],
    sites: ['east', 'west'],
  });
}

/** Feeds one probe result per site every `every` ms from `from`; `eastOk(t)` says whether east answers at t. */
function feed(
  d: SiteLossDetector,
  from: number,
  to: number,
  every: number,
  eastOk: (t: number) => boolean,
  westOk: (t: number) => boolean = () => true,
): DetectorTransition[] {
  const out: DetectorTransition[] = [];
  for (let t = from; t < to; t += every) {
    out.push(...d.observe({ component: 'api', site: 'west', ok: westOk(t), startedAt: t, at: t + 5 }));
    out.push(...d.observe({ component: 'api', site: 'east', ok: eastOk(t), startedAt: t, at: t + 5 }));
  }
  return out;
}

describe('site-loss detector', () => {
  it('confirms a loss only after the window and the failure count, dating it from the first failed probe', () => {
    const d = detector(1_000, 3);
    const out = feed(d, 0, 3_000, 100, (t) => t < 500);
    const types = out.map((t) => t.type);
    expect(types).toEqual(['site-suspect', 'site-lost']);
    const lost = out.find((t) => t.type === 'site-lost');
    expect(lost).toMatchObject({ site: 'east', firstFailureAt: 500, answering: ['west'] });
    expect(lost?.type === 'site-lost' && lost.confirmedAt).toBe(1_505);
    expect(d.state('east')).toBe('lost');
  });

  it('needs the failure count even when the window is short', () => {
    const d = detector(10, 5);
    const out = feed(d, 0, 1_000, 100, (t) => t < 200);
    const lost = out.find((t) => t.type === 'site-lost');
    // failures at 200, 300, 400, 500, 600: the fifth confirms
    expect(lost?.type === 'site-lost' && lost.confirmedAt).toBe(605);
  });

  it('never confirms a failure shorter than the window: one success resets it', () => {
    const d = detector(1_000, 3);
    // 900 ms of failures, one success, 900 ms more: never 1 s in a row
    const out = feed(d, 0, 3_000, 100, (t) =>
      !(t >= 500 && t < 1_400) && !(t >= 1_500 && t < 2_400) ? true : false,
    );
    expect(out.map((t) => t.type)).toEqual([
      'site-suspect',
      'site-recovered',
      'site-suspect',
      'site-recovered',
    ]);
    expect(out.every((t) => t.type !== 'site-recovered' || !t.wasLost)).toBe(true);
  });

  it('does not confirm while no other site answers, and says so once', () => {
    const d = detector(500, 3);
    const out = feed(
      d,
      0,
      2_000,
      100,
      () => false,
      () => false,
    );
    expect(out.map((t) => t.type)).toEqual(['site-suspect', 'site-suspect', 'site-unconfirmed']);
    expect(d.state('east')).toBe('suspect');
    // west comes back: east's loss is confirmed at once
    const later = feed(
      d,
      2_000,
      2_100,
      100,
      () => false,
      () => true,
    );
    expect(later.map((t) => t.type).sort()).toEqual(['site-lost', 'site-recovered']);
  });

  it('never fails over because the standby is lost', () => {
    const d = detector(300, 3);
    const out = feed(
      d,
      0,
      2_000,
      100,
      () => true,
      () => false,
    );
    expect(out.map((t) => t.type)).toEqual(['site-suspect']);
    expect(d.state('west')).toBe('suspect');
  });

  it('reports a recovery after a confirmed loss with how long the site was down', () => {
    const d = detector(300, 3);
    const out = feed(d, 0, 2_000, 100, (t) => t < 500 || t >= 1_500);
    expect(out.map((t) => t.type)).toEqual(['site-suspect', 'site-lost', 'site-recovered']);
    expect(out.at(-1)).toMatchObject({
      type: 'site-recovered',
      wasLost: true,
      firstFailureAt: 500,
      downMs: 1_005,
    });
  });

  describe('with overlapping probes (results out of order)', () => {
    /**
     * A probe starts every `every` ms at both sites; a failing one reports when its timeout ends, a passing
     * one at once. Results are fed in the order they arrive, as the monitor sees them.
     */
    function overlapping(
      d: SiteLossDetector,
      to: number,
      every: number,
      timeout: number,
      eastOk: (t: number) => boolean,
    ): DetectorTransition[] {
      const results: Parameters<SiteLossDetector['observe']>[0][] = [];
      for (let t = 0; t < to; t += every) {
        results.push({ component: 'api', site: 'west', ok: true, startedAt: t, at: t + 2 });
        const ok = eastOk(t);
        results.push({ component: 'api', site: 'east', ok, startedAt: t, at: t + (ok ? 2 : timeout) });
      }
      results.sort((a, b) => a.at - b.at);
      return results.flatMap((r) => d.observe(r));
    }

    it('confirms a hung site one interval per failure after the first timeout', () => {
      const d = detector(250, 3);
      // hung from 1,000 on: probes at 1,000, 1,050 and 1,100 time out at 1,250, 1,300 and 1,350
      const out = overlapping(d, 3_000, 50, 250, (t) => t < 1_000);
      const lost = out.find((t) => t.type === 'site-lost');
      expect(lost).toMatchObject({ firstFailureAt: 1_000, confirmedAt: 1_350 });
    });

    it('ignores a timeout that started before a later probe passed', () => {
      // even one failure would do: the spike's timeouts all arrive after the site answered again
      const d = detector(250, 1);
      const out = overlapping(d, 3_000, 50, 250, (t) => !(t >= 1_000 && t < 1_083));
      expect(out).toEqual([]);
      expect(d.state('east')).toBe('up');
    });

    it('confirms a hung site after the window when silent probes count from their deadline', () => {
      const d = detector(250, 3);
      const results: Parameters<SiteLossDetector['observe']>[0][] = [];
      for (let t = 0; t < 2_000; t += 50) {
        results.push({ component: 'api', site: 'west', ok: true, startedAt: t, at: t + 2 });
        // east hangs from 1,000: each probe is reported silent at 150 ms and then times out at 250 ms
        if (t < 1_000) results.push({ component: 'api', site: 'east', ok: true, startedAt: t, at: t + 2 });
        else
          for (const after of [150, 250])
            results.push({ component: 'api', site: 'east', ok: false, startedAt: t, at: t + after });
      }
      results.sort((a, b) => a.at - b.at);
      const out = results.flatMap((r) => d.observe(r));
      const lost = out.find((t) => t.type === 'site-lost');
      // silent probes of 1,000, 1,050 and 1,100 by 1,250: the window and the count both hold then
      expect(lost).toMatchObject({ firstFailureAt: 1_000, confirmedAt: 1_250 });
      expect(lost?.type === 'site-lost' && lost.reason).toContain('failed 3 probes in a row');
    });

    it('counts a probe reported silent and then timed out once', () => {
      const d = detector(100, 2);
      d.observe({ component: 'api', site: 'west', ok: true, startedAt: 0, at: 1 });
      d.observe({ component: 'api', site: 'east', ok: true, startedAt: 0, at: 1 });
      d.observe({ component: 'api', site: 'east', ok: false, startedAt: 50, at: 150 });
      expect(d.observe({ component: 'api', site: 'east', ok: false, startedAt: 50, at: 300 })).toEqual([]);
      expect(d.state('east')).toBe('suspect');
    });

    it('does not let a slow pass reset the failures that started after it', () => {
      const d = detector(100, 2);
      const at = (startedAt: number, ok: boolean, reported: number) =>
        d.observe({ component: 'api', site: 'east', ok, startedAt, at: reported });
      d.observe({ component: 'api', site: 'west', ok: true, startedAt: 0, at: 1 });
      at(0, true, 1);
      at(100, false, 102);
      at(150, false, 152);
      // the probe of 50 took 200 ms and passed: older news than the failures of 100 and 150
      expect(at(50, true, 250).map((t) => t.type)).toEqual(['site-lost']);
    });
  });
});
