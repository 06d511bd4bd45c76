// Both variants of the two-site shop are drills: they validate, analyse without errors, and carry what a
// drill needs (a front door, a failover and a failback runbook, the east-killed scenario).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { findScenario } from '../../src/drill/scenario.ts';
import { renderMarkdown } from '../../src/render/index.ts';

const TWO_SITE = join(import.meta.dirname, '../../examples/two-site');

describe.each(['plan.yaml', 'warm-standby.yaml'])('examples/two-site/%s', (file) => {
  it('validates, analyses without errors and is ready for the east-killed drill', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, file));
    const analysis = analyzePlan(plan, { now: new Date('2026-11-22T00:00:00Z') });
    expect(analysis.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const { workload } = findScenario(plan, 'east-killed');
    expect(workload.frontDoor).toMatchObject({ component: 'orders', probePath: '/ready' });
    expect(workload.runbooks.map((r) => r.kind)).toEqual(expect.arrayContaining(['failover', 'failback']));
    expect(workload.automaticFailover).toBe(true);
  });
});

describe('examples/two-site/dns.yaml', () => {
  it('validates, analyses without errors, and counts the TTL in the failover until clients move', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'dns.yaml'));
    const analysis = analyzePlan(plan, { now: new Date('2026-11-22T00:00:00Z') });
    expect(analysis.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const failover = analysis.runbooks.find((r) => r.runbook === 'failover')!;
    // fence 10s + promote 20s + start 10s + switch 1s + TTL 5s
    expect(failover.criticalPath).toMatchObject({
      ms: 46_000,
      steps: ['fence-east', 'promote-west', 'start-orders-west', 'dns-west'],
    });
    const markdown = renderMarkdown(plan, { now: new Date('2026-11-22T00:00:00Z') });
    expect(markdown).toContain('5s until clients move (TTL of shop A)');
  });
});
