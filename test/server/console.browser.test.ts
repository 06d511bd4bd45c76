// What people do in the console, in a real Chromium against a real drctl server on a loopback socket:
// an operator starts a run and confirms a manual step, is refused the four-eyes approval as the run's
// starter, and watches the run finish live when an approver approves from another browser.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import { consoleServer, type ConsoleBench } from './console-support.ts';

const executablePath = findChromium();
const reason = 'Chromium is not installed (apt-get install chromium); the browser tests need it';

async function signIn(context: BrowserContext, url: string, token: string, next = '/'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}${next}`);
  // not signed in: the console sends people to the sign-in page and back where they were going
  await page.waitForURL(/\/sign-in/);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForURL((address) => address.pathname === next);
  return page;
}

describe.skipIf(executablePath === undefined)(
  `the console in Chromium${executablePath ? '' : ` (skipped: ${reason})`}`,
  () => {
    let bench: ConsoleBench;
    let browser: Browser;
    const outside: string[] = [];

    beforeAll(async () => {
      bench = await consoleServer();
      browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      await bench?.close();
    });

    const context = async (): Promise<BrowserContext> => {
      const created = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      // no CDN: every request the console makes goes to drctl itself
      created.on('request', (request) => {
        if (!request.url().startsWith(bench.url)) outside.push(request.url());
      });
      return created;
    };

    it('shows readiness with each workload light, its objectives against the last drill, and why', async () => {
      const page = await signIn(await context(), bench.url, bench.tokens.aliceOperator);
      const shop = page.locator('article[data-workload=shop]');
      await expect.poll(() => shop.locator('h2').innerText()).toBe('Shop');
      // the newest drill missed its 3 s RTO target: red, and the reason is one click away
      expect(await shop.locator('.light').first().innerText()).toBe('at risk');
      expect(await shop.locator('table.objectives').innerText()).toMatch(/RTO\s+15 min\s+4\.2 s/);
      expect(await shop.locator('details.reasons li').first().isVisible()).toBe(false);
      await shop.locator('details.reasons summary').click();
      expect(await shop.locator('details.reasons').innerText()).toContain('missed its targets');
      const reports = page.locator('article[data-workload=reports]');
      expect(await reports.innerText()).toContain('never drilled');
      await page.context().close();
    });

    it('runs a manual step and a four-eyes approval to the end, live, across two browsers', async () => {
      const alice = await signIn(await context(), bench.url, bench.tokens.aliceOperator, '/runs/new');
      // nothing is chosen for her, and a real failover is one more, explicit, click away
      expect(await alice.locator('form.start input[type=radio]:checked').count()).toBe(0);
      await alice.check('input[value$="shop/failover"]');
      await alice.click('form.start button[type=submit]');
      expect(await alice.locator('h1').innerText()).toBe('Start shop/failover?');
      expect(await alice.locator('.notice').innerText()).toContain('This starts a real failover of shop');
      expect(await bench.store.listRuns({ limit: 10 })).toEqual([]);
      await alice.click('form.confirm button[type=submit]');
      await alice.waitForURL(/\/runs\/[^/]+$/);
      const runUrl = alice.url();
      const runId = new URL(runUrl).pathname.split('/').pop()!;
      await alice.locator('#run-body[data-live=connected]').waitFor();

      // the manual step: instructions, the evidence it asks for, and the confirm form
      const restore = alice.locator('article#step-restore-db');
      await restore.waitFor();
      expect(await restore.locator('.instructions').innerText()).toContain('restore the newest snapshot');
      expect(await restore.innerText()).toContain('snapshot id, row count');
      // confirming without the evidence is refused, and the refusal stays after the live updates
      await restore.locator('button[type=submit]').click();
      await alice.waitForURL(runUrl);
      await alice.locator('#run-body[data-live=connected]').waitFor();
      await alice.waitForTimeout(1_000);
      expect(await alice.locator('.notice').innerText()).toContain(
        'Refused: step restore-db needs evidence before it is confirmed done',
      );
      // the runs list and readiness say the run waits on a person, as the API does
      const elsewhere = await alice.context().newPage();
      await elsewhere.goto(`${bench.url}/runs`);
      expect(await elsewhere.locator(`tr:has(a[href="/runs/${runId}"]) .badge`).innerText()).toBe('waiting');
      await elsewhere.goto(`${bench.url}/`);
      expect(await elsewhere.locator('.waiting-runs').innerText()).toMatch(
        /1 run waits for people\s+shop\/failover: restore-db waits for confirmation/,
      );
      await elsewhere.close();
      await restore.locator('textarea[name=evidence]').fill('snapshot snap-0042 restored, 18 211 rows');
      await restore.locator('button[type=submit]').click();
      await alice.waitForURL(runUrl);
      await alice.locator('#run-body[data-live=connected]').waitFor();

      // the starter sees the approval refused with its reason, the button disabled
      const approval = alice.locator('article#step-approve-cutover');
      await approval.waitFor();
      expect(await approval.locator('.refused').innerText()).toContain('Four-eyes');
      expect(await approval.locator('button', { hasText: 'Approve' }).isDisabled()).toBe(true);
      // four-eyes: the starter is not among those the step waits on
      expect(await alice.locator('ul.waiting').innerText()).toBe(
        'approve-cutover waits for approval from bob',
      );
      expect(await approval.locator('dd').allInnerTexts()).toContain('bob');
      expect(await alice.locator('#evidence-restore-db').isVisible()).toBe(true);
      expect(await alice.locator('.evidence-all').innerText()).toContain('snapshot snap-0042 restored');

      // and holding an approver token too does not help: the engine refuses the starter
      const aliceAsApprover = await signIn(
        await context(),
        bench.url,
        bench.tokens.aliceApprover,
        new URL(runUrl).pathname,
      );
      expect(await aliceAsApprover.locator('article#step-approve-cutover .refused').innerText()).toContain(
        'you (alice) started this run',
      );
      await aliceAsApprover.context().close();

      // bob approves from his own browser; alice's page follows without a reload
      let reloaded = false;
      alice.on('framenavigated', (frame) => {
        if (frame === alice.mainFrame()) reloaded = true;
      });
      const bob = await signIn(
        await context(),
        bench.url,
        bench.tokens.bobApprover,
        new URL(runUrl).pathname,
      );
      await bob.locator('article#step-approve-cutover input[name=note]').fill('west is restored, go');
      await bob.locator('article#step-approve-cutover button', { hasText: 'Approve' }).click();
      await bob.waitForURL(runUrl);

      await alice.locator('#run-body[data-status=succeeded]').waitFor({ timeout: 10_000 });
      expect(reloaded).toBe(false);
      expect(await alice.locator('.run-head .badge').innerText()).toBe('succeeded');
      expect(await alice.locator('.evidence-all').innerText()).toContain('router now sends traffic to west');
      expect(await alice.locator('a.chip[data-step=approve-cutover]').innerText()).toContain('succeeded');
      // the finished run says who approved, and what they wrote
      expect(await alice.locator('dd[data-approval=approve-cutover]').innerText()).toMatch(
        /^approved by bob \S+: “west is restored, go”$/,
      );
      const record = await bench.store.readJournal(new URL(runUrl).pathname.split('/').pop()!);
      expect(record.filter((r) => r.type === 'approval-granted').map((r) => r.actor)).toEqual(['bob']);
      await alice.context().close();
      await bob.context().close();
    });

    it('shows who cancelled a run and the reason they gave', async () => {
      const alice = await signIn(await context(), bench.url, bench.tokens.aliceOperator, '/runs/new');
      await alice.check('input[value$="shop/failover"]');
      await alice.click('form.start button[type=submit]');
      await alice.click('form.confirm button[type=submit]');
      await alice.waitForURL(/\/runs\/[^/]+$/);
      await alice.locator('article#step-restore-db').waitFor();
      await alice.locator('.run-actions input[name=reason]').fill('east came back on its own');
      await alice.locator('.run-actions button', { hasText: 'Cancel the run' }).click();
      await alice.locator('#run-body[data-status=cancelled]').waitFor({ timeout: 10_000 });
      expect(await alice.locator('.cancelled').innerText()).toBe(
        'Cancelled by alice: east came back on its own',
      );
      await alice.context().close();
    });

    it('draws the RTO/RPO trend of each drill scenario with uPlot served by drctl', async () => {
      const page = await signIn(await context(), bench.url, bench.tokens.viewer, '/drills');
      await page.locator('.chart .uplot canvas').first().waitFor();
      expect(await page.locator('.chart .u-legend').first().innerText()).toContain('RTO measured');
      await page.locator('table.list a').first().click();
      await expect.poll(() => page.locator('h1').first().innerText()).toContain('east-killed');
      await page.context().close();
      expect(outside).toEqual([]);
    });

    it('scales the trend axis to sub-second measurements instead of a 30 s objective', async () => {
      const day = 86_400_000;
      for (const [index, rtoMs] of [420, 380, 510].entries()) {
        const startedAt = new Date(Date.now() - (200 - index) * day);
        await bench.store.saveDrillReport({
          id: `fast-${index}`,
          workload: 'shop',
          scenario: 'db-restart',
          planHash: undefined,
          startedAt,
          passed: true,
          detectionMs: 100,
          rtoMs,
          lostWrites: 0,
          report: { id: `fast-${index}`, targets: { rtoMs: 30_000, rpoMs: 30_000 } },
        });
      }
      const page = await signIn(await context(), bench.url, bench.tokens.viewer, '/drills');
      const chart = page.locator('section.trend:has-text("db-restart") .chart');
      await chart.locator('.uplot canvas').first().waitFor();
      const yMax = Number(await chart.getAttribute('data-y-max'));
      // the highest measurement (510 ms) fills most of the height; the objective is named above the chart
      expect(yMax).toBeGreaterThan(0.51);
      expect(yMax).toBeLessThan(1);
      expect(await chart.getAttribute('data-y-label')).toBe('milliseconds');
      expect(await page.locator('section.trend:has-text("db-restart") p.muted').innerText()).toContain(
        'RTO objective 30 s',
      );
      await page.context().close();
    });
  },
);
