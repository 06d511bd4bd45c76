/**
 * Every mutating route, read from /openapi.json, refuses a missing token (401) and a wrong role (403),
 * journals the refusal in the audit stream, and changes nothing else in the store.
 */
import { describe, expect, it } from 'vitest';
import { allows, ROLES } from '../../src/server/index.ts';
import type { Role, RouteRole } from '../../src/server/index.ts';
import { eventually, testServer } from './support.ts';

const TOKEN_OF: Record<Role, 'vera' | 'alice' | 'bob' | 'ada' | 'alan'> = {
  viewer: 'vera',
  operator: 'alice',
  approver: 'bob',
  admin: 'ada',
  alerts: 'alan',
};

describe('roles on every mutating route', async () => {
  const t = await testServer();
  const started = await t.json<{ id: string }>('POST', '/api/v1/runs', {
    token: t.tokens.alice,
    body: { runbook: 'failover' },
  });
  const runId = started.body.id;
  await eventually(async () => {
    const { body } = await t.json<{ status: string }>('GET', `/api/v1/runs/${runId}`, {
      token: t.tokens.vera,
    });
    return body.status === 'waiting' ? true : undefined;
  });

  /** Everything a refused call must leave as it was: runs and their heads, tokens, sessions, other documents. */
  async function snapshot(): Promise<string> {
    const store = t.server.ctx.store;
    const runs = (await store.listRuns({ limit: 1000 })).map(
      (run) => `${run.id}:${run.headSeq}:${run.status}`,
    );
    const docs: string[] = [];
    for (const collection of ['tokens', 'sessions', 'server-runs'])
      for (const doc of await store.listDocuments(collection, { limit: 1000 }))
        docs.push(`${collection}/${doc.id}@${doc.version}`);
    return JSON.stringify({ runs, docs });
  }

  it('refuses a missing token and every role below the one asked for, and changes nothing', async () => {
    const { body } = await t.json<{ paths: Record<string, Record<string, { 'x-drctl-role': RouteRole }>> }>(
      'GET',
      '/openapi.json',
    );
    const mutating = Object.entries(body.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, operation]) => ({
          method: method.toUpperCase(),
          path,
          role: operation['x-drctl-role'],
        })),
    );
    expect(mutating.length).toBeGreaterThanOrEqual(10);
    const before = await snapshot();
    const auditBefore = (await t.server.ctx.store.readEvents('audit', { limit: 100_000 })).length;
    let refusals = 0;
    for (const route of mutating) {
      if (route.role === 'public') continue;
      const path = route.path
        .replace('{id}', runId)
        .replace('{step}', 'declare')
        .replace(/\{[^}]+\}/g, 'x');
      const anonymous = await t.json<{ error: { code: string } }>(route.method, path, { body: {} });
      expect({ route: `${route.method} ${route.path}`, status: anonymous.status }).toEqual({
        route: `${route.method} ${route.path}`,
        status: 401,
      });
      refusals += 1;
      const badToken = await t.json(route.method, path, { body: {}, token: 'drctl_0123456789ab.forged' });
      expect(badToken.status).toBe(401);
      refusals += 1;
      for (const role of ROLES.filter((candidate) => !allows(candidate, route.role))) {
        const wrong = await t.json<{ error: { code: string } }>(route.method, path, {
          body: {},
          token: t.tokens[TOKEN_OF[role]],
        });
        expect({
          route: `${route.method} ${route.path}`,
          role,
          status: wrong.status,
          code: wrong.body.error.code,
        }).toEqual({
          route: `${route.method} ${route.path}`,
          role,
          status: 403,
          code: 'DRCTL_API_FORBIDDEN',
        });
        refusals += 1;
      }
    }
    expect(await snapshot()).toBe(before);
    const audit = (
      await t.server.ctx.store.readEvents('audit', { afterSeq: auditBefore, limit: 100_000 })
    ).filter((event) => event.type === 'refused');
    expect(audit).toHaveLength(refusals);
    expect(
      audit.every((event) => event.data.remote === 'in-process' && typeof event.data.path === 'string'),
    ).toBe(true);
  });

  it('lets admin do everything an operator and an approver may', () => {
    for (const role of ['viewer', 'operator', 'approver', 'admin'] as const)
      expect(allows('admin', role)).toBe(true);
    expect(allows('operator', 'approver')).toBe(false);
    expect(allows('approver', 'operator')).toBe(false);
    expect(allows('viewer', 'viewer')).toBe(true);
  });
});
