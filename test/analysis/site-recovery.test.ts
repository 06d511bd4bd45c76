// The loss of a whole site, predicted: one run over every workload the site serves, scheduled within the
// plan's DR executors, each tier's time against its RTO; and the plan errors that make such a run impossible.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { analyzePlan, analyzeSite } from '../../src/analysis/index.ts';
import { DrctlError } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { siteRecovery } from '../../src/plan/site.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const EXAMPLE = 'examples/web-commerce/plan.yaml';
const NOW = new Date('2026-11-22T00:00:00Z');

/** The web-commerce example with one person for the whole loss of region-a. */
function withOneExecutor(): string {
  const dir = tempDir('drctl-site-');
  const file = join(dir, 'plan.yaml');
  const text = readFileSync(EXAMPLE, 'utf8');
  expect(text).toContain('sites: { region-a: 2 }');
  writeFileSync(file, text.replace('sites: { region-a: 2 }', 'sites: { region-a: 1 }'));
  return file;
}

describe('drctl run --site-lost --dry-run', () => {
  it('prints the order, the waves and each tier against its RTO for every workload the site serves', async () => {
    const result = await runCli('run', EXAMPLE, '--site-lost', 'region-a', '--dry-run');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const head = result.stdout.split('steps:')[0];
    expect(head).toMatchInlineSnapshot(`
      "dry run of the loss of site region-a: 4 workloads in 2 waves, 38m within executors team:web-platform 2, team:merchandising 1, site:region-a 2 (38m with no limit)
      waves:
        1) catalog, accounts
        2) orders, recommendations
      order:
             0ms → 3m       catalog/failover (tier 1, team web-platform); RTO 30m fits
             0ms → 2m 30s   accounts/failover (tier 1, team web-platform); RTO 30m fits
              3m → 29m 30s  orders/failover (tier 1, team web-platform) after catalog, accounts; RTO 30m fits
              3m → 38m      recommendations/failover (tier 2, team merchandising) after catalog; RTO 8h fits
      tiers:
        tier 1: 29m 30s against RTO 30m: fits (catalog, accounts, orders)
        tier 2: 38m against RTO 8h: fits (recommendations)
      "
    `);
  });

  it('schedules manual steps and approvals within the executors, so fewer people make tier 1 miss', async () => {
    const result = await runCli('run', withOneExecutor(), '--site-lost', 'region-a', '--dry-run', '--json');
    expect(result.code).toBe(0);
    const dry = JSON.parse(result.stdout) as {
      totalMs: number;
      unlimitedTotalMs: number;
      tiers: Array<{ tier: number; fits: boolean; finishMs: number }>;
      steps: Array<{ id: string; startMs: number; waitedMs: number }>;
    };
    expect(dry.unlimitedTotalMs).toBe(38 * 60_000);
    expect(dry.totalMs).toBe(53 * 60_000);
    expect(dry.tiers.map((tier) => [tier.tier, tier.fits, tier.finishMs / 60_000])).toEqual([
      [1, false, 48.5],
      [2, true, 53],
    ]);
    // the tier 1 approval took the one person first; the tier 2 redeploy waited for it
    const step = (id: string) => dry.steps.find((candidate) => candidate.id === id);
    expect(step('orders.declare')?.startMs).toBe(3 * 60_000);
    expect(step('recommendations.redeploy-recommender')?.waitedMs).toBe(5 * 60_000);
    expect(step('orders.switch-traffic')?.waitedMs).toBe(19 * 60_000);
  });

  it('reports DRCTL_PEOPLE_RTO when people, not machines, make a tier miss, with seed 000 remedies', async () => {
    const fine = analyzePlan(await loadPlan(EXAMPLE), { now: NOW }).findings;
    expect(fine.filter((f) => f.code === 'DRCTL_PEOPLE_RTO')).toEqual([]);
    const short = analyzePlan(await loadPlan(withOneExecutor()), { now: NOW }).findings;
    const people = short.filter((f) => f.code === 'DRCTL_PEOPLE_RTO');
    expect(people.map((f) => [f.subject.workload, f.severity, f.location.line])).toEqual([
      ['orders', 'error', expect.any(Number)],
    ]);
    expect(people[0]?.hint).toMatch(
      /automate orders\.switch-traffic.*add executors to .*site:region-a \(1\).*uplift.*extend its RTO to at least 49m/,
    );
  });

  it('reports DRCTL_SITE_RTO_EXCEEDED when waiting for another workload, not its own runbook, makes one late', async () => {
    const dir = tempDir('drctl-site-');
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      readFileSync(EXAMPLE, 'utf8').replace(
        '            expected: 1m\n            validate:\n              - { name: products listed',
        '            expected: 10m\n            validate:\n              - { name: products listed',
      ),
    );
    const findings = analyzePlan(await loadPlan(file), { now: NOW }).findings;
    expect(
      findings.filter((f) => f.code === 'DRCTL_SITE_RTO_EXCEEDED').map((f) => f.subject.workload),
    ).toEqual(['orders']);
  });
});

function planWith(workloads: unknown[]): string {
  const dir = tempDir('drctl-site-');
  const file = join(dir, 'plan.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      sites: { east: { role: 'primary' }, west: { role: 'secondary' }, vault: { role: 'backup' } },
      contacts: [{ id: 'alice', name: 'Alice' }],
      workloads,
    }),
  );
  return file;
}

const failover = { failover: { steps: [{ id: 'go', run: 'true' }] } };
const placed = { east: { url: 'http://127.0.0.1:1' }, west: { url: 'http://127.0.0.1:2', standby: true } };

describe('a site that cannot be recovered in one run', () => {
  it('refuses a site no workload is served from, positioned on the site', async () => {
    const file = planWith([
      {
        id: 'a',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        components: [{ id: 'x', kind: 'http-service', placement: placed }],
        runbooks: failover,
      },
    ]);
    const plan = await loadPlan(file);
    for (const [site, code] of [
      ['west', 'DRCTL_SITE_UNUSED'],
      ['vault', 'DRCTL_SITE_UNUSED'],
      ['mars', 'DRCTL_SITE_UNKNOWN'],
    ] as const) {
      const error = catching(() => siteRecovery(plan, site));
      expect(error.code).toBe(code);
      expect(error.exitCode).toBe(2);
    }
    const result = await runCli('run', file, '--site-lost', 'west', '--dry-run');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /plan\.yaml:5:3: DRCTL_SITE_UNUSED no workload is served from site west\n  hint: only standbys of a are placed there/,
    );
  });

  it('refuses workloads that depend on each other in a cycle, positioned on the first', async () => {
    const file = planWith([
      {
        id: 'a',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        components: [
          { id: 'x', kind: 'http-service', placement: placed },
          { id: 'x2', kind: 'http-service', depends_on: ['y'], placement: placed },
        ],
        runbooks: failover,
      },
      {
        id: 'b',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        components: [{ id: 'y', kind: 'http-service', depends_on: ['x'], placement: placed }],
        runbooks: failover,
      },
    ]);
    const error = catching(async () => siteRecovery(await loadPlan(file), 'east'));
    expect((await error).code).toBe('DRCTL_SITE_CYCLE');
    const result = await runCli('run', file, '--site-lost', 'east', '--dry-run');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /plan\.yaml:\d+:\d+: DRCTL_SITE_CYCLE workloads depend on each other in a cycle: (a → b → a|b → a → b)/,
    );
  });

  it('refuses a served workload without a failover runbook, positioned on the workload', async () => {
    const file = planWith([
      {
        id: 'a',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        components: [{ id: 'x', kind: 'http-service', placement: placed }],
        runbooks: failover,
      },
      {
        id: 'b',
        tier: 2,
        strategy: 'warm-standby',
        owner: 'alice',
        components: [{ id: 'y', kind: 'http-service', placement: placed }],
        runbooks: { restore: { steps: [{ id: 'r', run: 'true' }] } },
      },
    ]);
    const result = await runCli('run', file, '--site-lost', 'east', '--dry-run');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /plan\.yaml:\d+:\d+: DRCTL_SITE_FAILOVER_MISSING workload b is served from site east but has no failover runbook/,
    );
  });

  it('joins children after the workloads they depend on, entry steps needing their last steps', async () => {
    const plan = await loadPlan(EXAMPLE);
    const recovery = siteRecovery(plan, 'region-a');
    expect(recovery.waves).toEqual([
      ['catalog', 'accounts'],
      ['orders', 'recommendations'],
    ]);
    const declare = recovery.runbook.steps.find((step) => step.id === 'orders.declare');
    expect(declare?.needs).toEqual(['catalog.confirm-snapshot-age', 'accounts.check-sign-in']);
    expect(analyzeSite(plan, 'region-a').order.map((child) => child.workload)).toEqual([
      'catalog',
      'accounts',
      'orders',
      'recommendations',
    ]);
  });
});

function catching<T>(fn: () => T): T extends Promise<unknown> ? Promise<DrctlError> : DrctlError {
  const fail = (error: unknown): DrctlError => {
    expect(error).toBeInstanceOf(DrctlError);
    return error as DrctlError;
  };
  try {
    const value = fn();
    if (value instanceof Promise)
      return value.then(() => fail(new Error('expected an error')), fail) as T extends Promise<unknown>
        ? Promise<DrctlError>
        : DrctlError;
  } catch (error) {
    return fail(error) as T extends Promise<unknown> ? Promise<DrctlError> : DrctlError;
  }
  return fail(new Error('expected an error')) as T extends Promise<unknown>
    ? Promise<DrctlError>
    : DrctlError;
}
