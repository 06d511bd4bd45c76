/** The API in process: every route, with the roles, validation, errors and redaction people rely on. */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { eventually, testServer } from './support.ts';
import type { TestServer } from './support.ts';

type Run = {
  id: string;
  status: string;
  drivenHere: boolean;
  startedBy: string;
  steps: Array<{
    id: string;
    status: string;
    waitingFor?: string;
    approvedBy: string[];
    evidence: Array<{ name: string; value: unknown; by: string }>;
  }>;
};

async function startRun(t: TestServer, token = t.tokens.alice): Promise<Run> {
  const started = await t.json<Run>('POST', '/api/v1/runs', { token, body: { runbook: 'shop/failover' } });
  expect(started.status).toBe(201);
  return started.body;
}

async function waitFor(t: TestServer, runId: string, check: (run: Run) => boolean): Promise<Run> {
  return eventually(async () => {
    const { body } = await t.json<Run>('GET', `/api/v1/runs/${runId}`, { token: t.tokens.vera });
    return check(body) ? body : undefined;
  });
}

const stepOf = (run: Run, id: string) => run.steps.find((step) => step.id === id);

describe('drctl serve API', async () => {
  process.env.SERVE_TEST_SECRET = 'hunter2-very-secret';
  const t = await testServer({
    extra: { secrets: { env: ['SERVE_TEST_SECRET'] } },
    routes: [
      (api) =>
        api.route({
          method: 'GET',
          path: '/test/broken',
          role: 'viewer',
          summary: 'Fail on purpose',
          handler: () => {
            throw new Error('disk on fire at /secret/path.ts:12');
          },
        }),
    ],
  });

  it('answers liveness and lists every API route in the OpenAPI document', async () => {
    const health = await t.json<{ ok: boolean; plans: string[] }>('GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { ok: true, plans: ['engine test'] } });
    const { body } = await t.json<{
      openapi: string;
      paths: Record<string, Record<string, { 'x-drctl-role': string }>>;
    }>('GET', '/openapi.json');
    expect(body.openapi).toBe('3.1.0');
    const documented = Object.entries(body.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const registered = t.server.api.routes
      .filter((route) => route.path.startsWith('/api/v1'))
      .map((route) => `${route.method} ${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual(registered.sort());
    expect(registered.length).toBeGreaterThan(20);
    expect(body.paths['/api/v1/runs']?.post?.['x-drctl-role']).toBe('operator');
  });

  it('creates, lists and revokes tokens for admins only, never showing a secret twice', async () => {
    const created = await t.json<{ id: string; token: string; name: string }>('POST', '/api/v1/tokens', {
      token: t.tokens.ada,
      body: { name: 'dave', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^drctl_[0-9a-f]{12}\./);
    expect((await t.json('GET', '/api/v1/readiness', { token: created.body.token })).status).toBe(200);
    const listed = await t.call('GET', '/api/v1/tokens', { token: t.tokens.ada });
    const text = await listed.text();
    expect(text).toContain('dave');
    expect(text).not.toContain(created.body.token.split('.')[1]);
    expect(text).not.toContain('hash');
    expect((await t.json('GET', '/api/v1/tokens', { token: t.tokens.alice })).status).toBe(403);
    const revoked = await t.json<{ revokedBy: string }>('DELETE', `/api/v1/tokens/${created.body.id}`, {
      token: t.tokens.ada,
    });
    expect(revoked.body.revokedBy).toBe('ada');
    const refused = await t.json<{ error: { code: string } }>('GET', '/api/v1/readiness', {
      token: created.body.token,
    });
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'DRCTL_API_TOKEN_INVALID' } } });
    expect((await t.json('DELETE', '/api/v1/tokens/000000000000', { token: t.tokens.ada })).status).toBe(404);
  });

  it('signs the console in with a session cookie and requires its CSRF token on every mutating call', async () => {
    const signIn = await t.call('POST', '/api/v1/session', { body: { token: t.tokens.alice } });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/drctl_session=[^;]+/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const { csrf } = (await signIn.json()) as { csrf: string };
    const session = cookie.split(';')[0] as string;
    const me = await t.call('GET', '/api/v1/session', { headers: { cookie: session } });
    expect(await me.json()).toMatchObject({ name: 'alice', role: 'operator', csrf });
    const noCsrf = await t.call('POST', '/api/v1/runs', {
      headers: { cookie: session },
      body: { runbook: 'failover' },
    });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: { code: string } }).error.code).toBe('DRCTL_API_CSRF');
    const withCsrf = await t.call('POST', '/api/v1/runs', {
      headers: { cookie: session, 'x-csrf-token': csrf },
      body: { runbook: 'failover' },
    });
    expect(withCsrf.status).toBe(201);
    await t.server.ctx.runs.cancel(((await withCsrf.json()) as Run).id, 'alice', 'test done');
    const form = new FormData();
    form.set('_csrf', csrf);
    expect(
      (await t.call('DELETE', '/api/v1/session', { headers: { cookie: session }, body: form })).status,
    ).toBe(200);
    expect((await t.call('GET', '/api/v1/session', { headers: { cookie: session } })).status).toBe(401);
  });

  it('answers a sign-in form with a redirect, back to the sign-in page when the token is wrong', async () => {
    const good = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.tokens.bob, next: '/runs' }).toString(),
    });
    expect(good.status).toBe(303);
    expect(good.headers.get('location')).toBe('/runs');
    const offsite = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.tokens.bob, next: '//evil.example' }).toString(),
    });
    expect(offsite.headers.get('location')).toBe('/');
    const bad = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'drctl_000000000000.nope' }).toString(),
    });
    expect(bad.status).toBe(303);
    expect(bad.headers.get('location')).toMatch(/^\/sign-in\?error=invalid/);
  });

  it('serves the plans, their workloads and the rendered runbook', async () => {
    const plans = await t.json<{ plans: Array<{ name: string; workloads: Array<{ runbooks: string[] }> }> }>(
      'GET',
      '/api/v1/plans',
      { token: t.tokens.vera },
    );
    expect(plans.body.plans[0]?.workloads[0]?.runbooks).toEqual(['shop/failover']);
    const workloads = await t.json<{ workloads: Array<{ id: string; tier: number }> }>(
      'GET',
      '/api/v1/workloads',
      { token: t.tokens.vera },
    );
    expect(workloads.body.workloads).toMatchObject([{ id: 'shop', tier: 1 }]);
    const shop = await t.json<{ workload: { runbooks: Array<{ steps: unknown[] }> } }>(
      'GET',
      '/api/v1/workloads/shop',
      { token: t.tokens.vera },
    );
    expect(shop.body.workload.runbooks[0]?.steps).toHaveLength(3);
    expect((await t.json('GET', '/api/v1/workloads/nope', { token: t.tokens.vera })).status).toBe(404);
    const html = await t.call('GET', `/api/v1/plans/${encodeURIComponent('engine test')}/runbook`, {
      token: t.tokens.vera,
    });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toContain('declare');
    const md = await t.call('GET', `/api/v1/plans/${encodeURIComponent('engine test')}/runbook?format=md`, {
      token: t.tokens.vera,
    });
    expect(await md.text()).toMatch(/^# /m);
    expect((await t.json('GET', '/api/v1/plans/nope/runbook', { token: t.tokens.vera })).status).toBe(404);
    const reload = await t.json<{ plans: unknown[] }>('POST', '/api/v1/plans/reload', {
      token: t.tokens.ada,
      body: {},
    });
    expect(reload).toMatchObject({ status: 200, body: { plans: [{ name: 'engine test' }] } });
  });

  it('answers readiness from the background check and checks again on request', async () => {
    const checked = await t.json<{
      workloads: Array<{ id: string; light: string; reasons: string[] }>;
      checkedAt: string;
    }>('POST', '/api/v1/readiness/check', {
      token: t.tokens.alice,
      body: {},
    });
    expect(checked.status).toBe(200);
    expect(checked.body.checkedAt).toBeDefined();
    expect(checked.body.workloads[0]).toMatchObject({ id: 'shop' });
    expect(checked.body.workloads[0]?.reasons).toContain('never drilled');
    const read = await t.json('GET', '/api/v1/readiness', { token: t.tokens.vera });
    expect(read.body).toEqual(checked.body);
  });

  it('runs a runbook: confirm with evidence and a file, four-eyes refused, approved by another, finished', async () => {
    const run = await startRun(t);
    expect(run).toMatchObject({ startedBy: 'alice', drivenHere: true });
    await waitFor(t, run.id, (r) => stepOf(r, 'check')?.waitingFor === 'confirmation');
    const form = new FormData();
    form.set('note', 'dashboard is green');
    form.set('evidence', `all good, the password is ${process.env.SERVE_TEST_SECRET}`);
    form.set('file', new Blob(['east: down\nwest: up\n'], { type: 'text/plain' }), 'screenshot.txt');
    const confirmed = await t.json<Run>('POST', `/api/v1/runs/${run.id}/steps/check/confirm`, {
      token: t.tokens.alice,
      body: form,
    });
    expect(confirmed.status).toBe(200);
    const evidence = stepOf(confirmed.body, 'check')?.evidence ?? [];
    expect(evidence).toEqual([
      { name: 'text', value: 'all good, the password is [redacted:SERVE_TEST_SECRET]', by: 'alice' },
      { name: 'screenshot.txt', value: 'east: down\nwest: up\n', by: 'alice' },
    ]);
    await waitFor(t, run.id, (r) => stepOf(r, 'declare')?.waitingFor === 'approval');
    const byOperator = await t.json<{ error: { code: string } }>(
      'POST',
      `/api/v1/runs/${run.id}/steps/declare/approve`,
      { token: t.tokens.otto, body: {} },
    );
    expect(byOperator).toMatchObject({ status: 403, body: { error: { code: 'DRCTL_API_FORBIDDEN' } } });
    const byStarter = await t.json<{ error: { code: string } }>(
      'POST',
      `/api/v1/runs/${run.id}/steps/declare/approve`,
      {
        token: (
          await t.json<{ token: string }>('POST', '/api/v1/tokens', {
            token: t.tokens.ada,
            body: { name: 'alice', role: 'admin' },
          })
        ).body.token,
        body: {},
      },
    );
    expect(byStarter).toMatchObject({ status: 403, body: { error: { code: 'DRCTL_APPROVAL_FOUR_EYES' } } });
    const notListed = await t.json<{ error: { code: string } }>(
      'POST',
      `/api/v1/runs/${run.id}/steps/declare/approve`,
      { token: t.tokens.carol, body: {} },
    );
    expect(notListed).toMatchObject({ status: 403, body: { error: { code: 'DRCTL_APPROVAL_NOT_ALLOWED' } } });
    const approved = await t.json<Run>('POST', `/api/v1/runs/${run.id}/steps/declare/approve`, {
      token: t.tokens.bob,
      body: { note: 'go' },
    });
    expect(stepOf(approved.body, 'declare')?.approvedBy).toEqual(['bob']);
    const done = await waitFor(t, run.id, (r) => r.status === 'succeeded');
    expect(done.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const journal = await t.json<{ records: Array<{ type: string; actor: string }> }>(
      'GET',
      `/api/v1/runs/${run.id}/journal`,
      { token: t.tokens.vera },
    );
    expect(journal.body.records.filter((r) => r.type === 'approval-granted').map((r) => r.actor)).toEqual([
      'bob',
    ]);
    expect(JSON.stringify(journal.body)).not.toContain(process.env.SERVE_TEST_SECRET);
    const later = await t.json<{ records: unknown[] }>('GET', `/api/v1/runs/${run.id}/journal?afterSeq=3`, {
      token: t.tokens.vera,
    });
    expect(later.body.records.length).toBe(journal.body.records.length - 3);
    const evidenceView = await t.json<{ steps: Array<{ step: string; evidence: unknown[] }> }>(
      'GET',
      `/api/v1/runs/${run.id}/evidence`,
      { token: t.tokens.vera },
    );
    expect(evidenceView.body.steps.find((s) => s.step === 'check')?.evidence).toHaveLength(2);
    const verified = await t.json<{ ok: boolean }>('GET', `/api/v1/runs/${run.id}/verify`, {
      token: t.tokens.vera,
    });
    expect(verified.body.ok).toBe(true);
    const listed = await t.json<{ runs: Array<{ id: string }> }>(
      'GET',
      '/api/v1/runs?status=succeeded&workload=shop',
      { token: t.tokens.vera },
    );
    expect(listed.body.runs.map((r) => r.id)).toContain(run.id);
    expect(
      (await t.json('POST', `/api/v1/runs/${run.id}/cancel`, { token: t.tokens.alice, body: {} })).status,
    ).toBe(409);
  });

  it('refuses "Confirm done" without the evidence the step asks for, and journals no empty evidence', async () => {
    const run = await startRun(t);
    await waitFor(t, run.id, (r) => stepOf(r, 'check')?.waitingFor === 'confirmation');
    const path = `/api/v1/runs/${run.id}/steps/check/confirm`;
    const empty = new FormData();
    empty.set('evidence', '  ');
    empty.set('file', new Blob([], { type: 'application/octet-stream' }), '');
    for (const body of [{}, { evidence: '' }, { evidence: { screenshot: ' ' } }, empty]) {
      const refused = await t.json<{ error: { code: string; message: string } }>('POST', path, {
        token: t.tokens.alice,
        body,
      });
      expect(refused).toMatchObject({ status: 400, body: { error: { code: 'DRCTL_EVIDENCE_REQUIRED' } } });
      expect(refused.body.error.message).toBe(
        'step check needs evidence before it is confirmed done: screenshot',
      );
    }
    const still = await t.json<Run>('GET', `/api/v1/runs/${run.id}`, { token: t.tokens.alice });
    expect(stepOf(still.body, 'check')).toMatchObject({ waitingFor: 'confirmation', evidence: [] });
    const confirmed = await t.json<Run>('POST', path, {
      token: t.tokens.alice,
      body: { evidence: { screenshot: 'green', extra: '' } },
    });
    expect(stepOf(confirmed.body, 'check')?.evidence).toEqual([
      { name: 'screenshot', value: 'green', by: 'alice' },
    ]);
    await t.json('POST', `/api/v1/runs/${run.id}/cancel`, {
      token: t.tokens.alice,
      body: { reason: 'test over' },
    });
  });

  it('rejects, cancels and decides through the engine, and resumes a run nobody drives', async () => {
    const rejected = await startRun(t);
    await waitFor(t, rejected.id, (r) => stepOf(r, 'check')?.waitingFor === 'confirmation');
    await t.json('POST', `/api/v1/runs/${rejected.id}/steps/check/confirm`, {
      token: t.tokens.alice,
      body: { evidence: { screenshot: 'seen' } },
    });
    await waitFor(t, rejected.id, (r) => stepOf(r, 'declare')?.waitingFor === 'approval');
    expect(
      (
        await t.json('POST', `/api/v1/runs/${rejected.id}/steps/declare/reject`, {
          token: t.tokens.bob,
          body: { reason: 'not yet' },
        })
      ).status,
    ).toBe(200);
    expect((await waitFor(t, rejected.id, (r) => r.status === 'failed')).status).toBe('failed');

    const cancelled = await startRun(t);
    await waitFor(t, cancelled.id, (r) => r.status === 'waiting');
    await t.json('POST', `/api/v1/runs/${cancelled.id}/cancel`, {
      token: t.tokens.alice,
      body: { reason: 'drill over' },
    });
    expect((await waitFor(t, cancelled.id, (r) => r.status === 'cancelled')).status).toBe('cancelled');

    // a run started elsewhere that stopped when it had to wait: nobody drives it until the server resumes it
    const plan = await loadPlan(t.planFile);
    const elsewhere = new Engine({ store: t.server.ctx.store, providers, stateDir: t.stateDir, pollMs: 20 });
    const driver = await elsewhere.start({
      plan,
      runbook: 'failover',
      startedBy: 'otto',
      returnWhenWaiting: true,
    });
    await driver.done;
    const resumed = await t.json<Run>('POST', `/api/v1/runs/${driver.runId}/resume`, {
      token: t.tokens.alice,
      body: {},
    });
    expect(resumed.body.drivenHere).toBe(true);
    await t.json('POST', `/api/v1/runs/${driver.runId}/steps/check/confirm`, {
      token: t.tokens.alice,
      body: { evidence: 'fine' },
    });
    await waitFor(t, driver.runId, (r) => stepOf(r, 'declare')?.waitingFor === 'approval');
    const decideWrong = await t.json<{ error: { code: string } }>(
      'POST',
      `/api/v1/runs/${driver.runId}/steps/declare/decide`,
      {
        token: t.tokens.alice,
        body: { choice: 'skip' },
      },
    );
    expect(decideWrong).toMatchObject({ status: 409, body: { error: { code: 'DRCTL_STEP_NOT_WAITING' } } });
    await t.json('POST', `/api/v1/runs/${driver.runId}/cancel`, { token: t.tokens.alice, body: {} });
    await waitFor(t, driver.runId, (r) => r.status === 'cancelled');
  });

  it('names the field of a bad request, answers 404 for unknown runs and 413 for bodies over 1 MB', async () => {
    const missing = await t.json<{ error: { code: string; field: string } }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { parallel: 2 },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'DRCTL_API_INVALID', field: 'body.runbook' });
    const choice = await t.json<{ error: { field: string } }>('POST', '/api/v1/runs/x/steps/y/decide', {
      token: t.tokens.alice,
      body: { choice: 'maybe' },
    });
    expect(choice.body.error.field).toBe('body.choice');
    const notJson = await t.call('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      headers: { 'content-type': 'application/json' },
      body: undefined,
    });
    expect(notJson.status).toBe(400);
    const unknownRunbook = await t.json<{ error: { code: string } }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { runbook: 'nope' },
    });
    expect(unknownRunbook).toMatchObject({
      status: 404,
      body: { error: { code: 'DRCTL_RUN_RUNBOOK_NOT_FOUND' } },
    });
    for (const [method, path, token] of [
      ['GET', '/api/v1/runs/nope', t.tokens.vera],
      ['GET', '/api/v1/runs/nope/journal', t.tokens.vera],
      ['GET', '/api/v1/runs/nope/evidence', t.tokens.vera],
      ['GET', '/api/v1/runs/nope/verify', t.tokens.vera],
      ['GET', '/api/v1/runs/nope/events', t.tokens.vera],
      ['POST', '/api/v1/runs/nope/steps/declare/approve', t.tokens.bob],
      ['POST', '/api/v1/runs/nope/steps/check/confirm', t.tokens.alice],
      ['POST', '/api/v1/runs/nope/resume', t.tokens.alice],
      ['POST', '/api/v1/runs/nope/cancel', t.tokens.alice],
    ] as const) {
      const answer = await t.json<{ error: { code: string; hint?: string } }>(method, path, {
        token,
        ...(method === 'POST' ? { body: {} } : {}),
      });
      expect({ path, status: answer.status, code: answer.body.error.code }).toEqual({
        path,
        status: 404,
        code: 'DRCTL_RUN_NOT_FOUND',
      });
      // an API client is pointed at the API, not at a command-line flag
      expect(answer.body.error.hint).toBe('list runs with GET /api/v1/runs');
    }
    const big = await t.json<{ error: { code: string } }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { runbook: 'failover', padding: 'x'.repeat(1024 * 1024 + 1) },
    });
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'DRCTL_API_BODY_TOO_LARGE' } } });
    const nowhere = await t.json<{ error: { code: string } }>('GET', '/api/v1/nowhere');
    expect(nowhere).toMatchObject({ status: 404, body: { error: { code: 'DRCTL_API_NOT_FOUND' } } });
  });

  it('answers a person with a page and a program with JSON when there is nothing at a path', async () => {
    const html = { accept: 'text/html,application/xhtml+xml' };
    const nowhere = await t.call('GET', '/no-such-page', { headers: html });
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('content-type')).toContain('text/html');
    const text = await nowhere.text();
    expect(text).toContain('<h1>Not found</h1>');
    expect(text).toContain('DRCTL_API_NOT_FOUND');
    const noRun = await t.call('GET', '/runs/no-such-run', { token: t.tokens.vera, headers: html });
    expect(noRun.status).toBe(404);
    expect(await noRun.text()).toContain('DRCTL_RUN_NOT_FOUND');
    const api = await t.call('GET', '/api/v1/nowhere', { headers: html });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('DRCTL_API_NOT_FOUND');
  });

  it('never sends a stack trace: an unexpected failure is a 500 with a stable code', async () => {
    const response = await t.call('GET', '/api/v1/test/broken', { token: t.tokens.vera });
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({
      error: {
        code: 'DRCTL_INTERNAL',
        message: 'the server failed to answer this request',
        hint: "the server's log has the details",
      },
    });
  });

  it('lists drill reports and answers each one whole', async () => {
    await t.server.ctx.store.saveDrillReport({
      id: 'drill-1',
      workload: 'shop',
      scenario: 'east-killed',
      planHash: undefined,
      startedAt: new Date('2026-11-01T10:00:00Z'),
      passed: true,
      detectionMs: 240,
      rtoMs: 291,
      lostWrites: 0,
      report: {
        measured: { lostWrites: { count: 0, spanMs: 0 } },
        note: 'postgres://app:s3cr3t@db:5432/shop',
      },
    });
    const list = await t.json<{ drills: Array<{ id: string; rtoMs: number }> }>(
      'GET',
      '/api/v1/drills?workload=shop',
      { token: t.tokens.vera },
    );
    expect(list.body.drills).toMatchObject([{ id: 'drill-1', rtoMs: 291 }]);
    const one = await t.json<{ report: { note: string } }>('GET', '/api/v1/drills/drill-1', {
      token: t.tokens.vera,
    });
    expect(one.body.report.note).toBe('postgres://app:***@db:5432/shop');
    expect((await t.json('GET', '/api/v1/drills/nope', { token: t.tokens.vera })).status).toBe(404);
    const readiness = await t.json<{ workloads: Array<{ lastDrill: { rtoMs: number } }> }>(
      'POST',
      '/api/v1/readiness/check',
      { token: t.tokens.alice, body: {} },
    );
    expect(readiness.body.workloads[0]?.lastDrill.rtoMs).toBe(291);
  });

  it('audits every mutating call and every refusal with who, what, when and from where', async () => {
    const { body } = await t.json<{
      events: Array<{
        type: string;
        actor: string;
        at: string;
        data: { method: string; route: string; status: number; remote: string };
      }>;
    }>('GET', '/api/v1/audit?newestFirst=true&limit=1000', { token: t.tokens.vera });
    const starts = body.events.filter(
      (e) => e.type === 'call' && e.data.route === '/api/v1/runs' && e.data.method === 'POST',
    );
    expect(
      starts.some((e) => e.actor === 'alice' && e.data.status === 201 && e.data.remote === 'in-process'),
    ).toBe(true);
    expect(body.events.some((e) => e.type === 'refused' && e.data.status === 403 && e.actor === 'otto')).toBe(
      true,
    );
    expect(
      body.events.some(
        (e) => e.type === 'call' && e.data.status === 403 && e.data.route.endsWith('/approve'),
      ),
    ).toBe(true);
    expect(body.events.every((e) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
  });

  it('exports metrics: runs by status, step durations by runbook, readiness and HTTP durations', async () => {
    const text = await (await t.call('GET', '/metrics')).text();
    expect(text).toMatch(/drctl_runs\{status="succeeded"\} [1-9]/);
    expect(text).toMatch(
      /drctl_step_duration_seconds_count\{workload="shop",runbook="failover",kind="shell",status="succeeded"\} [1-9]/,
    );
    expect(text).toMatch(
      /drctl_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/runs\/:id",status="200"\} [1-9]/,
    );
    expect(text).toMatch(/drctl_drill_rto_seconds\{workload="shop",scenario="east-killed"\} 0.291/);
    const run = await startRun(t);
    await waitFor(t, run.id, (r) => stepOf(r, 'check')?.waitingFor === 'confirmation');
    await t.json('POST', `/api/v1/runs/${run.id}/steps/check/confirm`, {
      token: t.tokens.alice,
      body: { evidence: 'seen' },
    });
    await waitFor(t, run.id, (r) => stepOf(r, 'declare')?.waitingFor === 'approval');
    const waiting = await (await t.call('GET', '/metrics')).text();
    expect(waiting).toMatch(/drctl_approvals_waiting\{workload="shop",runbook="failover"\} 1/);
    expect(waiting).toMatch(/drctl_approval_wait_oldest_seconds\{workload="shop",runbook="failover"\} \d/);
    await t.json('POST', `/api/v1/runs/${run.id}/cancel`, { token: t.tokens.alice, body: {} });
  });
});
