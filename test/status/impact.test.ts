// One dependency graph drives impact: what a lost component does to every flow that needs it, in any workload.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { affectedFlows, affectedWorkloads, flowImpact, runbookComponents } from '../../src/status/index.ts';
import { tempDir } from '../support/tmp.ts';

describe('flow impact from the dependency graph', () => {
  it('shows a flow that survives the lost component degraded, and the one that does not as a major outage', async () => {
    const plan = await loadPlan('examples/two-site/warm-standby.yaml');
    const lost = runbookComponents(plan, 'shop', 'failover');
    expect(lost.sort()).toEqual(['data', 'orders']);
    expect(affectedFlows(plan, lost).map((f) => [f.flow, f.state])).toEqual([
      ['Browse the catalog', 'degraded'],
      ['Place an order', 'major-outage'],
    ]);
  });

  it('carries the loss of a shared component to the flows of every workload depending on it', async () => {
    const plan = await loadPlan('examples/data-platform/plan.yaml');
    const flows = affectedFlows(plan, ['identity']);
    // identity belongs to shared-services; the platform's flows depend on it through depends_on
    expect(new Set(flows.map((f) => f.workload))).toEqual(new Set(['shared-services', 'data-platform']));
    expect(affectedWorkloads(plan, ['identity'])).toEqual(
      expect.arrayContaining(['shared-services', 'data-platform']),
    );
    expect(flows.every((f) => f.state === 'major-outage')).toBe(true);
  });

  it('shows partial outage for a degraded component and maintenance for one under maintenance', async () => {
    const plan = await loadPlan('examples/two-site/warm-standby.yaml');
    const states = (state: 'degraded' | 'maintenance'): string[] =>
      flowImpact(plan, new Map([['orders', state]])).map((f) => f.state);
    expect(states('degraded')).toEqual(['degraded', 'partial-outage']);
    expect(states('maintenance')).toEqual(['under-maintenance', 'under-maintenance']);
    expect(flowImpact(plan, new Map()).map((f) => f.state)).toEqual(['operational', 'operational']);
  });
});

describe('communications in the plan', () => {
  const write = (templates: unknown[]): string => {
    const file = join(tempDir(), 'plan.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'contacts: [{ id: alice, name: Alice }]',
        'communications:',
        '  channels:',
        '    - { id: chat, type: webhook, url: "http://127.0.0.1:9/hook" }',
        '  templates:',
        ...templates.map((t) => `    - ${JSON.stringify(t)}`),
      ].join('\n'),
    );
    return file;
  };

  it('refuses a template naming an unknown field, pointing at the placeholder', async () => {
    const file = write([{ id: 'x', on: 'activation', channel: 'chat', body: 'run {{run}} of {{wrokload}}' }]);
    const error = await loadPlan(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanInvalidError);
    const problem = (error as PlanInvalidError).problems.find((p) => p.code === 'DRCTL_PLAN_TEMPLATE_FIELD');
    expect(problem?.message).toBe(
      'template x names the field {{wrokload}}, which messages do not have; did you mean {{workload}}?',
    );
    // line 7 is the template; the placeholder starts at its column 75
    expect(problem?.location).toMatchObject({ file, line: 7, column: 75 });
  });

  it('refuses a template naming a channel the plan does not define', async () => {
    const file = write([{ id: 'x', on: 'activation', channel: 'mail', body: 'hello' }]);
    const error = (await loadPlan(file).catch((e: unknown) => e)) as PlanInvalidError;
    const unknown = error.problems.filter((p) => p.code === 'DRCTL_PLAN_UNKNOWN_REF');
    expect(unknown.map((p) => p.message)).toEqual(['template x names channel "mail", which is not defined']);
  });
});
