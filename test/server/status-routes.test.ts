/**
 * The status page and the incident API over HTTP, in process: /status, /status.json and the Atom feed
 * need no sign-in; opening, updating and resolving incidents needs an operator; the flows an incident
 * affects are the ones the plan's dependency graph says; a failover run started through the API opens
 * its own incident and moves it to monitoring when it succeeds.
 */
import { describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../src/status/index.ts';
import { eventually, testServer } from './support.ts';
import type { TestServer } from './support.ts';

const SECRET = 'status-route-s3cret-value';

/** shop's Browse survives losing db (read-only); billing's ledger needs shop's db; reports needs nothing of it. */
const WORKLOADS = [
  {
    id: 'shop',
    name: 'Shop',
    tier: 1,
    strategy: 'hot-standby',
    owner: 'alice',
    flows: [
      {
        name: 'Browse',
        users: 'customers',
        impact: 'no sales',
        degraded: 'the catalogue is read-only',
        survives: ['db'],
      },
      { name: 'Checkout', users: 'customers', impact: 'lost revenue' },
    ],
    components: [
      { id: 'db', kind: 'database' },
      { id: 'api', kind: 'http-service', depends_on: ['db'] },
    ],
    runbooks: {
      failover: {
        steps: [
          { id: 'promote', run: 'true', validate: [{ run: 'true', component: 'db' }] },
          { id: 'switch', needs: ['promote'], run: 'sleep 0.3' },
        ],
      },
    },
  },
  {
    id: 'billing',
    name: 'Billing',
    tier: 2,
    strategy: 'backup-restore',
    owner: 'dave',
    flows: [{ name: 'Invoices', users: 'finance', impact: 'late invoices' }],
    components: [{ id: 'ledger', kind: 'service', depends_on: ['db'] }],
  },
  {
    id: 'reports',
    name: 'Reports',
    tier: 3,
    strategy: 'backup-restore',
    owner: 'carol',
    flows: [{ name: 'Monthly report', users: 'board', impact: 'late report' }],
    components: [{ id: 'warehouse', kind: 'database' }],
  },
];

type Incident = { id: string; state: string; updates: Array<{ state: string; body: string; by: string }> };

async function statusJson(t: TestServer): Promise<StatusSnapshot> {
  const response = await t.call('GET', '/status.json');
  expect(response.status).toBe(200);
  return (await response.json()) as StatusSnapshot;
}

/** The page is cached for half a second under load: wait until it shows what `check` wants. */
function statusUntil(t: TestServer, check: (s: StatusSnapshot) => boolean): Promise<StatusSnapshot> {
  return eventually(async () => {
    const snapshot = await statusJson(t);
    return check(snapshot) ? snapshot : undefined;
  }, 5_000);
}

describe('status page and incident API over HTTP', async () => {
  process.env.STATUS_ROUTE_SECRET = SECRET;
  const t = await testServer({
    extra: { name: 'Acme', workloads: WORKLOADS, secrets: { env: ['STATUS_ROUTE_SECRET'] } },
  });
  let opened: Incident;

  it('serves /status as a self-contained HTML page to someone not signed in, all operational at first', async () => {
    const response = await t.call('GET', '/status', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('<title>Acme status</title>');
    expect(html).toContain('All systems operational');
    expect(html).toContain('No open incidents.');
    expect(html).not.toMatch(/<script|<link rel="stylesheet"/);
    expect([...html.matchAll(/data-flow="([^"]+)" data-state="([^"]+)"/g)].map((m) => [m[1], m[2]])).toEqual([
      ['Browse', 'operational'],
      ['Checkout', 'operational'],
      ['Invoices', 'operational'],
      ['Monthly report', 'operational'],
    ]);
  });

  it('refuses to open an incident without a token (401) or with a viewer token (403), opening nothing', async () => {
    const body = { title: 'Database down', components: ['db'], body: 'Looking into it.' };
    const anonymous = await t.json<{ error: { code: string } }>('POST', '/api/v1/incidents', { body });
    expect(anonymous.status).toBe(401);
    const viewer = await t.json<{ error: { code: string } }>('POST', '/api/v1/incidents', {
      token: t.tokens.vera,
      body,
    });
    expect(viewer.status).toBe(403);
    const approver = await t.json('POST', '/api/v1/incidents', { token: t.tokens.bob, body });
    expect(approver.status).toBe(403);
    const listed = await t.json<{ incidents: unknown[] }>('GET', '/api/v1/incidents', {
      token: t.tokens.vera,
    });
    expect(listed.body.incidents).toEqual([]);
  });

  it('opens an incident with an operator token and shows the flows the graph says on all three status routes', async () => {
    const created = await t.json<Incident>('POST', '/api/v1/incidents', {
      token: t.tokens.alice,
      body: { title: 'Database unreachable', components: ['db'], body: 'We are looking into it.' },
    });
    expect(created.status).toBe(201);
    opened = created.body;
    expect(opened).toMatchObject({
      state: 'investigating',
      updates: [{ state: 'investigating', body: 'We are looking into it.', by: 'alice' }],
    });
    const status = await statusUntil(t, (s) => s.incidents.length === 1);
    expect(status.overall).toBe('major-outage');
    // Browse survives db (degraded); Checkout needs db; billing's ledger depends on db; reports does not
    expect(status.incidents[0]!.affected).toEqual([
      { workload: 'shop', flow: 'Browse', state: 'degraded' },
      { workload: 'shop', flow: 'Checkout', state: 'major-outage' },
      { workload: 'billing', flow: 'Invoices', state: 'major-outage' },
    ]);
    expect(status.workloads.map((w) => [w.id, w.state])).toEqual([
      ['shop', 'major-outage'],
      ['billing', 'major-outage'],
      ['reports', 'operational'],
    ]);
    const html = await (await t.call('GET', '/status')).text();
    expect(html).toContain('Database unreachable');
    expect(html).toContain('the catalogue is read-only');
    expect(html).toMatch(/<li class="s-degraded" data-flow="shop\/Browse">Browse/);
    const feed = await t.call('GET', '/status/feed.atom');
    expect(feed.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    const atom = await feed.text();
    expect(atom).toContain('<title>Database unreachable: Investigating</title>');
    expect(atom).toContain('We are looking into it. Affected: Browse, Checkout, Invoices.');
  });

  it('refuses updates and resolution without an operator token, changing nothing', async () => {
    const path = `/api/v1/incidents/${opened.id}`;
    for (const [suffix, body] of [
      ['/updates', { body: 'Cause found.', state: 'identified' }],
      ['/resolve', { body: 'Fixed.' }],
    ] as const) {
      expect((await t.json('POST', `${path}${suffix}`, { body })).status).toBe(401);
      expect((await t.json('POST', `${path}${suffix}`, { token: t.tokens.vera, body })).status).toBe(403);
    }
    const { body } = await t.json<Incident>('GET', path, { token: t.tokens.vera });
    expect(body.state).toBe('investigating');
    expect(body.updates).toHaveLength(1);
  });

  it('posts time-stamped updates, resolves the incident and keeps it in the history, newest update first', async () => {
    const path = `/api/v1/incidents/${opened.id}`;
    const identified = await t.json<Incident>('POST', `${path}/updates`, {
      token: t.tokens.alice,
      body: { body: 'The primary lost its disk; failing over.', state: 'identified' },
    });
    expect(identified).toMatchObject({ status: 200, body: { state: 'identified' } });
    const resolved = await t.json<Incident>('POST', `${path}/resolve`, {
      token: t.tokens.otto,
      body: { body: 'Running on the standby; all good.' },
    });
    expect(resolved.body.state).toBe('resolved');
    expect(resolved.body.updates.map((u) => [u.state, u.by])).toEqual([
      ['investigating', 'alice'],
      ['identified', 'alice'],
      ['resolved', 'otto'],
    ]);
    const status = await statusUntil(t, (s) => s.incidents.length === 0);
    expect(status.overall).toBe('operational');
    expect(status.history[0]).toMatchObject({ id: opened.id, state: 'resolved' });
    expect(status.history[0]!.updates.map((u) => u.body)).toEqual([
      'Running on the standby; all good.',
      'The primary lost its disk; failing over.',
      'We are looking into it.',
    ]);
    expect(status.history[0]!.updates.every((u) => !Number.isNaN(Date.parse(u.at)))).toBe(true);
    const html = await (await t.call('GET', '/status')).text();
    expect(html).toMatch(/Past incidents<\/h2><article class="card incident [^"]*" data-id="inc-/);
  });

  it('answers a resolved incident with 409, an unknown one with 404 and an unknown component with 400', async () => {
    const late = await t.json<{ error: { code: string } }>('POST', `/api/v1/incidents/${opened.id}/updates`, {
      token: t.tokens.alice,
      body: { body: 'One more thing.' },
    });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'DRCTL_INCIDENT_RESOLVED' } } });
    const missing = await t.json<{ error: { code: string } }>('POST', '/api/v1/incidents/inc-nope/resolve', {
      token: t.tokens.alice,
      body: { body: 'Over.' },
    });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'DRCTL_INCIDENT_NOT_FOUND' } } });
    const unknown = await t.json<{ error: { code: string; field: string } }>('POST', '/api/v1/incidents', {
      token: t.tokens.alice,
      body: { title: 'Bad', components: ['mainframe'], body: 'x' },
    });
    expect(unknown).toMatchObject({
      status: 400,
      body: { error: { code: 'DRCTL_API_UNKNOWN_COMPONENT', field: 'body.components' } },
    });
  });

  it('never shows a plan secret on the status page, even when an operator quotes it in an update', async () => {
    const created = await t.json<Incident>('POST', '/api/v1/incidents', {
      token: t.tokens.alice,
      body: { title: 'Reports slow', components: ['warehouse'], body: `password ${SECRET} rotated` },
    });
    expect(created.status).toBe(201);
    const status = await statusUntil(t, (s) => s.incidents.some((i) => i.title === 'Reports slow'));
    const everything = [
      JSON.stringify(status),
      await (await t.call('GET', '/status')).text(),
      await (await t.call('GET', '/status/feed.atom')).text(),
    ].join('\n');
    expect(everything).toContain('password ');
    expect(everything).not.toContain(SECRET);
    await t.json('POST', `/api/v1/incidents/${created.body.id}/resolve`, {
      token: t.tokens.alice,
      body: { body: 'done' },
    });
  });

  it('opens an incident when a failover run starts through the API and moves it to monitoring when it succeeds', async () => {
    const started = await t.json<{ id: string }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { runbook: 'shop/failover' },
    });
    expect(started.status).toBe(201);
    const id = `run-${started.body.id}`;
    const during = await statusUntil(t, (s) => s.incidents.some((i) => i.id === id));
    const incident = during.incidents.find((i) => i.id === id)!;
    expect(incident.title).toBe('Shop: failover in progress');
    // the runbook acts on db only: the same flows as a lost database
    expect(incident.affected.map((a) => `${a.workload}/${a.flow}:${a.state}`)).toEqual([
      'shop/Browse:degraded',
      'shop/Checkout:major-outage',
      'billing/Invoices:major-outage',
    ]);
    const after = await statusUntil(t, (s) => s.incidents.find((i) => i.id === id)?.state === 'monitoring');
    expect(after.incidents.find((i) => i.id === id)!.updates.map((u) => u.state)).toEqual([
      'monitoring',
      'identified',
    ]);
    // monitoring: the flows are back while the team watches
    expect(after.overall).toBe('operational');
  });
});
