import { describe, expect, it } from 'vitest';
import { BASELINE_YAML, NOW, baseline, codes, findings, loadYaml, stepOf } from './baseline.ts';
import { analyzePlan } from '../../src/analysis/index.ts';

describe('shared failure domains', () => {
  it('reports DRCTL_SHARED_FAILURE_DOMAIN when a tier 1 workload recovers into the same region', async () => {
    const plan = await baseline();
    Object.assign(plan.sites[0]!, { provider: 'azure', region: 'westeurope', failureDomains: [] });
    Object.assign(plan.sites[1]!, { provider: 'azure', region: 'northeurope', failureDomains: [] });
    // another region of the same cloud: tier 1 accepts a provider-wide risk by default
    expect(codes(plan)).not.toContain('DRCTL_SHARED_FAILURE_DOMAIN');
    plan.sites[1]!.region = 'westeurope';
    expect(findings(plan, 'DRCTL_SHARED_FAILURE_DOMAIN').map((f) => f.message)).toEqual([
      'workload shop (tier 1) recovers from east to west, which share region westeurope: one failure there takes both',
    ]);
  });

  it('refuses any shared domain for tier 0 and reads named domains and overrides from the plan', async () => {
    const yaml = BASELINE_YAML.replace(
      '  east: { role: primary }\n  west: { role: secondary }',
      '  east: { role: primary, provider: aws, failure_domains: [okta] }\n  west: { role: secondary, provider: aws, failure_domains: [okta] }',
    );
    const plan = await loadYaml(yaml);
    expect(plan.sites[0]?.failureDomains).toEqual(['okta']);
    plan.workloads[0]!.tier = 0;
    const shared = analyzePlan(plan, { now: NOW }).findings.filter(
      (f) => f.code === 'DRCTL_SHARED_FAILURE_DOMAIN',
    );
    expect(shared[0]?.message).toContain('share provider aws, okta');
    expect(shared[0]?.hint).toContain('accepts_shared: [provider, okta]');
    const accepted = await loadYaml(
      yaml.replace('workloads:', "tiers: { '1': { accepts_shared: [provider, okta] } }\nworkloads:"),
    );
    expect(codes(accepted)).not.toContain('DRCTL_SHARED_FAILURE_DOMAIN');
  });

  it('names the steps a lost control plane blocks in a control-plane-access scenario', async () => {
    const plan = await baseline();
    Object.assign(plan.sites[0]!, { provider: 'azure' });
    Object.assign(plan.sites[1]!, { provider: 'azure' });
    stepOf(plan, 'failover', 'start-api').controlPlane = 'azure';
    plan.drills.scenarios.push({
      id: 'portal-down',
      description: undefined,
      disaster: 'control-plane-access',
      type: 'tabletop',
      workload: 'shop',
      runbook: 'failover',
      provider: undefined,
      faults: [],
      announce: false,
      expect: { rtoMs: 0, rpoMs: 0, failover: undefined },
      environment: 'drill',
      blastRadius: undefined,
      guards: [],
      maxDurationMs: 600_000,
      at: plan.at,
    });
    expect(findings(plan, 'DRCTL_CONTROL_PLANE_BLOCKED').map((f) => f.message)).toEqual([
      'in scenario portal-down (control-plane-access of azure), 1 step of runbook failover cannot run: start-api',
    ]);
    // a provider-wide loss also blocks every step acting on a site of that provider
    plan.drills.scenarios[0]!.disaster = 'provider-wide';
    expect(findings(plan, 'DRCTL_CONTROL_PLANE_BLOCKED')[0]?.message).toContain(
      '2 steps of runbook failover cannot run: promote-db, start-api',
    );
  });
});
