/**
 * `npm run docs:screenshots`: the console's screenshots under docs/screenshots/, taken in Debian's
 * Chromium from a real drctl server (the console tests' server: a plan with a manual step and a
 * four-eyes approval, four measured drills). Readiness, a live run waiting on its manual step, and the
 * drill trends, each at laptop and phone width.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../src/render/index.ts';
import { consoleServer } from '../test/server/console-support.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'screenshots');
const WIDTHS = [
  { name: 'laptop', viewport: { width: 1280, height: 800 }, isMobile: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true },
] as const;

async function signedIn(
  browser: Browser,
  url: string,
  token: string,
  width: (typeof WIDTHS)[number],
): Promise<Page> {
  const context = await browser.newContext({ viewport: width.viewport, isMobile: width.isMobile });
  const page = await context.newPage();
  await page.goto(`${url}/sign-in`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForURL((address) => address.pathname === '/');
  return page;
}

async function main(): Promise<void> {
  const executablePath = findChromium();
  if (executablePath === undefined) {
    process.stderr.write('Chromium is not installed (apt-get install chromium)\n');
    process.exit(2);
  }
  mkdirSync(OUT, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'drctl-screenshots-'));
  const bench = await consoleServer({ dir });
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const started = await fetch(`${bench.url}/api/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bench.tokens.aliceOperator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ runbook: 'shop/failover' }),
    });
    const { id } = (await started.json()) as { id: string };
    for (const width of WIDTHS) {
      const page = await signedIn(browser, bench.url, bench.tokens.aliceOperator, width);
      const shots: Array<[string, string, string]> = [
        ['readiness', '/', 'article[data-workload=shop]'],
        ['run', `/runs/${id}`, '[data-status=waiting]'],
        ['drills', '/drills', '.chart canvas'],
      ];
      for (const [name, path, ready] of shots) {
        await page.goto(`${bench.url}${path}`);
        await page.waitForSelector(ready);
        const file = join(OUT, `${name}-${width.name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        process.stdout.write(`${relative(process.cwd(), file)}\n`);
      }
      await page.context().close();
    }
  } finally {
    await browser.close();
    await bench.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
