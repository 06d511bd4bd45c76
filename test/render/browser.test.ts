// What a person sees: the rendered runbook opened in a real Chromium, on screen and printed.
// CI installs Chromium; on a machine without it these tests are skipped and say why.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/index.ts';
import { CHAPTERS, CHROMIUM_ARGS, findChromium, renderHtml, renderPdf } from '../../src/render/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const executablePath = findChromium();
const reason = 'Chromium is not installed (apt-get install chromium); the browser tests need it';
const NOW = new Date('2026-11-22T08:00:00Z');

describe.skipIf(executablePath === undefined)(
  `the rendered data-platform runbook in Chromium${executablePath ? '' : ` (skipped: ${reason})`}`,
  () => {
    let browser: Browser;
    let page: Page;
    let hash: string;

    beforeAll(async () => {
      const plan = await loadPlan('examples/data-platform/plan.yaml');
      hash = plan.hash;
      const file = join(tempDir(), 'runbook.html');
      writeFileSync(file, renderHtml(plan, { now: NOW }));
      browser = await chromium.launch({
        executablePath: executablePath!,
        args: CHROMIUM_ARGS,
      });
      page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(file).href);
      // self-contained: the only request is the file itself
      expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('shows every chapter of the seed 000 DR plan structure, in order', async () => {
      const chapters = await page.locator('section.chapter > h2').allInnerTexts();
      expect(chapters.map((text) => text.replace(/^\d+\.\s*/, ''))).toEqual(CHAPTERS.map((c) => c.title));
      for (const heading of await page.locator('section.chapter > h2').all())
        await expect.poll(() => heading.isVisible()).toBe(true);
    });

    it('shows the plan name, its content hash and the render time in the header', async () => {
      await expect.poll(() => page.locator('header .plan-name').innerText()).toBe('contoso-data-platform');
      await expect.poll(() => page.locator('header .plan-hash').innerText()).toBe(hash);
      await expect.poll(() => page.locator('header .rendered-at').innerText()).toBe(NOW.toISOString());
    });

    it('draws the dependency diagram with the foundation left of the workflow', async () => {
      const x = async (id: string): Promise<number> =>
        (await page.locator(`svg.dependency-diagram g.node[data-id="${id}"]`).boundingBox())!.x;
      expect(await x('key-vault')).toBeLessThan(await x('storage'));
      expect(await x('storage')).toBeLessThan(await x('ingestion'));
      expect(await x('ingestion')).toBeLessThan(await x('processing'));
      expect(await x('processing')).toBeLessThan(await x('reporting'));
    });

    it('lists the redeploy steps in run order with their escalation contacts', async () => {
      const steps = await page
        .locator('#technical-recovery h4[id^="step-data-platform-redeploy-"]')
        .allInnerTexts();
      expect(steps[0]).toMatch(/^Step 1\. Confirm enterprise shared services/);
      expect(steps.at(-1)).toMatch(/Hand over to the solution teams$/);
      await expect.poll(() => page.locator('#technical-recovery').innerText()).toContain('Escalation');
    });

    it('fits a 390 px phone: the page never scrolls sideways, wide tables scroll inside themselves', async () => {
      const plan = await loadPlan('examples/web-commerce/plan.yaml');
      const file = join(tempDir(), 'phone.html');
      writeFileSync(file, renderHtml(plan, { now: NOW }));
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await phone.goto(pathToFileURL(file).href);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const chapter = await phone.locator('section.chapter > h2').first().boundingBox();
      expect(chapter!.x + chapter!.width).toBeLessThanOrEqual(390);
      await phone.close();
    });

    it('hides the navigation when printed', async () => {
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('nav.toc').isVisible()).toBe(false);
      expect(
        await page
          .locator('section.chapter')
          .first()
          .evaluate((el) => getComputedStyle(el).breakBefore),
      ).toBe('page');
      await page.emulateMedia({ media: 'screen' });
      expect(await page.locator('nav.toc').isVisible()).toBe(true);
    });

    it('prints a PDF of the plan', async () => {
      const plan = await loadPlan('examples/two-site/plan.yaml');
      const pdf = await renderPdf(plan, { now: NOW });
      expect(Buffer.from(pdf.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
      expect(pdf.byteLength).toBeGreaterThan(10_000);
    });

    it('drctl render --format pdf writes a PDF file', async () => {
      const out = join(tempDir(), 'runbook.pdf');
      const result = await runCli(
        'render',
        'examples/backup-archive/plan.yaml',
        '--format',
        'pdf',
        '--out',
        out,
      );
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    });
  },
);
