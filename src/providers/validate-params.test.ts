import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../errors.ts';
import { loadPlan } from '../plan/index.ts';
import { tempDir } from '../../test/support/tmp.ts';
import { httpProvider } from './http/index.ts';
import { processProvider } from './process/index.ts';
import { checkStepActions } from './validate-params.ts';

const PROVIDERS = [httpProvider, processProvider];

function planFile(steps: string): string {
  const file = join(tempDir(), 'plan.yaml');
  writeFileSync(
    file,
    `version: 1
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice, backup: bob }
  - { id: bob, name: Bob, backup: alice }
workloads:
  - id: shop
    tier: 1
    strategy: warm-standby
    owner: alice
    components:
      - id: api
        kind: process
        placement:
          east: { command: "node server.mjs", port: 8081 }
          west: { command: "node server.mjs", port: 8082, standby: true }
    runbooks:
      failover:
        steps:
${steps}`,
  );
  return file;
}

describe('checkStepActions', () => {
  it('accepts steps, undos and checks whose actions exist and whose parameters match', async () => {
    const plan = await loadPlan(
      planFile(`          - id: start-west
            action: process.start
            with: { component: api, site: west, ready_timeout: 10s, env: { MODE: standby } }
            undo: { action: process.stop, with: { component: api, site: west } }
            validate:
              - { check: http.probe, with: { url: "http://127.0.0.1:8082/health", latency: 200ms, json: { ok: true } } }
              - { check: process.running, with: { component: api, site: west } }
`),
    );
    expect(checkStepActions(plan, PROVIDERS)).toEqual([]);
  });

  it('names an unknown action with its position and the nearest known action', async () => {
    const file = planFile(`          - id: start-west
            action: process.strat
            with: { component: api, site: west }
`);
    const problems = checkStepActions(await loadPlan(file), PROVIDERS);
    expect(problems).toEqual([
      {
        code: 'DRCTL_PLAN_ACTION_UNKNOWN',
        message:
          'step start-west of runbook shop/failover: unknown action "process.strat" (did you mean "process.start"?)',
        hint: 'write action: process.start',
        location: { file, line: 20, column: 13 },
      },
    ]);
  });

  it('lists the known actions when nothing is close to an unknown one', async () => {
    const problems = checkStepActions(
      await loadPlan(planFile(`          - { id: s, action: kubernetes.rollout }\n`)),
      PROVIDERS,
    );
    expect(problems[0]?.code).toBe('DRCTL_PLAN_ACTION_UNKNOWN');
    expect(problems[0]?.hint).toContain('http.request');
  });

  it('names a wrong, a missing and an unknown parameter of an action, and a wrong parameter of a check', async () => {
    const file = planFile(`          - id: start-west
            action: process.scale
            with: { component: api, instances: many }
          - id: call
            action: http.request
            with: { url: "http://127.0.0.1:1/x", sttus: 200 }
            validate:
              - { check: process.running, with: { component: api, site: west, instances: 0 } }
`);
    const problems = checkStepActions(await loadPlan(file), PROVIDERS);
    expect(problems.map((p) => [p.code, p.location.line, p.message])).toEqual([
      [
        'DRCTL_PLAN_ACTION_PARAMS',
        20,
        'step start-west of runbook shop/failover: process.scale parameter "site" is required',
      ],
      [
        'DRCTL_PLAN_ACTION_PARAMS',
        20,
        'step start-west of runbook shop/failover: process.scale parameter "instances" is invalid: expected number, received string',
      ],
      [
        'DRCTL_PLAN_ACTION_PARAMS',
        23,
        'step call of runbook shop/failover: http.request parameter "sttus" is not a parameter of this action',
      ],
      [
        'DRCTL_PLAN_CHECK_PARAMS',
        27,
        'check "process.running" of step call of runbook shop/failover: process.running parameter "instances" is invalid: too small: expected number to be >=1',
      ],
    ]);
    expect(problems[2]?.hint).toBe(
      'the parameters of http.request are: url, method, headers, body, status, timeout',
    );
  });

  it('checks the action of an undo and rejects a duration that is not one', async () => {
    const problems = checkStepActions(
      await loadPlan(
        planFile(`          - id: start-west
            action: process.start
            with: { component: api, site: west, ready_timeout: soon }
            undo: { action: process.halt, with: { component: api, site: west } }
`),
      ),
      PROVIDERS,
    );
    expect(problems.map((p) => p.code)).toEqual(['DRCTL_PLAN_ACTION_PARAMS', 'DRCTL_PLAN_ACTION_UNKNOWN']);
    expect(problems[0]?.message).toContain('parameter "ready_timeout" is invalid');
    expect(problems[1]?.message).toContain('the undo of step start-west');
  });

  it('names a component or site parameter that the plan does not have', async () => {
    const problems = checkStepActions(
      await loadPlan(
        planFile(`          - { id: s, action: process.start, with: { component: apii, site: north } }\n`),
      ),
      PROVIDERS,
    );
    expect(problems.map((p) => [p.code, p.message, p.hint])).toEqual([
      [
        'DRCTL_PLAN_ACTION_PARAMS',
        'step s of runbook shop/failover: process.start parameter "component" names no component "apii" (did you mean "api"?)',
        'known components: api',
      ],
      [
        'DRCTL_PLAN_ACTION_PARAMS',
        'step s of runbook shop/failover: process.start parameter "site" names no site "north"',
        'known sites: east, west',
      ],
    ]);
  });

  it('plugs into loadPlan as a check, so a bad parameter makes the plan invalid', async () => {
    const error = await loadPlan(
      planFile(`          - { id: s, action: http.request, with: { url: not-a-url } }\n`),
      {
        checks: [(plan) => checkStepActions(plan, PROVIDERS)],
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect((error as PlanInvalidError).code).toBe('DRCTL_PLAN_ACTION_PARAMS');
  });
});
