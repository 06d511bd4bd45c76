/**
 * `drctl serve --export-dir`: the rendered runbooks and every run's journal export, kept readable for when
 * everything is down — written on start, again when the plans change, and when a run ends; never half a file.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { verifyChain } from '../../src/store/index.ts';
import type { JournalRecord } from '../../src/store/index.ts';
import { CONTACTS } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually, testServer } from './support.ts';

const STEPS = [
  { id: 'promote', run: 'echo promoted' },
  { id: 'switch', needs: ['promote'], run: 'echo switched' },
];

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('drctl serve --export-dir', () => {
  it('writes the runbooks on start, a run journal at its end, and the runbooks again after a plan change', async () => {
    const exportDir = join(tempDir('drctl-export-'), 'site-east');
    const t = await testServer({ steps: STEPS, server: { exportDir } });
    const plan = t.server.ctx.plans.list()[0]!;
    const markdown = join(exportDir, 'runbooks', 'engine-test.md');
    const html = join(exportDir, 'runbooks', 'engine-test.html');
    expect(readFileSync(markdown, 'utf8')).toContain(plan.hash.slice(0, 12));
    expect(readFileSync(html, 'utf8')).toMatch(/^<!doctype html>/i);
    expect(readFileSync(html, 'utf8')).toContain('promote');

    const started = await t.json<{ id: string }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { runbook: 'failover' },
    });
    const runId = started.body.id;
    const journalFile = join(exportDir, 'runs', `${runId}.jsonl`);
    const lines = await eventually(() => {
      if (!existsSync(journalFile)) return undefined;
      const parsed = readFileSync(journalFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return parsed.at(-1)?.type === 'run-finished' ? parsed : undefined;
    });
    // the copy is the journal itself: its hash chain verifies against the run's head
    const run = await t.server.ctx.store.getRun(runId);
    const records = lines.map(
      (line) =>
        ({
          ...line,
          runId: line.run,
          at: new Date(String(line.at)),
          step: line.step ?? undefined,
        }) as unknown as JournalRecord,
    );
    expect(verifyChain(run!, records).ok).toBe(true);
    expect(readFileSync(join(exportDir, 'index.md'), 'utf8')).toContain(
      `${runId}](runs/${runId}.jsonl) shop/failover: succeeded`,
    );

    writeFileSync(
      t.planFile,
      stringify({
        version: 1,
        name: 'engine test',
        sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
        contacts: CONTACTS,
        workloads: [
          {
            id: 'shop',
            tier: 1,
            strategy: 'hot-standby',
            owner: 'alice',
            runbooks: {
              failover: { steps: [...STEPS, { id: 'announce', needs: ['switch'], run: 'echo announced' }] },
            },
          },
        ],
      }),
    );
    const reloaded = await t.json<{ plans: Array<{ hash: string }> }>('POST', '/api/v1/plans/reload', {
      token: t.tokens.ada,
    });
    expect(reloaded.status).toBe(200);
    const newHash = reloaded.body.plans[0]!.hash;
    expect(newHash).not.toBe(plan.hash);
    await eventually(() => readFileSync(markdown, 'utf8').includes(newHash.slice(0, 12)) || undefined, 5_000);
    expect(readFileSync(markdown, 'utf8')).toContain('announce');
    expect(readFileSync(html, 'utf8')).toContain('announce');
    expect(allFiles(exportDir).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });
});
