import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DrctlError } from '../../errors.ts';
import type { Component, Plan } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';
import { dnsProvider } from './index.ts';
import { namedBinary, pdnsBinary, startTestBind, startTestPowerDns } from './testing.ts';
import type { TestBind } from './testing.ts';

const AT = { file: 'plan.yaml', line: 1, column: 1 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function context(plan: Partial<Plan> = {}): {
  ctx: ActionContext;
  evidence: Record<string, unknown>;
  logs: string[];
} {
  const evidence: Record<string, unknown> = {};
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const ctx: ActionContext = {
    signal: new AbortController().signal,
    log,
    plan: { workloads: [], ...plan } as Plan,
    stateDir: '.',
    evidence: (name, value) => {
      evidence[name] = value;
    },
  };
  return { ctx, evidence, logs };
}

function setEnv(name: string, value: string): void {
  const previous = process.env[name];
  process.env[name] = value;
  cleanups.push(() => {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  });
}

async function bind(secondary = false): Promise<TestBind> {
  const server = await startTestBind({
    records: ['shop 5 IN A 127.0.0.10', 'www 60 IN CNAME shop'],
    secondary,
  });
  cleanups.push(() => server.stop());
  setEnv('TEST_TSIG_SECRET', server.key.secret);
  setEnv('TEST_READER_SECRET', server.readOnlyKey.secret);
  return server;
}

function set(params: Record<string, unknown>, ctx: ActionContext) {
  return dnsProvider.actions.set.run(dnsProvider.actions.set.params.parse(params), ctx);
}

function check(params: Record<string, unknown>, ctx: ActionContext) {
  return dnsProvider.checks.check.run(dnsProvider.checks.check.params.parse(params), ctx);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DrctlError);
    return (error as DrctlError).code;
  }
  throw new Error('expected a DrctlError');
}

const KEY = { name: 'drctl-key', algorithm: 'hmac-sha256', secret_env: 'TEST_TSIG_SECRET' };

describe.skipIf(namedBinary() === undefined)('dns provider against BIND', () => {
  it('replaces a record set by a TSIG-signed update, keeping the answer before and after as evidence', async () => {
    const server = await bind();
    const { ctx, evidence, logs } = context();
    const result = await set(
      {
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'A',
        values: ['127.0.0.20', '127.0.0.21'],
        ttl: '5s',
        tsig: KEY,
      },
      ctx,
    );
    expect(result.summary).toMatch(
      /^shop\.example\.test A 127\.0\.0\.10 → 127\.0\.0\.20 127\.0\.0\.21 \(TTL 5s, serial 1 → \d+\)$/,
    );
    expect(evidence.before).toMatchObject({ values: ['127.0.0.10'], ttl: 5, authoritative: true, serial: 1 });
    expect(evidence.after).toMatchObject({ values: ['127.0.0.20', '127.0.0.21'], ttl: 5 });

    await set(
      {
        server: server.primary,
        zone: `${server.zone}.`,
        name: 'www.example.test.',
        type: 'CNAME',
        values: ['west.example.test'],
        ttl: 30,
        tsig: KEY,
      },
      ctx,
    );
    await set(
      {
        server: server.primary,
        zone: server.zone,
        name: '@',
        type: 'TXT',
        values: ['site=west'],
        ttl: 30,
        tsig: KEY,
      },
      ctx,
    );
    await set(
      {
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'AAAA',
        values: ['2001:db8:0:0::1'],
        ttl: 30,
        tsig: KEY,
      },
      ctx,
    );
    const txt = await check(
      {
        server: server.primary,
        zone: server.zone,
        name: '@',
        type: 'TXT',
        values: ['site=west'],
        within: '1s',
      },
      ctx,
    );
    expect(txt.ok).toBe(true);
    const aaaa = await check(
      {
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'AAAA',
        values: ['2001:db8::1'],
        within: '1s',
      },
      ctx,
    );
    expect(aaaa.ok).toBe(true);
    expect(JSON.stringify({ evidence, logs })).not.toContain(server.key.secret);
  });

  it('waits until every authoritative server of the zone answers the new values, and finds them by the NS records', async () => {
    const server = await bind(true);
    const { ctx, evidence } = context();
    await set(
      {
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'A',
        values: ['127.0.0.30'],
        ttl: 5,
        tsig: KEY,
      },
      ctx,
    );
    const servers = [server.primary, server.secondary!];
    const result = await check(
      {
        servers,
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'A',
        values: ['127.0.0.30'],
        within: '10s',
      },
      ctx,
    );
    expect(result).toMatchObject({
      ok: true,
      message: expect.stringMatching(
        /^all 2 authoritative servers answer shop\.example\.test A 127\.0\.0\.30 \(after \d+ ms\)$/,
      ),
    });
    expect(
      (evidence['dns-propagation'] as { servers: { server: string }[] }).servers.map((s) => s.server),
    ).toEqual(servers);
    // without a list, the NS records name the servers to ask (here the primary, on the port it was asked on)
    const found = await check(
      {
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'A',
        values: ['127.0.0.30'],
        within: '1s',
      },
      ctx,
    );
    expect(found.message).toMatch(/^all 1 authoritative servers answer/);

    const stale = await check(
      {
        servers,
        server: server.primary,
        zone: server.zone,
        name: 'shop',
        type: 'A',
        values: ['127.0.0.99'],
        within: '300ms',
      },
      ctx,
    );
    expect(stale).toMatchObject({
      ok: false,
      message: expect.stringContaining(`${server.secondary} answers 127.0.0.30`),
    });
  });

  it('tells a refused key (REFUSED) from an unknown key or a wrong secret (NOTAUTH), and never prints the secret', async () => {
    const server = await bind();
    const { ctx, logs } = context();
    const base = {
      server: server.primary,
      zone: server.zone,
      name: 'shop',
      type: 'A',
      values: ['127.0.0.40'],
      ttl: 5,
    };
    await expect(
      set({ ...base, tsig: { name: 'reader-key', secret_env: 'TEST_READER_SECRET' } }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_DNS_UPDATE_REFUSED',
      message: expect.stringContaining('key reader-key may not change that name'),
    });
    await expect(
      set({ ...base, tsig: { name: 'nobody-key', secret_env: 'TEST_TSIG_SECRET' } }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_DNS_TSIG_REJECTED',
      message: expect.stringContaining('does not know the key nobody-key'),
    });
    setEnv('TEST_WRONG_SECRET', Buffer.alloc(32, 7).toString('base64'));
    const wrong = set({ ...base, tsig: { name: 'drctl-key', secret_env: 'TEST_WRONG_SECRET' } }, ctx);
    await expect(wrong).rejects.toMatchObject({
      code: 'DRCTL_DNS_TSIG_REJECTED',
      message: expect.stringContaining('another secret'),
    });
    expect(await codeOf(set({ ...base }, ctx))).toBe('DRCTL_DNS_UPDATE_REFUSED');
    expect(await codeOf(set({ ...base, tsig: { ...KEY, secret_env: 'TEST_UNSET_SECRET' } }, ctx))).toBe(
      'DRCTL_DNS_SECRET_MISSING',
    );
    const errors = await Promise.allSettled([
      wrong,
      set({ ...base, tsig: { name: 'nobody-key', secret_env: 'TEST_TSIG_SECRET' } }, ctx),
    ]);
    expect(
      JSON.stringify({
        errors: errors.map((e) =>
          e.status === 'rejected' ? { ...(e.reason as object), message: (e.reason as Error).message } : e,
        ),
        logs,
      }),
    ).not.toContain(server.key.secret);
  });

  it('names a zone the server is not authoritative for, a name outside the zone, and a server that does not answer', async () => {
    const server = await bind();
    const { ctx } = context();
    const base = {
      server: server.primary,
      name: 'shop',
      type: 'A',
      values: ['127.0.0.40'],
      ttl: 5,
      tsig: KEY,
    };
    await expect(set({ ...base, zone: 'other.test' }, ctx)).rejects.toMatchObject({
      code: 'DRCTL_DNS_NOT_AUTHORITATIVE',
    });
    expect(await codeOf(set({ ...base, zone: server.zone, name: 'shop.other.test.' }, ctx))).toBe(
      'DRCTL_DNS_NOT_IN_ZONE',
    );
    const stopped = await startTestBind();
    await stopped.stop();
    expect(
      await codeOf(
        set({ ...base, zone: server.zone, server: `127.0.0.1:${stopped.port}`, timeout: '300ms' }, ctx),
      ),
    ).toBe('DRCTL_DNS_SERVER_UNREACHABLE');
    expect(await codeOf(set({ ...base, zone: server.zone, server: 'a b' }, ctx))).toBe(
      'DRCTL_DNS_SERVER_INVALID',
    );
  });

  it("reports readiness: the server answers with authority, and the record's TTL against the workload's RTO", async () => {
    const server = await bind();
    const component = {
      id: 'shop-name',
      kind: 'dns',
      placement: [
        {
          site: 'east',
          standby: false,
          fields: { server: server.primary, zone: server.zone, name: 'www', type: 'CNAME' },
          at: AT,
        },
      ],
    } as unknown as Component;
    const { ctx } = context({
      workloads: [{ id: 'shop', rtoMs: 30_000, components: [component] }],
    } as unknown as Partial<Plan>);
    const facts = await dnsProvider.readiness(component, ctx);
    expect(facts.map((f) => [f.name, f.ok, f.value, f.limit])).toEqual([
      ['reachable', true, true, undefined],
      ['dns-ttl', false, 60, 30],
    ]);
    // the served TTL is what the analysis judges a dns.set of the same record by, beside the step's own
    const served = facts.find((f) => f.name === 'dns-ttl')?.clientsMove;
    expect(served).toEqual({ key: `dns-ttl www.${server.zone} CNAME`, ms: 60_000 });
    const set = dnsProvider.actions.set;
    const switchStep = set.params.parse({
      server: server.primary,
      zone: server.zone,
      name: 'www',
      type: 'CNAME',
      values: ['west.example.test'],
      ttl: 5,
    });
    expect(set.clientsMove?.(switchStep)).toMatchObject({ ms: 5_000, observedAs: served?.key });
  });
});

describe.skipIf(pdnsBinary() === undefined)('dns provider against PowerDNS', () => {
  it('replaces a record set through the HTTP API and the DNS service answers the new values', async () => {
    const pdns = await startTestPowerDns([
      { name: 'shop', type: 'A', ttl: 5, content: '127.0.0.10' },
      { name: 'ns1', type: 'A', ttl: 60, content: '127.0.0.1' },
    ]);
    cleanups.push(() => pdns.stop());
    setEnv('TEST_PDNS_KEY', pdns.apiKey);
    const { ctx, evidence } = context();
    const api = { url: pdns.api, key_env: 'TEST_PDNS_KEY' };
    const base = { server: pdns.server, zone: pdns.zone, name: 'shop', type: 'A', ttl: 5, api };
    const result = await set({ ...base, values: ['127.0.0.20'] }, ctx);
    expect(result.summary).toMatch(/^shop\.example\.test A 127\.0\.0\.10 → 127\.0\.0\.20 \(TTL 5s/);
    expect(evidence.after).toMatchObject({ values: ['127.0.0.20'], ttl: 5, authoritative: true });
    await set({ ...base, type: 'TXT', values: ['site="west"'] }, ctx);
    const { api: _api, ttl: _ttl, ...record } = base;
    const txt = await check({ ...record, type: 'TXT', values: ['site="west"'], within: '2s' }, ctx);
    expect(txt.ok).toBe(true);

    setEnv('TEST_PDNS_WRONG', 'not-the-key');
    expect(
      await codeOf(
        set({ ...base, values: ['127.0.0.30'], api: { ...api, key_env: 'TEST_PDNS_WRONG' } }, ctx),
      ),
    ).toBe('DRCTL_DNS_API_UNAUTHORIZED');
    expect(await codeOf(set({ ...base, values: ['127.0.0.30'], zone: 'other.test' }, ctx))).toBe(
      'DRCTL_DNS_NOT_AUTHORITATIVE',
    );
  });
});
