import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../src/errors.ts';
import { hostTarget } from '../../src/exec/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { writeFiles } from '../support/tmp.ts';

const PLAN = `version: 1
sites:
  east:
    role: primary
    hosts:
      app-east: { address: 198.18.0.2, user: drctl, identity_file: keys/id_ed25519 }
      db-east: { address: 198.18.0.3, user: postgres, port: 2222, jump: bastion-east, connect_timeout: 2s }
      bastion-east: { address: 198.18.0.4, known_hosts: keys/known_hosts }
  west: { role: secondary }
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
          - { id: stop-east, action: shell.run, with: { host: app-east, command: "systemctl stop orders" }, expected: 10s }
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

describe('hosts in a plan', () => {
  it('compiles a host with its paths resolved against the plan and its jump host resolved', async () => {
    const dir = writeFiles({ 'plan.yaml': PLAN });
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    expect(plan.sites[0]!.hosts.map((h) => h.id)).toEqual(['app-east', 'db-east', 'bastion-east']);
    expect(hostTarget(plan, 'app-east')).toMatchObject({
      address: '198.18.0.2',
      user: 'drctl',
      identityFile: join(dir, 'keys/id_ed25519'),
      connectTimeoutMs: 5_000,
      jump: undefined,
    });
    expect(hostTarget(plan, 'db-east')).toMatchObject({
      port: 2222,
      connectTimeoutMs: 2_000,
      jump: { name: 'bastion-east', address: '198.18.0.4', knownHostsFile: join(dir, 'keys/known_hosts') },
    });
  });

  it('names an unknown host in a placement, a step and a jump at its line and column', async () => {
    const bad = PLAN.replace('{ host: app-east, command: "node', '{ host: app-eats, command: "node')
      .replace('with: { host: app-east', 'with: { host: web-east')
      .replace('jump: bastion-east', 'jump: bastion');
    expect(await problems(bad)).toMatchInlineSnapshot(`
      [
        "7:7 DRCTL_PLAN_UNKNOWN_REF jump of host db-east names host "bastion", which is not defined",
        "21:36 DRCTL_PLAN_UNKNOWN_REF placement of component orders at east names host "app-eats", which is not defined; did you mean "app-east"?",
        "25:13 DRCTL_PLAN_UNKNOWN_REF step stop-east names host "web-east", which is not defined; did you mean "db-east"?",
      ]
    `);
  });
});
