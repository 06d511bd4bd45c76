import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryAck, CanaryFailure, CanaryResult } from '../../src/drill/canary.ts';
import { measureLoss } from '../../src/drill/canary.ts';
import { escapeHtml, renderDrillReportHtml, writeDrillReport } from '../../src/drill/report-html.ts';
import { buildDrillReport, type DrillReportInput } from '../../src/drill/report.ts';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import { tempDir } from '../support/tmp.ts';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

/**
 * A drill of 6 s: writes every 10 ms; east dies at 2 s; writes fail until west answers at 3.2 s; the writes
 * acknowledged in the last 150 ms before the fault never reached west.
 */
function syntheticCanary(): CanaryResult {
  const acks: CanaryAck[] = [];
  const failures: CanaryFailure[] = [];
  for (let seq = 1; seq <= 600; seq++) {
    const sentAt = T0 + (seq - 1) * 10;
    const down = sentAt >= T0 + 2000 && sentAt < T0 + 3200;
    if (down) failures.push({ seq, id: `c-${seq}`, sentAt, at: sentAt + 1, reason: 'ECONNREFUSED' });
    else
      acks.push({
        seq,
        id: `c-${seq}`,
        sentAt,
        ackAt: sentAt + 3,
        status: 201,
        site: sentAt < T0 + 2000 ? 'east' : 'west',
      });
  }
  return {
    url: 'http://127.0.0.1:1/orders',
    intervalMs: 10,
    timeoutMs: 1000,
    idPrefix: 'c',
    startedAt: T0,
    stoppedAt: T0 + 6000,
    sent: 600,
    skipped: 0,
    acks,
    failures,
  };
}

async function syntheticInput(overrides: Partial<DrillReportInput> = {}): Promise<DrillReportInput> {
  const canary = syntheticCanary();
  const survived = canary.acks.filter((a) => a.sentAt < T0 + 1850 || a.sentAt >= T0 + 2000).map((a) => a.id);
  return {
    plan: { name: 'two-site shop', hash: 'f00dfeed'.repeat(8) },
    scenario: {
      id: 'east-lost',
      description: 'Site east is lost <script>alert("x")</script> & nobody notices',
      disaster: 'site-loss',
      type: 'full',
      workload: 'shop',
      runbook: 'failover',
      faults: [
        {
          kind: 'kill',
          component: 'api',
          site: 'east',
          atMs: 2000,
          durationMs: undefined,
          latencyMs: undefined,
          jitterMs: undefined,
          bandwidth: undefined,
          direction: 'both',
          flag: undefined,
          at: { file: 'plan.yaml', line: 1, column: 1 },
        },
      ],
      expect: { rtoMs: 1000, rpoMs: 0, failover: undefined },
    },
    workload: { id: 'shop', name: 'Shop', tier: 1, strategy: 'warm-standby' },
    startedAt: T0,
    finishedAt: T0 + 6000,
    faultAt: T0 + 2000,
    detectedAt: T0 + 2400,
    events: [
      { at: T0 + 2450, kind: 'step-started', detail: 'restore the last snapshot', step: 'restore-db' },
      { at: T0 + 2900, kind: 'step-finished', detail: 'restored 1.2 MB', step: 'restore-db' },
      { at: T0 + 2900, kind: 'step-started', detail: 'switch the router to west', step: 'switch-traffic' },
      { at: T0 + 3150, kind: 'step-finished', detail: 'router active: west', step: 'switch-traffic' },
    ],
    canary,
    loss: await measureLoss(canary.acks, survived),
    evidence: [{ name: 'router status', value: { active: 'west', note: '</pre><b>not bold</b>' } }],
    ...overrides,
  };
}

describe('drill report model', () => {
  it('judges the RTO as the client saw it and the acknowledged writes lost against the targets', async () => {
    const report = buildDrillReport(await syntheticInput());
    expect(report.measured.detectionMs).toBe(400);
    expect(report.measured.rtoMs).toBe(1203);
    expect(report.measured.lostWrites.count).toBe(15);
    expect(report.measured.lostWrites.spanMs).toBe(140);
    expect(report.measured.lostWrites.ids[0]).toBe('c-186');
    expect(report.verdicts).toEqual([
      expect.objectContaining({ target: 'rto', objectiveMs: 1000, measuredMs: 1203, pass: false }),
      expect.objectContaining({ target: 'rpo', objectiveMs: 0, measuredMs: 140, pass: false }),
    ]);
    expect(report.passed).toBe(false);
    expect(report.findings.map((f) => f.code)).toEqual(['DRCTL_DRILL_RTO_MISSED', 'DRCTL_DRILL_RPO_MISSED']);
    expect(report.timeline.map((t) => t.kind)).toEqual([
      'drill-started',
      'fault-injected',
      'first-failure',
      'detected',
      'step-started',
      'step-finished',
      'step-started',
      'step-finished',
      'first-success',
      'drill-finished',
    ]);
    const buckets = report.series.buckets;
    expect(buckets.reduce((n, b) => n + b.ok + b.failed, 0)).toBe(600);
  });

  it('passes when the service recovers within the RTO and no acknowledged write is lost', async () => {
    const input = await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 0 } });
    const report = buildDrillReport({
      ...input,
      loss: await measureLoss(
        input.canary.acks,
        input.canary.acks.map((a) => a.id),
      ),
    });
    expect(report.passed).toBe(true);
    expect(report.findings).toEqual([]);
  });

  it('tolerates lost writes spanning less than a non-zero RPO', async () => {
    const report = buildDrillReport(await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 5000 } }));
    expect(report.verdicts.find((v) => v.target === 'rpo')?.pass).toBe(true);
  });

  it('judges a transient the scenario expects drctl to ride out: a failover run fails the drill', async () => {
    const input = await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 5000 } });
    const ridingOut = {
      ...input,
      scenario: { ...input.scenario, expect: { ...input.scenario.expect, failover: false } },
    };
    const calm = buildDrillReport({ ...ridingOut, failoverRuns: [] });
    expect(calm.verdicts.find((v) => v.target === 'failover')).toMatchObject({
      pass: true,
      failover: { expected: false, runs: [] },
    });
    expect(calm.passed).toBe(true);

    const jumpy = buildDrillReport({ ...ridingOut, failoverRuns: ['20261201-120000-abcdef'] });
    expect(jumpy.verdicts.find((v) => v.target === 'failover')).toMatchObject({ pass: false });
    expect(jumpy.findings.map((f) => f.code)).toEqual(['DRCTL_DRILL_UNWANTED_FAILOVER']);
    expect(jumpy.passed).toBe(false);
    const row = renderDrillReportHtml(jumpy).match(/<tr data-verdict="failover"[^]*?<\/tr>/)?.[0];
    expect(row).toContain('no failover');
    expect(row).toContain('1 run started');
  });

  it('fails a site-loss drill that started no failover, and leaves failover unjudged when not expected', async () => {
    const input = await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 5000 } });
    const lost = buildDrillReport({
      ...input,
      scenario: { ...input.scenario, expect: { ...input.scenario.expect, failover: true } },
    });
    expect(lost.findings.map((f) => f.code)).toContain('DRCTL_DRILL_NO_FAILOVER');
    expect(lost.passed).toBe(false);
    expect(buildDrillReport(input).verdicts.map((v) => v.target)).toEqual(['rto', 'rpo']);
  });

  it('fails a drill with an error finding even when the client measurements met their objectives', async () => {
    const input = await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 5000 } });
    const finding = {
      code: 'DRCTL_DRILL_RUN_FAILED',
      severity: 'error' as const,
      message: 'the failover run ended failed',
    };
    const report = buildDrillReport({ ...input, findings: [finding] });
    expect(report.verdicts.every((v) => v.pass)).toBe(true);
    expect(report.passed).toBe(false);
  });

  it('says an aborted drill failed, why, and how long the undo took, with its guards on the page', async () => {
    const input = await syntheticInput({ targets: { rtoMs: 5000, rpoMs: 5000 } });
    const at = input.startedAt + 2_000;
    const report = buildDrillReport({
      ...input,
      safety: {
        environment: 'existing',
        maxDurationMs: 600_000,
        preflight: ['4 hosts reachable'],
        guards: [{ name: 'west-answers', checks: 9, failed: 1, tripped: true, last: 'connect ECONNREFUSED' }],
        aborted: { by: 'guard', reason: 'guard west-answers failed 1 time', at, undoneAt: at + 180 },
      },
    });
    expect(report.passed).toBe(false);
    expect(report.findings.map((f) => f.code)).toContain('DRCTL_DRILL_ABORTED');
    expect(report.safety?.aborted).toEqual({
      by: 'guard',
      reason: 'guard west-answers failed 1 time',
      atMs: 2_000,
      undoneMs: 180,
    });
    const html = renderDrillReportHtml(report);
    expect(html).toMatch(/data-testid="aborted".*guard west-answers failed 1 time.*180 ms later/s);
    expect(html).toMatch(/data-testid="guards".*west-answers.*tripped/s);
  });

  it('escapes every piece of text it puts in the page', async () => {
    const html = renderDrillReportHtml(buildDrillReport(await syntheticInput()));
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>not bold</b>');
    expect(html).toContain(escapeHtml('<script>alert("x")</script>'));
  });

  it('writes the report as JSON and HTML side by side', async () => {
    const report = buildDrillReport(await syntheticInput());
    const paths = await writeDrillReport(report, tempDir('drctl-report-'));
    expect(JSON.parse(await readFile(paths.json, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    expect(await readFile(paths.html, 'utf8')).toMatch(/^<!doctype html>/);
  });
});

describe('drill report in a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: findChromium() ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
  });
  afterAll(async () => browser?.close());

  it('shows the timeline chart and the verdicts without loading anything from the network', async () => {
    const report = buildDrillReport(await syntheticInput());
    const { html } = await writeDrillReport(report, tempDir('drctl-report-html-'));
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(html).toString());

    expect(requests).toEqual([pathToFileURL(html).toString()]);
    expect(await page.title()).toBe('Drill report: east-lost (failed)');
    expect(await page.locator('[data-testid="overall"]').textContent()).toBe('failed');

    const chart = page.locator('[data-testid="timeline-chart"]');
    await expect.poll(() => chart.isVisible()).toBe(true);
    const box = await chart.boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    expect(await chart.locator('rect.ok').count()).toBeGreaterThan(10);
    expect(await chart.locator('rect.failed').count()).toBeGreaterThan(5);
    for (const kind of ['fault-injected', 'detected', 'first-success']) {
      expect(await chart.locator(`g.marker[data-kind="${kind}"]`).count()).toBe(1);
    }
    expect(await chart.locator('g.step').count()).toBe(2);

    const rto = page.locator('tr[data-verdict="rto"]');
    expect(await rto.locator('.badge').textContent()).toBe('fail');
    expect(await rto.textContent()).toContain('1.20 s');
    const rpo = page.locator('tr[data-verdict="rpo"]');
    expect(await rpo.textContent()).toContain('15 writes');
    expect(await page.locator('[data-card="lost"] .value').textContent()).toBe('15');
    expect(await page.locator('header').textContent()).toContain('<script>alert("x")</script>');
    expect(await page.locator('script').count()).toBe(0);
    await page.close();
  });
});
