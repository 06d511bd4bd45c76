/**
 * The web console: server-rendered HTML pages (hono/html tagged templates) with one small script for
 * live updates, every asset served by drctl itself (no CDN, system fonts). Pages are declared with
 * `api.page`, so they share the API's sessions, roles, CSRF check and audit; their forms post to console
 * paths that call the same server actions as the API (../actions.ts) and answer with a redirect (the page
 * works without JavaScript). docs/console.md describes the pages and how live updates work.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import type { HttpError } from '../errors.ts';
import { registerDrillPages } from './drill-pages.ts';
import { CSP, consoleKit } from './kit.ts';
import { page } from './layout.ts';
import { registerReadinessPages } from './readiness-pages.ts';
import { registerRunForms } from './run-forms.ts';
import { registerRunPages } from './run-pages.ts';
import { registerRunbookPages } from './runbook-pages.ts';
import { registerSessionPages } from './session-pages.ts';

export { runBody, approvalRefusal } from './run.ts';
export { readinessBody } from './readiness.ts';
export { drillTrends } from './pages.ts';
export type { DrillTrend } from './pages.ts';

const require = createRequire(import.meta.url);

const ownAsset = (name: string, type: string): { file: string; type: string } => ({
  file: fileURLToPath(new URL(`./assets/${name}`, import.meta.url)),
  type,
});
/** Static files: the console's own, and uPlot from its package (served, never fetched from a CDN). */
const ASSETS: Record<string, { file: string; type: string }> = {
  'console.css': ownAsset('console.css', 'text/css'),
  'console.js': ownAsset('console.js', 'text/javascript'),
  'drills.js': ownAsset('drills.js', 'text/javascript'),
  'drill-job.js': ownAsset('drill-job.js', 'text/javascript'),
  'uplot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
};

/** A console error as a page: the status, what went wrong and what to do, with a way back. */
export function errorPage(c: Context, answer: HttpError): Response | Promise<Response> {
  const { code, message, hint } = answer.body.error;
  const title = answer.status === 404 ? 'Not found' : answer.status < 500 ? 'Refused' : 'Error';
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  return c.html(
    page({
      title,
      principal: undefined,
      body: html`<section class="card">
        <h1>${title}</h1>
        <p>${message}</p>
        ${hint === undefined ? '' : html`<p class="muted">${hint}</p>`}
        <p>
          <small class="muted"><code>${code}</code> · HTTP ${answer.status}</small>
        </p>
        <p><a class="button" href="/">Back to readiness</a></p>
      </section>`,
    }),
    answer.status as 404,
  );
}

export function registerConsole(api: Api, ctx: ServerContext): void {
  const cache = new Map<string, Buffer>();
  api.app.get('/console/assets/:name', (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (asset === undefined) return c.notFound();
    let body = cache.get(asset.file);
    if (body === undefined) cache.set(asset.file, (body = readFileSync(asset.file)));
    return c.body(new Uint8Array(body), 200, {
      'content-type': `${asset.type}; charset=utf-8`,
      'cache-control': 'public, max-age=300',
    });
  });

  const kit = consoleKit(ctx);
  registerSessionPages(api, ctx, kit);
  registerReadinessPages(api, ctx, kit);
  registerRunPages(api, ctx, kit);
  registerRunForms(api, ctx, kit);
  registerDrillPages(api, ctx, kit);
  registerRunbookPages(api, ctx, kit);
}
