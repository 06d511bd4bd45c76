import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';
import { BASELINE_YAML, NOW, loadYaml } from './baseline.ts';

/** The 1-based line of the first line of `yaml` containing `text`. */
function lineOf(yaml: string, text: string): number {
  const index = yaml.split('\n').findIndex((line) => line.includes(text));
  if (index < 0) throw new Error(`no line with ${text}`);
  return index + 1;
}

// two problems: the approval is slow enough to blow the RTO, and alice loses her backup
const BROKEN_YAML = BASELINE_YAML.replace('expected: 5m', 'expected: 45m').replace(
  'role: DR lead, backup: bob }',
  'role: DR lead }',
);

function writePlan(yaml: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'plan.yaml'), yaml);
  return dir;
}

describe('finding positions', () => {
  it('points each finding at the line and column of the thing it is about', async () => {
    const yaml = BASELINE_YAML.replace(
      'validate: [{ sql: "select true" }]\n          - id: start-api',
      '\n          - id: start-api',
    ).replace('replication: { mode: sync }', 'replication: { mode: async }');
    const plan = await loadYaml(yaml);
    const found = analyzePlan(plan, { now: NOW }).findings;
    const at = (code: string) => {
      const f = found.find((x) => x.code === code);
      return f && { line: f.location.line, column: f.location.column };
    };
    expect(at('DRCTL_STEP_UNVERIFIED')).toEqual({ line: lineOf(yaml, '- id: promote-db'), column: 13 });
    expect(at('DRCTL_RPO_ASSUMED')).toEqual({
      line: lineOf(yaml, 'replication: { mode: async }'),
      column: 22,
    });
    expect(found.every((f) => f.location.file.endsWith('plan.yaml'))).toBe(true);
  });
});

describe('drctl analyze', () => {
  it('exits 0 and reports every runbook for a plan without findings', async () => {
    const dir = writePlan(BASELINE_YAML);
    const result = await runCli('analyze', join(dir, 'plan.yaml'), '--now', '2026-03-01');
    expect(result.code).toBe(0);
    expect(result.stdout.replaceAll(dir, '<dir>')).toMatchInlineSnapshot(`
      "Runbooks
        shop/failover (failover): critical path 7m within RTO 30m: fits
          path: declare → promote-db → start-api
          waves: 1) declare  2) promote-db  3) start-api
        shop/failback (failback): critical path 21m (RTO 30m does not apply to failback)
          path: resync → tell-users
          waves: 1) resync  2) tell-users, switch-back

      0 errors, 0 warnings, 0 info
      "
    `);
  });

  it('prints findings grouped by severity with file:line:col, code, message and hint, and exits 1 on an error', async () => {
    const dir = writePlan(BROKEN_YAML);
    const result = await runCli('analyze', join(dir, 'plan.yaml'), '--now', '2026-03-01');
    expect(result.code).toBe(1);
    expect(result.stdout.replaceAll(dir, '<dir>')).toMatchInlineSnapshot(`
      "Errors (1)
        <dir>/plan.yaml:41:9  DRCTL_RTO_EXCEEDED
          runbook failover of workload shop takes 47m with contingency along declare → promote-db → start-api, 17m over its RTO of 30m
          hint: shorten approval declare (45m) with pre-agreed criteria or a smaller quorum; agree an RTO of at least 47m with the business (17m more)

      Warnings (1)
        <dir>/plan.yaml:8:5  DRCTL_CONTACT_NO_BACKUP
          contact alice (Alice Ng) owns workload shop but has no backup
          hint: add backup: <contact id> naming who stands in when they cannot be reached

      Runbooks
        shop/failover (failover): critical path 47m over RTO 30m by 17m: does not fit
          path: declare → promote-db → start-api
          waves: 1) declare  2) promote-db  3) start-api
          remedy (automate): shorten approval declare (45m) with pre-agreed criteria or a smaller quorum
          remedy (extend-rto): agree an RTO of at least 47m with the business (17m more)
        shop/failback (failback): critical path 21m (RTO 30m does not apply to failback)
          path: resync → tell-users
          waves: 1) resync  2) tell-users, switch-back

      1 error, 1 warning, 0 info
      "
    `);
  });

  it('prints findings and runbooks as JSON with --json', async () => {
    const dir = writePlan(BROKEN_YAML);
    const result = await runCli('analyze', join(dir, 'plan.yaml'), '--now', '2026-03-01', '--json');
    expect(result.code).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.findings.map((f: { code: string; line: number }) => [f.code, f.line])).toEqual([
      // a runbook is located at its mapping, which starts on the line after its name
      ['DRCTL_RTO_EXCEEDED', lineOf(BROKEN_YAML, 'failover:') + 1],
      ['DRCTL_CONTACT_NO_BACKUP', lineOf(BROKEN_YAML, 'id: alice')],
    ]);
    expect(json.findings[0]).toMatchObject({
      severity: 'error',
      file: expect.stringContaining('plan.yaml'),
      column: expect.any(Number),
      hint: expect.any(String),
    });
    expect(json.runbooks[0]).toMatchObject({
      workload: 'shop',
      runbook: 'failover',
      criticalPath: { seconds: 2820, steps: ['declare', 'promote-db', 'start-api'] },
      rtoSeconds: 1800,
      fits: false,
      waves: [['declare'], ['promote-db'], ['start-api']],
    });
  });

  it('exits 2 with DRCTL_USAGE_DATE for a --now that is not a date', async () => {
    const dir = writePlan(BASELINE_YAML);
    const result = await runCli('analyze', join(dir, 'plan.yaml'), '--now', 'someday');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_USAGE_DATE');
  });

  it('reports an invalid plan as plan problems with exit 1, not as findings', async () => {
    const dir = writePlan(BASELINE_YAML.replace('depends_on: [db]', 'depends_on: [dbx]'));
    const result = await runCli('analyze', join(dir, 'plan.yaml'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DRCTL_PLAN_UNKNOWN_REF');
  });

  it('prints the problems of an invalid plan as JSON with --json', async () => {
    const yaml = BASELINE_YAML.replace('depends_on: [db]', 'depends_on: [dbx]');
    const dir = writePlan(yaml);
    const result = await runCli('analyze', join(dir, 'plan.yaml'), '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      valid: false,
      problems: [{ code: 'DRCTL_PLAN_UNKNOWN_REF', line: lineOf(yaml, 'depends_on: [dbx]') }],
      findings: [],
    });
  });
});
