// What a browser, or someone guessing at the console, gets back: refusals as pages, sign-in throttled and
// audited with a code, redirects only to local paths, malformed uploads refused, and the public documents
// (status page, its JSON and feed, a rendered runbook) sent with a CSP that forbids framing and sniffing.
import { describe, expect, it } from 'vitest';
import { AUDIT_STREAM } from '../../src/server/api.ts';
import { testServer, type TestServer } from './support.ts';

const PAGE = { accept: 'text/html,application/xhtml+xml' };

async function signIn(t: TestServer, token: string): Promise<{ cookie: string; csrf: string }> {
  const response = await t.call('POST', '/api/v1/session', { body: { token } });
  const { csrf } = (await response.json()) as { csrf: string };
  return { cookie: response.headers.get('set-cookie')!.split(';')[0]!, csrf };
}

function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

describe('the console to a browser', async () => {
  const t = await testServer();

  it('answers a refusal, a missing page, a bad CSRF token and a too large body with a page, not JSON', async () => {
    const viewer = await signIn(t, t.tokens.vera);
    const operator = await signIn(t, t.tokens.alice);
    const answers = [
      await t.call('GET', '/runs/new', { headers: { ...PAGE, cookie: viewer.cookie } }),
      await t.call('GET', '/runs/no-such-run', { headers: { ...PAGE, cookie: viewer.cookie } }),
      await t.server.app.request('/runs/no-such-run/cancel', {
        method: 'POST',
        ...form({ reason: 'x' }),
        headers: { ...form({}).headers, ...PAGE, cookie: operator.cookie },
      }),
      await t.server.app.request('/runs/no-such-run/steps/x/confirm', {
        method: 'POST',
        body: new URLSearchParams({ _csrf: operator.csrf, evidence: 'x'.repeat(3_000_000) }).toString(),
        headers: { ...form({}).headers, ...PAGE, cookie: operator.cookie },
      }),
    ];
    const seen = await Promise.all(
      answers.map(async (response) => ({
        status: response.status,
        type: response.headers.get('content-type'),
        code: /<code>(DRCTL_[A-Z_]+)<\/code>/.exec(await response.text())?.[1],
        csp: response.headers.get('content-security-policy')?.includes("frame-ancestors 'none'"),
      })),
    );
    const html = 'text/html; charset=UTF-8';
    expect(seen).toEqual([
      { status: 403, type: html, code: 'DRCTL_API_FORBIDDEN', csp: true },
      { status: 404, type: html, code: 'DRCTL_RUN_NOT_FOUND', csp: true },
      { status: 403, type: html, code: 'DRCTL_API_CSRF', csp: true },
      { status: 413, type: html, code: 'DRCTL_API_BODY_TOO_LARGE', csp: true },
    ]);
    // a program still gets JSON
    const api = await t.call('GET', '/runs/new', { headers: { cookie: viewer.cookie } });
    expect(api.headers.get('content-type')).toBe('application/json');
  });

  it('sends people back only to local paths after sign-in, and never answers 500 for a bad one', async () => {
    for (const [next, location] of [
      ['/runs', '/runs'],
      ['/\t/evil.example', '/'],
      ['/\n/x', '/'],
      ['//evil.example', '/'],
      ['/\\evil.example', '/'],
      ['/ /evil.example', '/'],
    ]) {
      const response = await t.server.app.request('/api/v1/session', {
        method: 'POST',
        ...form({ token: t.tokens.vera, next: next! }),
      });
      expect([next, response.status, response.headers.get('location')]).toEqual([next, 303, location]);
    }
  });

  it('refuses an upload whose file name holds a raw double quote with a 400, not a 500', async () => {
    const operator = await signIn(t, t.tokens.alice);
    const boundary = 'drctl-boundary';
    const body = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="_csrf"',
      '',
      operator.csrf,
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename="a"b.txt"',
      'Content-Type: text/plain',
      '',
      'hello',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const response = await t.server.app.request('/api/v1/runs/no-such-run/steps/x/confirm', {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: operator.cookie },
    });
    expect(response.status).toBeLessThan(500);
    expect([400, 404]).toContain(response.status);
  });

  it('sends the status page, its JSON, its feed and a rendered runbook with CSP, no framing and nosniff', async () => {
    for (const path of [
      '/status',
      '/status.json',
      '/status/feed.atom',
      `/api/v1/plans/${encodeURIComponent('engine test')}/runbook`,
    ]) {
      const response = await t.call('GET', path, { token: t.tokens.vera });
      expect([path, response.status]).toEqual([path, 200]);
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it("builds the feed's links from the plan's console_url, never from the request's Host", async () => {
    const feed = await t.call('GET', '/status/feed.atom', { headers: { host: 'evil.example' } });
    const atom = await feed.text();
    expect(atom).not.toContain('evil.example');
    expect(atom).toContain('<id>http://127.0.0.1:7400/status</id>');
  });
});

describe('sign-in', async () => {
  const t = await testServer();

  it('journals a failed form sign-in as refused with its code', async () => {
    const response = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      ...form({ token: 'drctl_000000000000.wrong', next: '/runs' }),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/sign-in?error=invalid&next=%2Fruns');
    const audit = await t.server.ctx.store.readEvents(AUDIT_STREAM);
    expect(audit.at(-1)).toMatchObject({
      type: 'refused',
      actor: 'anonymous',
      data: { path: '/api/v1/session', status: 303, code: 'DRCTL_API_TOKEN_INVALID' },
    });
  });

  it('is throttled after ten failures from one address, even for a good token, with Retry-After', async () => {
    const attempts = [];
    for (let i = 0; i < 12; i++)
      attempts.push((await t.call('POST', '/api/v1/session', { body: { token: `drctl_bad.${i}` } })).status);
    // the form attempt above counted as the first failure
    expect(attempts).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 401, 429, 429, 429]);
    const good = await t.call('POST', '/api/v1/session', { body: { token: t.tokens.vera } });
    expect(good.status).toBe(429);
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await good.json()) as { error: { code: string } }).error.code).toBe('DRCTL_API_THROTTLED');
    const viaForm = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      ...form({ token: t.tokens.vera }),
    });
    expect(viaForm.headers.get('location')).toBe('/sign-in?error=throttled&next=%2F');
    // a token sent with each request (the API) is not a sign-in and is not throttled
    expect((await t.call('GET', '/api/v1/runs', { token: t.tokens.vera })).status).toBe(200);
  });
});
