// Every example plan is a promise: it validates, analyses without errors, and renders in every text format.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../src/analysis/index.ts';
import { loadPlan } from '../src/plan/index.ts';
import { CHAPTERS, renderHtml, renderMarkdown } from '../src/render/index.ts';
import { runCli } from './support/cli.ts';

const EXAMPLES = readdirSync('examples', { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join('examples', entry.name, 'plan.yaml')))
  .map((entry) => entry.name)
  .sort();

const NOW = new Date('2026-11-22T00:00:00Z');

describe('examples', () => {
  it('include the four plans the product promises', () => {
    expect(EXAMPLES).toEqual(
      expect.arrayContaining(['backup-archive', 'data-platform', 'two-site', 'web-commerce']),
    );
  });

  describe.each(EXAMPLES)('%s', (name) => {
    const file = join('examples', name, 'plan.yaml');

    it('validates with exit code 0', async () => {
      const result = await runCli('validate', file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });

    it('analyses without error findings', async () => {
      const plan = await loadPlan(file);
      const errors = analyzePlan(plan, { now: NOW }).findings.filter((f) => f.severity === 'error');
      expect(errors.map((f) => `${f.code} ${f.message}`)).toEqual([]);
    });

    it('renders to Markdown and HTML with every chapter, the hash and the render time', async () => {
      const plan = await loadPlan(file);
      const md = renderMarkdown(plan, { now: NOW });
      const html = renderHtml(plan, { now: NOW });
      for (const [index, chapter] of CHAPTERS.entries()) {
        expect(md).toContain(`## ${index + 1}. ${chapter.title}`);
        expect(html).toContain(`id="${chapter.id}"`);
      }
      for (const doc of [md, html]) {
        expect(doc).toContain(plan.hash);
        expect(doc).toContain(NOW.toISOString());
      }
    });
  });

  it('data-platform is split across included files', async () => {
    const plan = await loadPlan('examples/data-platform/plan.yaml');
    expect(plan.files.length).toBeGreaterThan(1);
  });

  it('web-commerce says what still works in reduced functionality for every flow but one', async () => {
    const plan = await loadPlan('examples/web-commerce/plan.yaml');
    const flows = plan.workloads.flatMap((w) => w.flows);
    expect(flows.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'Browse products',
        'Shopping cart',
        'Order status',
        'Order submission',
        'Order processing',
      ]),
    );
    expect(flows.filter((f) => f.degraded === undefined)).toEqual([]);
  });

  it('data-platform recovers shared services first and then follows the workflow left to right', async () => {
    const plan = await loadPlan('examples/data-platform/plan.yaml');
    const order = analyzePlan(plan, { now: NOW }).recoveryOrder;
    const wave = (id: string): number => order.findIndex((ids) => ids.includes(id));
    expect(wave('identity')).toBe(0);
    expect(wave('key-vault')).toBeLessThan(wave('storage'));
    expect(wave('storage')).toBeLessThan(wave('ingestion'));
    expect(wave('ingestion')).toBeLessThan(wave('processing'));
    expect(wave('processing')).toBeLessThan(wave('reporting'));
  });
});
