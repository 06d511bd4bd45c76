import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { defaultOutputName } from '../../src/cli/commands/render.ts';
import { CHAPTERS, renderHtml, renderMarkdown, renderPdf } from '../../src/render/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir, writeFiles } from '../support/tmp.ts';

const NOW = new Date('2026-11-22T08:00:00Z');

const PLAN = `version: 1
name: tiny <shop>
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: "Alice *Ng*", role: DR lead, phone: "+1 555 0101", backup: bob }
  - { id: bob, name: Bob | Okafor, email: bob@example.com, backup: alice }
activation: { criteria: ["east is gone"], approvers: [alice] }
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    rto: 10m
    flows: [{ name: Checkout, users: customers, impact: lost revenue, degraded: browse only }]
    components:
      - { id: db, kind: postgres, replication: { mode: sync }, backups: [{ every: 1h, to: west }] }
      - { id: api, kind: http-service, depends_on: [db] }
    runbooks:
      failover:
        steps:
          - { id: declare, approval: { by: [alice] }, expected: 5m }
          - id: promote
            needs: [declare]
            manual: "Run <script>alert(1)</script> & press *enter*"
            expected: 10m
            contingency: 5m
            evidence: [Screenshot | of the console]
            on_failure: escalate
            escalate_to: bob
          - { id: warm-cache, needs: [declare], run: "echo \`warm\`", expected: 1m }
      failback:
        steps:
          - { id: back, manual: go home, expected: 1h }
`;

async function tinyPlan() {
  const dir = writeFiles({ 'plan.yaml': PLAN });
  return loadPlan(join(dir, 'plan.yaml'));
}

describe('renderMarkdown', () => {
  it('follows the chapters of the seed 000 DR plan structure, in order', async () => {
    const md = renderMarkdown(await tinyPlan(), { now: NOW });
    const headings = md.split('\n').filter((line) => /^## \d/.test(line));
    expect(headings).toMatchInlineSnapshot(`
      [
        "## 1. Process requirements",
        "## 2. Business impact analysis",
        "## 3. Contact listing",
        "## 4. Architecture",
        "## 5. Dependencies",
        "## 6. DR prerequisites",
        "## 7. Technical recovery: step by step",
        "## 8. Technical recovery: post-requisites",
        "## 9. Business stakeholder review and approval",
        "## 10. Recovery post-requisites",
      ]
    `);
    expect(CHAPTERS.map((c) => c.title)).toEqual(headings.map((h) => h.replace(/^## \d+\. /, '')));
  });

  it('carries the plan name, its content hash and the render time', async () => {
    const plan = await tinyPlan();
    const md = renderMarkdown(plan, { now: NOW });
    expect(md).toContain(`**Version (content hash):** \`${plan.hash}\``);
    expect(md).toContain('**Rendered:** 2026-11-22T08:00:00.000Z');
    expect(md).toContain('# tiny \\<shop\\>: DR runbook');
  });

  it('shows steps in run order with wave, expected time, contingency, failure process and escalation', async () => {
    const md = renderMarkdown(await tinyPlan(), { now: NOW });
    expect(md).toContain('#### Step 2. promote');
    expect(md).toContain('- **Run order:** wave 2, step 2 of 3; may run in parallel with warm-cache');
    expect(md).toContain('- **Expected time:** 10m expected + 5m contingency = 15m');
    expect(md).toContain('- **If it fails:** escalate: Pause and call the escalation contact');
    expect(md).toMatch(/- \*\*Escalation:\*\* \*\*Bob \\\| Okafor\*\*/);
    expect(md).toContain('- **Command:** `` echo `warm` ``');
    expect(md).toContain('- **Critical path:** 20m with contingency: declare → promote');
    expect(md).toContain('EXCEEDS the RTO of 10m by 10m');
  });

  it('escapes plan text so it cannot become Markdown or HTML', async () => {
    const md = renderMarkdown(await tinyPlan(), { now: NOW });
    expect(md).toContain('Run \\<script\\>alert(1)\\</script\\> \\& press \\*enter\\*');
    expect(md).toContain('**Alice \\*Ng\\***');
    expect(md).not.toContain('<script>');
  });

  it('limits the document to one runbook when asked', async () => {
    const md = renderMarkdown(await tinyPlan(), { now: NOW, runbook: 'shop/failback' });
    expect(md).toContain('### shop / failback (failback)');
    expect(md).not.toContain('### shop / failover (failover)');
  });

  it('rejects an unknown runbook with a usage error naming the ones that exist', async () => {
    const plan = await tinyPlan();
    const error = (() => {
      try {
        renderMarkdown(plan, { runbook: 'shop/nope' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ code: 'DRCTL_RENDER_RUNBOOK_UNKNOWN', exitCode: 2 });
    expect((error as UsageError).hint).toContain('shop/failover, shop/failback');
  });
});

describe('renderHtml', () => {
  it('is one self-contained file: no scripts, no external stylesheets, images or fonts', async () => {
    const html = renderHtml(await tinyPlan(), { now: NOW });
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(\s*['"]?http/i);
    expect(html).not.toMatch(/\ssrc=/i);
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="dependency-diagram"');
  });

  it('escapes every piece of plan text', async () => {
    const html = renderHtml(await tinyPlan(), { now: NOW });
    expect(html).toContain('Run &lt;script&gt;alert(1)&lt;/script&gt; &amp; press *enter*');
    expect(html).toContain('<title>tiny &lt;shop&gt;: DR runbook</title>');
    expect(html).not.toContain('<script>alert');
  });

  it('prints each chapter on a new page and hides the navigation', async () => {
    const html = renderHtml(await tinyPlan(), { now: NOW });
    const print = html.slice(html.indexOf('@media print'));
    expect(print).toContain('nav.toc { display: none; }');
    expect(print).toContain('section.chapter { break-before: page;');
  });

  it('leaves blank lines to sign in the approval table', async () => {
    const html = renderHtml(await tinyPlan(), { now: NOW });
    expect(html).toMatch(/<table class="signatures">.*<td>Alice \*Ng\*<\/td><td><\/td><td><\/td>/s);
  });
});

describe('renderPdf', () => {
  it('says how to install Chromium when there is none', async () => {
    const plan = await tinyPlan();
    await expect(renderPdf(plan, { browserPath: '/nonexistent/chromium' })).rejects.toMatchObject({
      code: 'DRCTL_RENDER_NO_BROWSER',
      exitCode: 2,
      hint: expect.stringContaining('apt-get install chromium'),
    });
  });
});

describe('drctl render', () => {
  it('writes the document to --out and prints its path', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const out = join(dir, 'runbook.md');
    const result = await runCli('render', join(dir, 'plan.yaml'), '--format', 'md', '--out', out);
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `${out}\n` });
    expect(readFileSync(out, 'utf8')).toContain('## 1. Process requirements');
  });

  it('writes to stdout with --out -', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const result = await runCli(
      'render',
      join(dir, 'plan.yaml'),
      '--format',
      'html',
      '--out',
      '-',
      '--runbook',
      'shop/failover',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^<!doctype html>/);
  });

  it('refuses an unknown format with exit code 2', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const result = await runCli('render', join(dir, 'plan.yaml'), '--format', 'docx');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "DRCTL_RENDER_FORMAT unknown format "docx"
        hint: use --format md, --format html, --format pdf
      "
    `);
  });

  it('names the default file after the plan', () => {
    expect(defaultOutputName('contoso-data-platform', 'pdf')).toBe('contoso-data-platform.runbook.pdf');
    expect(defaultOutputName('tiny <shop>', 'md')).toBe('tiny-shop.runbook.md');
    expect(defaultOutputName('///', 'html')).toBe('plan.runbook.html');
  });

  it('reports an unwritable output as a usage error', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const result = await runCli(
      'render',
      join(dir, 'plan.yaml'),
      '--format',
      'md',
      '--out',
      join(tempDir(), 'missing', 'x.md'),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_RENDER_WRITE');
  });
});
