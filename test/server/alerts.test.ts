/**
 * Alertmanager's webhook starts recoveries that wait at their declaration: a site alert opens the site's
 * run, a workload alert its failover; repeats and a second alert for the same site join the open run; a
 * resolved alert cancels a run nobody declared yet; labels no site or workload names change nothing.
 */
import { describe, expect, it } from 'vitest';
import { eventually, testServer } from './support.ts';

const placed = { east: { url: 'http://127.0.0.1:1' }, west: { url: 'http://127.0.0.1:2', standby: true } };
const workload = (id: string, dependsOn: string[], alerts?: Record<string, string>) => ({
  id,
  tier: 1,
  strategy: 'hot-standby',
  owner: 'alice',
  ...(alerts === undefined ? {} : { alerts }),
  components: [{ id: `${id}-api`, kind: 'http-service', placement: placed, depends_on: dependsOn }],
  runbooks: { failover: { steps: [{ id: 'go', run: `echo ${id} >> recovered.log` }] } },
});

/** One alert as Alertmanager (webhook version 4) sends it. */
function webhook(status: 'firing' | 'resolved', labels: Record<string, string>, fingerprint: string) {
  return {
    version: '4',
    groupKey: `{}:{alertname="${labels.alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'drctl',
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: { summary: 'east stopped answering' },
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status,
        labels,
        annotations: { summary: 'east stopped answering' },
        startsAt: '2026-12-06T10:00:00Z',
        endsAt: status === 'resolved' ? '2026-12-06T10:05:00Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example:9090/graph',
        fingerprint,
      },
    ],
  };
}

interface Answer {
  alerts: Array<{ fingerprint: string; outcome: string; site?: string; workload?: string; runId?: string }>;
}

describe('POST /api/v1/alerts', async () => {
  const t = await testServer({
    extra: {
      sites: { east: { role: 'primary', alerts: { region: 'east' } }, west: { role: 'secondary' } },
      activation: { criteria: ['east unreachable'], approvers: ['bob'], quorum: 1 },
      workloads: [workload('shop', ['accounts-api'], { service: 'shop' }), workload('accounts', [])],
    },
  });
  const post = (body: unknown, token = t.tokens.alan) =>
    t.json<Answer>('POST', '/api/v1/alerts', { token, body });

  it('starts the site recovery and waits at its declaration, never past it', async () => {
    const { status, body } = await post(webhook('firing', { alertname: 'SiteDown', region: 'east' }, 'f1'));
    expect(status).toBe(200);
    expect(body.alerts).toEqual([
      { fingerprint: 'f1', outcome: 'started', site: 'east', runId: expect.any(String) },
    ]);
    const runId = body.alerts[0]?.runId as string;
    const view = await eventually(async () => {
      const { body: run } = await t.json<{
        status: string;
        workload: string;
        waiting: Array<{ step: string; on: string[] }>;
        steps: Array<{ id: string; status: string }>;
      }>('GET', `/api/v1/runs/${runId}`, { token: t.tokens.vera });
      return run.status === 'waiting' ? run : undefined;
    });
    expect(view.workload).toBe('site:east');
    expect(view.waiting).toEqual([expect.objectContaining({ step: 'activation', on: ['bob'] })]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { body: later } = await t.json<{ steps: Array<{ id: string; status: string }> }>(
      'GET',
      `/api/v1/runs/${runId}`,
      {
        token: t.tokens.vera,
      },
    );
    expect(later.steps.map((step) => [step.id, step.status])).toEqual([
      ['activation', 'waiting'],
      ['accounts.go', 'pending'],
      ['shop.go', 'pending'],
    ]);
  });

  it('joins a repeated alert and a second alert for the same site to the open run', async () => {
    const first = (await post(webhook('firing', { alertname: 'SiteDown', region: 'east' }, 'f1'))).body
      .alerts[0];
    const other = (
      await post(webhook('firing', { alertname: 'ProbeFailed', region: 'east', job: 'blackbox' }, 'f2'))
    ).body.alerts[0];
    expect(first?.outcome).toBe('joined');
    expect(other).toMatchObject({ outcome: 'joined', site: 'east', runId: first?.runId });
    const runs = await t.json<{ runs: Array<{ workload: string }> }>('GET', '/api/v1/runs', {
      token: t.tokens.vera,
    });
    expect(runs.body.runs.filter((run) => run.workload === 'site:east')).toHaveLength(1);
  });

  it('answers two alerts for the same site posted at once with one run', async () => {
    const [a, b] = await Promise.all([
      post(webhook('firing', { alertname: 'A', service: 'shop' }, 'w1')),
      post(webhook('firing', { alertname: 'B', service: 'shop' }, 'w2')),
    ]);
    const outcomes = [a.body.alerts[0], b.body.alerts[0]];
    expect(outcomes.map((o) => o?.outcome).sort()).toEqual(['joined', 'started']);
    expect(outcomes[0]?.runId).toBe(outcomes[1]?.runId);
    expect(outcomes[0]?.workload).toBe('shop');
  });

  it('cancels a run still waiting at its declaration when its alert resolves', async () => {
    const { body } = await post(webhook('resolved', { alertname: 'SiteDown', region: 'east' }, 'f1'));
    expect(body.alerts[0]).toMatchObject({ outcome: 'cancelled', site: 'east' });
    const runId = body.alerts[0]?.runId as string;
    await eventually(async () => {
      const { body: run } = await t.json<{ status: string }>('GET', `/api/v1/runs/${runId}`, {
        token: t.tokens.vera,
      });
      return run.status === 'cancelled' ? true : undefined;
    });
    expect(
      (await post(webhook('resolved', { alertname: 'SiteDown', region: 'east' }, 'f1'))).body.alerts[0]
        ?.outcome,
    ).toBe('resolved');
  });

  it('changes nothing for labels no site or workload names, and takes alerts only from its own role', async () => {
    const before = (await t.server.ctx.store.listRuns({ limit: 100 })).length;
    const { body } = await post(webhook('firing', { alertname: 'DiskFull', region: 'north' }, 'x1'));
    expect(body.alerts).toEqual([{ fingerprint: 'x1', outcome: 'unmatched' }]);
    expect((await t.server.ctx.store.listRuns({ limit: 100 })).length).toBe(before);
    expect(
      (await post(webhook('firing', { alertname: 'SiteDown', region: 'east' }, 'f9'), t.tokens.alice)).status,
    ).toBe(403);
  });
});
