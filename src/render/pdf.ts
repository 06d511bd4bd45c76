// PDF through a local Chromium driven by playwright-core: the HTML document printed with its print styles.
// drctl downloads no browser of its own; it uses the distribution's package (Debian: `apt-get install
// chromium`) and says so plainly when none is found.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { Plan } from '../plan/model.ts';
import { buildDocument } from './document.ts';
import type { RenderOptions } from './document-model.ts';
import { escapeHtml } from './escape.ts';
import { writeHtml } from './html.ts';

export interface PdfOptions extends RenderOptions {
  /** The Chromium executable. @default $DRCTL_CHROMIUM, else /usr/bin/chromium, else chromium on PATH */
  browserPath?: string;
  /** Paper size. @default 'A4' */
  paper?: 'A4' | 'Letter';
}

/** Headless flags that also keep Chromium from reaching for the network on its own (updates, sync). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The Chromium to print with, or undefined when this machine has none. */
export function findChromium(explicit?: string): string | undefined {
  if (explicit !== undefined) return isExecutable(explicit) ? explicit : undefined;
  const fromEnv = process.env['DRCTL_CHROMIUM'];
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  if (isExecutable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const name of CANDIDATES) {
      const file = join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

export async function renderPdf(plan: Plan, options: PdfOptions = {}): Promise<Uint8Array> {
  const doc = buildDocument(plan, options);
  const footer = `${escapeHtml(doc.planName)} · version ${escapeHtml(doc.hash.slice(0, 12))} · rendered ${doc.renderedAt.toISOString()}`;
  return htmlToPdf(writeHtml(doc), { ...options, footer });
}

/** Any self-contained HTML page printed by Chromium, with `footer` (HTML) and page numbers at the foot. */
export async function htmlToPdf(
  html: string,
  options: Pick<PdfOptions, 'browserPath' | 'paper'> & { footer: string },
): Promise<Uint8Array> {
  const executablePath = findChromium(options.browserPath ?? undefined);
  if (executablePath === undefined) {
    const asked = options.browserPath ?? process.env['DRCTL_CHROMIUM'];
    throw new UsageError(
      'DRCTL_RENDER_NO_BROWSER',
      asked
        ? `no Chromium at ${asked}: a PDF is printed by Chromium`
        : 'no Chromium found: a PDF is printed by Chromium',
      {
        hint: 'install it with `apt-get install chromium` (or point DRCTL_CHROMIUM at one), or render --format html and print that',
      },
    );
  }
  const { chromium } = await import('playwright-core');
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  } catch (error) {
    throw new UsageError('DRCTL_RENDER_BROWSER_FAILED', `Chromium at ${executablePath} did not start`, {
      hint: 'check that it runs (`chromium --version`); reinstall with `apt-get install --reinstall chromium`',
      cause: error,
    });
  }
  try {
    const page = await browser.newPage();
    // the document is self-contained; refusing every request proves it and keeps printing offline
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load' });
    const pdf = await page.pdf({
      format: options.paper ?? 'A4',
      printBackground: true,
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: `<div style="font-size:7.5pt;color:#475467;width:100%;padding:0 12mm;display:flex;justify-content:space-between;font-family:system-ui,sans-serif"><span>${options.footer}</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`,
      margin: { top: '14mm', bottom: '16mm', left: '12mm', right: '12mm' },
    });
    return new Uint8Array(pdf);
  } finally {
    await browser.close();
  }
}
