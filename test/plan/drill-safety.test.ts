import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { writeFiles } from '../support/tmp.ts';

const PLAN = `version: 1
sites:
  east:
    role: primary
    hosts:
      app-east: { address: 198.18.0.2 }
  west: { role: secondary, production: true }
contacts:
  - { id: alice, name: Alice Ng, backup: bob }
  - { id: bob, name: Bob Park, backup: alice }
workloads:
  - id: shop
    tier: 2
    strategy: warm-standby
    owner: alice
    components:
      - id: orders
        kind: process
        placement: { east: { host: app-east, command: "node app.js" }, west: { command: "node app.js" } }
    runbooks:
      failover:
        steps:
          - { id: stop-east, action: shell.run, with: { command: "true" }, expected: 10s }
drills:
  blackouts:
    - { cron: "0 8 * * 1-5", duration: 10h, reason: business hours }
  scenarios:
    - id: east-frozen
      disaster: site-loss
      workload: shop
      environment: existing
      max_duration: 2m
      blast_radius: { sites: [east], hosts: [app-east], components: [orders] }
      guards:
        - { name: catalog, probe: { url: "http://127.0.0.1:9/catalog", interval: 200ms, failures: 2 } }
      faults:
        - { kind: pause, target: orders@east, duration: 5s }
`;

async function problems(text: string): Promise<string[]> {
  const dir = writeFiles({ 'plan.yaml': text });
  try {
    await loadPlan(join(dir, 'plan.yaml'));
  } catch (error) {
    expect(error).toBeInstanceOf(PlanInvalidError);
    return (error as PlanInvalidError).problems.map(
      (p) => `${p.location.line}:${p.location.column} ${p.code} ${p.message}`,
    );
  }
  throw new Error('the plan loaded, but a problem was expected');
}

describe('drills on an existing environment in a plan', () => {
  it('compiles the environment, blast radius, guards, maximum duration and blackouts', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    const scenario = plan.drills.scenarios[0]!;
    expect(scenario).toMatchObject({
      environment: 'existing',
      maxDurationMs: 120_000,
      blastRadius: { sites: ['east'], hosts: ['app-east'], components: ['orders'] },
      guards: [{ name: 'catalog', probe: { intervalMs: 200, failures: 2 } }],
    });
    expect(plan.drills.blackouts[0]).toMatchObject({ cron: '0 8 * * 1-5', durationMs: 36_000_000 });
  });

  it('refuses a fault outside the blast radius, a production site and a missing radius, each at its position', async () => {
    const outside = PLAN.replace(
      '        - { kind: pause, target: orders@east, duration: 5s }',
      '        - { kind: pause, target: orders@east, duration: 5s }\n        - { kind: kill, target: orders@west }',
    );
    expect(await problems(outside)).toEqual([
      '38:11 DRCTL_DRILL_PRODUCTION_REFUSED scenario east-frozen would inject kill into orders@west, a production site',
      '38:11 DRCTL_PLAN_OUTSIDE_BLAST_RADIUS fault kill orders@west of scenario east-frozen touches site west, outside its blast radius',
    ]);
    const noHost = PLAN.replace('hosts: [app-east], ', '');
    expect(await problems(noHost)).toEqual([
      '37:11 DRCTL_PLAN_OUTSIDE_BLAST_RADIUS fault pause orders@east of scenario east-frozen touches host app-east, outside its blast radius',
    ]);
    const noRadius = PLAN.replace(/ {6}blast_radius: .*\n/, '');
    expect(await problems(noRadius)).toEqual([
      '28:7 DRCTL_PLAN_BLAST_RADIUS_MISSING scenario east-frozen acts on an existing environment but names no blast_radius',
    ]);
    const unknown = PLAN.replace('hosts: [app-east]', 'hosts: [app-eats]');
    expect(await problems(unknown)).toContainEqual(
      expect.stringMatching(/^33:\d+ DRCTL_PLAN_UNKNOWN_REF .*app-eats/),
    );
  });

  it('refuses a guard with no probe at the guard', async () => {
    const noProbe = PLAN.replace(/probe: \{[^}]*\} \}/, '}');
    expect((await problems(noProbe))[0]).toMatch(/^35:11 DRCTL_PLAN_MISSING .*probe/);
  });
});
