/** Live events over a real socket: runs driven here and runs changed from a shell reach SSE clients. */
/* eslint-disable @typescript-eslint/no-explicit-any -- the tests read arbitrary event payloads */
import { describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/index.ts';
import { runCli } from '../support/cli.ts';
import { testServer } from './support.ts';

/** Reads server-sent events until `until` accepts one; returns every event read. */
async function readEvents(
  url: string,
  token: string | { cookie: string },
  until: (event: { event: string; data: any }) => boolean,
) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: typeof token === 'string' ? { authorization: `Bearer ${token}` } : token,
    signal: controller.signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Array<{ event: string; data: any }> = [];
  let buffer = '';
  const ready = { resolve: (): void => undefined };
  const opened = new Promise<void>((resolve) => (ready.resolve = resolve));
  const done = (async () => {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return events;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (data === undefined) continue;
        const parsed = { event, data: JSON.parse(data) as any };
        events.push(parsed);
        if (event === 'ready') ready.resolve();
        if (until(parsed)) {
          controller.abort();
          return events;
        }
      }
    }
  })().catch(() => events);
  await opened;
  return done;
}

describe('server-sent events', async () => {
  const t = await testServer({ server: { listen: '127.0.0.1:0' } });
  const { url } = await t.server.listen();

  it('streams a run driven here, and an approval made with drctl approve from a shell', async () => {
    const run = await t.json<{ id: string }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { runbook: 'failover' },
    });
    const stream = readEvents(
      `${url}/api/v1/runs/${run.body.id}/events?afterSeq=0`,
      t.tokens.vera,
      (e) => e.event === 'journal' && e.data.data.type === 'run-finished',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await t.json('POST', `/api/v1/runs/${run.body.id}/steps/check/confirm`, {
      token: t.tokens.alice,
      body: { evidence: 'seen' },
    });
    for (;;) {
      const view = await t.json<{ steps: Array<{ id: string; waitingFor?: string }> }>(
        'GET',
        `/api/v1/runs/${run.body.id}`,
        { token: t.tokens.vera },
      );
      if (view.body.steps.find((step) => step.id === 'declare')?.waitingFor === 'approval') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const approved = await runCli('approve', run.body.id, 'declare', '--state', t.stateDir, '--as', 'bob');
    expect(approved.code).toBe(0);
    const events = await stream;
    const records = events.filter((e) => e.event === 'journal').map((e) => e.data.data);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(records.find((r) => r.type === 'approval-granted')?.actor).toBe('bob');
    expect(records.at(-1)?.data.status).toBe('succeeded');
  });

  it('streams runs started by drctl run in another process on the all-runs stream', async () => {
    const stream = readEvents(
      `${url}/api/v1/events`,
      t.tokens.vera,
      (e) => e.event === 'run' && e.data.data.startedBy === 'otto',
    );
    const started = await runCli(
      'run',
      t.planFile,
      '--runbook',
      'failover',
      '--state',
      t.stateDir,
      '--as',
      'otto',
      '--no-wait',
    );
    expect(started.code).toBe(0);
    const events = await stream;
    expect(
      events.some(
        (e) => e.event === 'journal' && e.data.data.type === 'run-created' && e.data.data.actor === 'otto',
      ),
    ).toBe(true);
  });

  it('ends an open stream once its token is revoked, from a shell or through the API, session or not', async () => {
    const store = t.server.ctx.store;
    const viewer = await createToken(store, { name: 'mallory', role: 'viewer', createdBy: 'test' });
    const bearer = readEvents(`${url}/api/v1/events`, viewer.token, () => false);
    const signedIn = await t.server.app.request('/api/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: viewer.token }),
    });
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const session = readEvents(`${url}/api/v1/events`, { cookie }, () => false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revoked = await runCli('token', 'revoke', viewer.id, '--state', t.stateDir, '--as', 'ada');
    expect(revoked.code).toBe(0);
    const started = Date.now();
    for (const events of await Promise.all([bearer, session]))
      expect(events.map((e) => e.event)).toEqual(['ready', 'revoked']);
    expect(Date.now() - started).toBeLessThan(10_000);

    const other = await createToken(store, { name: 'mallory', role: 'viewer', createdBy: 'test' });
    const stream = readEvents(`${url}/api/v1/events`, other.token, () => false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await t.json('DELETE', `/api/v1/tokens/${other.id}`, { token: t.tokens.ada })).status).toBe(200);
    expect((await stream).at(-1)).toMatchObject({
      event: 'revoked',
      data: { code: 'DRCTL_API_UNAUTHENTICATED' },
    });
  });
});
