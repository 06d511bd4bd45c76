import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { approveStep, runView } from '../../src/engine/index.ts';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import { AUDIT_CHAPTERS, writeAuditPack } from '../../src/report/index.ts';
import { IncidentBook } from '../../src/status/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';
import { setup } from '../engine/fixtures.ts';

const executablePath = findChromium();

/** A drill report as the drill runner stores it, trimmed to what the pack reads. */
function drill(id: string, startedAt: string, rtoMs: number, findings: { code: string; message: string }[]) {
  const passed = findings.length === 0;
  return {
    id,
    workload: 'shop',
    scenario: 'east-killed',
    planHash: undefined,
    startedAt: new Date(startedAt),
    passed,
    detectionMs: 240,
    rtoMs,
    lostWrites: 0,
    report: {
      id,
      scenario: { id: 'east-killed', type: 'full' },
      targets: { rtoMs: 30_000, rpoMs: 5_000 },
      measured: { rtoMs, lostWrites: { count: 0, spanMs: 0 } },
      verdicts: [{ target: 'rto', pass: passed }],
      findings,
      evidence: [],
    },
  };
}

describe.skipIf(executablePath === undefined)('the auditor pack', () => {
  it('of three drills and one failover opens in Chromium with every chapter, and its manifest verifies', async () => {
    const bench = await setup([
      { id: 'declare', approval: { by: ['bob'] }, expected: '1m' },
      { id: 'switch', needs: ['declare'], run: 'true', expected: '1s' },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    await vi.waitFor(
      async () => expect(runView(await bench.store.readJournal(run.runId)).waiting).toHaveLength(1),
      { timeout: 10_000 },
    );
    await approveStep(bench.store, { runId: run.runId, step: 'declare', by: 'bob' });
    await run.done;
    const missed = { code: 'DRCTL_DRILL_RTO_MISSED', message: 'writes came back after 41s' };
    const now = Date.now();
    const ago = (days: number) => new Date(now - days * 86_400_000).toISOString();
    await bench.store.saveDrillReport(drill('d1', ago(30), 41_000, [missed]));
    await bench.store.saveDrillReport(drill('d2', ago(20), 12_000, []));
    await bench.store.saveDrillReport(drill('d3', ago(10), 9_000, []));
    await bench.store.close();

    const out = join(tempDir('drctl-audit-pack-'), 'pack');
    const made = await runCli(
      'report',
      'audit',
      bench.planFile,
      '--since',
      ago(60),
      '--out',
      out,
      '--state',
      bench.stateDir,
      '--json',
    );
    expect(made.code).toBe(0);
    const pack = JSON.parse(made.stdout) as { files: { path: string }[]; pdf: string | undefined };
    expect(pack.files.map((f) => f.path).sort()).toEqual(
      [
        'audit-pack.html',
        'audit-pack.pdf',
        'evidence/drills/d1.json',
        'evidence/drills/d2.json',
        'evidence/drills/d3.json',
        `journals/${run.runId}.jsonl`,
      ].sort(),
    );
    expect(readFileSync(pack.pdf!).subarray(0, 4).toString()).toBe('%PDF');

    const browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(join(out, 'audit-pack.html')).href);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      expect(await page.locator('section.chapter > h2').allInnerTexts()).toEqual(
        AUDIT_CHAPTERS.map((c) => c.title),
      );
      const approvals = await page.locator('#approvals tbody tr').allInnerTexts();
      expect(approvals.join('\n')).toMatch(/declare\s+approval-granted\s+bob/);
      const verify = await page.locator('table.audit-verify tbody tr').allInnerTexts();
      expect(verify).toHaveLength(1);
      expect(verify[0]).toContain('intact');
      // the RTO missed in the first drill is resolved by the next drill of the scenario
      expect((await page.locator('#findings tbody tr').allInnerTexts()).join('\n')).toMatch(
        /DRCTL_DRILL_RTO_MISSED.*resolved\s+by drill d2/s,
      );
      expect(await page.locator('#measured tbody tr').count()).toBe(3);
    } finally {
      await browser.close();
    }

    expect((await runCli('report', 'verify', out)).code).toBe(0);
    const evidence = join(out, 'evidence/drills/d2.json');
    writeFileSync(evidence, readFileSync(evidence, 'utf8').replace('12000', '2000'));
    const tampered = await runCli('report', 'verify', out);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('evidence/drills/d2.json: changed');
  });
});

describe('the communication promises of the auditor pack', () => {
  it("judges seed 004's promises on every incident of the plan in the period, with the incident as evidence", async () => {
    const bench = await setup([{ id: 'switch', run: 'true', expected: '1s' }]);
    const now = Date.now();
    const ago = (hours: number) => new Date(now - hours * 3_600_000);
    const opened = ago(100);
    const book = new IncidentBook(bench.store, { now: () => opened });
    const run = { id: 'run-1', workload: 'shop', runbook: 'failover' };
    const { incident: owed } = await book.open({
      title: 'Shop down',
      components: [],
      body: 'Moving to west',
      by: 'drctl',
      run,
      at: opened,
    });
    const later = new IncidentBook(bench.store, { now: () => ago(99) });
    await later.update(owed.id, { body: 'Back on west', by: 'drctl', state: 'resolved' });
    // another plan's incident is not this plan's to answer for
    await book.open({
      title: 'Billing down',
      components: ['ledger'],
      body: 'Looking',
      by: 'bob',
      at: opened,
    });
    const out = join(tempDir('drctl-audit-pack-'), 'pack');
    const pack = await writeAuditPack({
      plan: bench.plan,
      store: bench.store,
      since: ago(200),
      out,
      pdf: false,
    });
    await bench.store.close();
    expect(pack.files.map((f) => f.path)).toContain(`evidence/incidents/${owed.id}.json`);
    const html = readFileSync(pack.html, 'utf8');
    const chapter = html.slice(html.indexOf('id="communications"'), html.indexOf('id="audit-verify"'));
    const rows = [...chapter.matchAll(/<tr>(.*?)<\/tr>/gs)]
      .slice(1)
      .map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) => c[1]));
    expect(rows.map((r) => [r[1], r[3], r[6]])).toEqual([
      ['Shop down', 'status page updated after the incident opened', 'met'],
      // open for an hour with no update in between: over the 30m cadence
      ['Shop down', 'longest time between updates while open', 'missed'],
      ['Shop down', 'root cause published (an update starting &quot;Root cause&quot;)', 'missed'],
    ]);
  });
});
