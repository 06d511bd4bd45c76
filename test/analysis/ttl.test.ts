import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import type { ObservedDelay } from '../../src/analysis/index.ts';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { renderMarkdown } from '../../src/render/index.ts';
import { tempDir } from '../support/tmp.ts';
import { BASELINE_YAML, NOW } from './baseline.ts';

/** The baseline with a DNS switch after start-api, its TTL and the workload's RTO as the test says. */
async function withDnsSwitch(ttl: string, rto: string, observedDelays: ObservedDelay[] = []) {
  const step = `          - id: dns-west
            needs: [start-api]
            action: dns.set
            with: { server: "192.0.2.53", zone: example.com, name: shop, type: A, values: [198.51.100.10], ttl: ${ttl}, tsig: { name: drctl-key, secret_env: DNS_SECRET } }
            expected: 5s
            validate: [{ check: dns.check, with: { server: "192.0.2.53", zone: example.com, name: shop, type: A, values: [198.51.100.10] } }]
`;
  const yaml = BASELINE_YAML.replace('      failback:\n', `${step}      failback:\n`).replace(
    '    strategy: hot-standby\n',
    `    strategy: hot-standby\n    rto: ${rto}\n`,
  );
  const file = join(tempDir(), 'plan.yaml');
  writeFileSync(file, yaml);
  const plan = await loadPlanForCommand(file);
  return { plan, analysis: analyzePlan(plan, { now: NOW, observedDelays }) };
}

const codes = (analysis: ReturnType<typeof analyzePlan>) =>
  analysis.findings.map((f) => f.code).filter((c) => c.startsWith('DRCTL_TTL') || c === 'DRCTL_RTO_EXCEEDED');

describe('the TTL of a DNS switch in the analysis', () => {
  it('adds the TTL to the critical path as the time until clients move', async () => {
    const { plan, analysis } = await withDnsSwitch('300', '30m');
    const failover = analysis.runbooks.find((r) => r.runbook === 'failover')!;
    // declare 5m + promote 1m + start 1m + switch 5s + TTL 5m
    expect(failover.criticalPath).toMatchObject({
      ms: 725_000,
      steps: ['declare', 'promote-db', 'start-api', 'dns-west'],
    });
    expect(codes(analysis)).toEqual([]);
    const markdown = renderMarkdown(plan, { now: NOW });
    expect(markdown).toContain(
      '5s expected + 0s contingency + 5m until clients move (TTL of shop A) = 5m 5s',
    );
  });

  it('reports DRCTL_TTL_MISSES_RTO when the path fits the RTO only without the TTL', async () => {
    const { analysis } = await withDnsSwitch('5m', '10m');
    expect(codes(analysis)).toEqual(['DRCTL_RTO_EXCEEDED', 'DRCTL_TTL_MISSES_RTO']);
    const found = analysis.findings.find((f) => f.code === 'DRCTL_TTL_MISSES_RTO')!;
    expect(found).toMatchObject({
      severity: 'error',
      subject: { workload: 'shop', runbook: 'failover', step: 'dns-west' },
    });
    expect(found.message).toBe(
      'runbook failover of workload shop fits its RTO of 10m until clients wait out the TTL of shop A after dns-west: 12m 5s in all',
    );
    expect(found.hint).toMatch(
      /^lower the TTL to well under the RTO \(1m or less\).*switch at a proxy layer/,
    );
  });

  it('reports DRCTL_TTL_EXCEEDS_RTO when the TTL alone is not under the RTO', async () => {
    const { analysis } = await withDnsSwitch('3600', '30m');
    expect(codes(analysis)).toEqual(['DRCTL_RTO_EXCEEDED', 'DRCTL_TTL_EXCEEDS_RTO']);
    expect(analysis.findings.find((f) => f.code === 'DRCTL_TTL_EXCEEDS_RTO')!.message).toBe(
      'step dns-west of runbook failover: clients move only after the TTL of shop A, 1h, not under the RTO of 30m of workload shop',
    );
  });

  it('judges the TTL the server serves now when it is longer than the one the step sets', async () => {
    // the step sets 5 s; the record clients hold now was served with 1 h (never lowered ahead of a failover)
    const served = [{ key: 'dns-ttl shop.example.com A', ms: 3_600_000 }];
    const { analysis } = await withDnsSwitch('5', '30m', served);
    expect(codes(analysis)).toEqual(['DRCTL_RTO_EXCEEDED', 'DRCTL_TTL_EXCEEDS_RTO']);
    expect(analysis.findings.find((f) => f.code === 'DRCTL_TTL_EXCEEDS_RTO')!.message).toBe(
      'step dns-west of runbook failover: clients move only after the TTL of shop A as served now (the step sets 5s), 1h, not under the RTO of 30m of workload shop',
    );
    const failover = analysis.runbooks.find((r) => r.runbook === 'failover')!;
    expect(failover.criticalPath.ms).toBe(3_600_000 + 425_000);
    // a served TTL under the step's, or of another record, changes nothing
    for (const other of [
      [{ key: 'dns-ttl shop.example.com A', ms: 1_000 }],
      [{ key: 'dns-ttl www.example.com A', ms: 3_600_000 }],
    ]) {
      const { analysis: unchanged } = await withDnsSwitch('5', '30m', other);
      expect(codes(unchanged)).toEqual([]);
      expect(unchanged.runbooks.find((r) => r.runbook === 'failover')!.criticalPath.ms).toBe(430_000);
    }
  });
});
