import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { drillTrend, renderTrendsHtml } from '../../src/drill/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import type { DrillReportRecord } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';

const WARM = join(import.meta.dirname, '../../examples/two-site/warm-standby.yaml');

/** A stored drill whose restore-west took `restoreMs` and whose front door switched after 40 ms. */
function stored(i: number, restoreMs: number): DrillReportRecord {
  const step = (kind: string, at: number, id: string) => ({
    kind,
    at,
    step: id,
    runbook: 'failover',
    detail: '',
  });
  return {
    id: `d${i}`,
    workload: 'shop',
    scenario: 'east-killed',
    planHash: undefined,
    startedAt: new Date(Date.UTC(2026, 0, i + 1)),
    passed: true,
    detectionMs: 200 + i,
    rtoMs: 900 + i * 10,
    lostWrites: 3,
    report: {
      id: `d${i}`,
      startedAt: new Date(Date.UTC(2026, 0, i + 1)).toISOString(),
      passed: true,
      scenario: { id: 'east-killed', runbook: 'failover' },
      targets: { rtoMs: 30_000, rpoMs: 5_000 },
      measured: { rtoMs: 900 + i * 10, detectionMs: 200 + i, lostWrites: { count: 3, spanMs: 400 } },
      timeline: [
        step('step-started', 2000, 'restore-west'),
        step('step-finished', 2000 + restoreMs, 'restore-west'),
        step('step-started', 2100, 'front-door-west'),
        step('step-finished', 2140, 'front-door-west'),
      ],
    },
  };
}

describe('drill trends', () => {
  it('puts measured RTO, RPO and detection beside the predicted critical path, and names a consistently wrong expected', async () => {
    const plan = await loadPlan(WARM);
    const trend = drillTrend(
      plan,
      'shop',
      'east-killed',
      [12, 15, 9, 20].map((ms, i) => stored(i, ms)),
    );
    expect(trend.points.map((p) => [p.id, p.rtoMs, p.rpoMs, p.detectionMs])).toEqual([
      ['d0', 900, 400, 200],
      ['d1', 910, 400, 201],
      ['d2', 920, 400, 202],
      ['d3', 930, 400, 203],
    ]);
    expect(trend.predictedMs).toBeGreaterThan(0);
    const restore = trend.steps.find((s) => s.id === 'restore-west')!;
    expect(restore.measuredMs).toEqual([12, 15, 9, 20]);
    expect(restore.suggestion).toBe(
      'restore-west: expected 1s, measured 9ms–20ms over 4 drills; lower expected to about 40ms',
    );
    // 40 ms against 1 s expected is also wrong by more than four times
    expect(trend.steps.find((s) => s.id === 'front-door-west')!.suggestion).toContain('lower expected');
    // steps no drill measured make no suggestion
    expect(trend.steps.find((s) => s.id === 'stop-orders-east')!.suggestion).toBeUndefined();
  });

  it.skipIf(findChromium() === undefined)(
    'draws the trend chart with the inlined uPlot, fetching nothing',
    async () => {
      const plan = await loadPlan(WARM);
      const html = `<!doctype html><html><body style="width:1000px">${renderTrendsHtml(drillTrend(plan, 'shop', 'east-killed', [stored(0, 10), stored(1, 12)]))}</body></html>`;
      const file = join(tempDir('drctl-trends-'), 'trends.html');
      writeFileSync(file, html);
      const browser = await chromium.launch({ executablePath: findChromium()!, args: CHROMIUM_ARGS });
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        page.on('request', (r) => requests.push(r.url()));
        await page.goto(pathToFileURL(file).href);
        await expect.poll(() => page.locator('[data-testid="trend-chart"] canvas').count()).toBe(1);
        expect(await page.locator('.u-legend').innerText()).toContain('RTO (s)');
        expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
