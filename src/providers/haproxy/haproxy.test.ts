import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DrctlError } from '../../errors.ts';
import type { Component, Plan } from '../../plan/model.ts';
import { startUpstream } from '../../router/test-support.ts';
import type { ActionContext } from '../provider.ts';
import { haproxyProvider } from './index.ts';
import { haproxyBinary, startTestHaproxy } from './testing.ts';
import type { TestHaproxy } from './testing.ts';

const AT = { file: 'plan.yaml', line: 1, column: 1 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function context(): { ctx: ActionContext; evidence: Record<string, unknown> } {
  const evidence: Record<string, unknown> = {};
  const ctx: ActionContext = {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan: { workloads: [] } as unknown as Plan,
    stateDir: '.',
    evidence: (name, value) => {
      evidence[name] = value;
    },
  };
  return { ctx, evidence };
}

/** HAProxy in front of two real upstreams, east active and west backup. */
async function twoSites(): Promise<TestHaproxy> {
  const east = await startUpstream('east');
  const west = await startUpstream('west');
  const haproxy = await startTestHaproxy({
    servers: [
      { name: 'east', port: east.port },
      { name: 'west', port: west.port, backup: true },
    ],
  });
  cleanups.push(
    () => east.stop(),
    () => west.stop(),
    () => haproxy.stop(),
  );
  await waitFor(async () => (await siteOf(haproxy)) === 'east');
  return haproxy;
}

async function siteOf(haproxy: TestHaproxy): Promise<string | null> {
  try {
    const response = await fetch(`${haproxy.url}/echo`, { method: 'POST', body: 'x' });
    return response.headers.get('x-site');
  } catch {
    return null;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function run(
  action: keyof typeof haproxyProvider.actions,
  params: Record<string, unknown>,
  ctx: ActionContext,
) {
  const declared = haproxyProvider.actions[action];
  return declared.run(declared.params.parse(params), ctx);
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

describe.skipIf(haproxyBinary() === undefined)('haproxy provider', () => {
  it('moves traffic to the backup server by putting the primary in maintenance, and back with ready', async () => {
    const haproxy = await twoSites();
    const { ctx, evidence } = context();
    const target = { socket: haproxy.socket, backend: 'orders', server: 'east' };

    const maint = await run('maint', target, ctx);
    expect(maint.summary).toMatch(/^orders\/east: UP \(weight 1, check L7OK\) → MAINT/);
    expect(evidence['state-before']).toMatchObject({ server: 'east', status: 'UP' });
    expect(evidence['state-after']).toMatchObject({ server: 'east', status: 'MAINT' });
    expect(await siteOf(haproxy)).toBe('west');

    const ready = await run('ready', target, ctx);
    expect(ready.output?.after).toMatchObject({ status: expect.stringMatching(/^(UP|DOWN)/) });
    await waitFor(async () => (await siteOf(haproxy)) === 'east');
  });

  it('drains and weights a server over the TCP socket, and the check reads its state', async () => {
    const haproxy = await twoSites();
    const { ctx, evidence } = context();
    const target = { socket: haproxy.tcpSocket, backend: 'orders', server: 'east' };

    await run('drain', target, ctx);
    expect(evidence['state-after']).toMatchObject({ status: 'DRAIN' });
    const drained = await haproxyProvider.checks.server.run({ ...target, status: 'DRAIN' }, ctx);
    expect(drained).toMatchObject({ ok: true, message: 'orders/east is DRAIN (weight 1, check L7OK)' });
    const notUp = await haproxyProvider.checks.server.run(target, ctx);
    expect(notUp).toMatchObject({
      ok: false,
      message: 'orders/east is DRAIN (weight 1, check L7OK), not UP',
    });

    await run('ready', target, ctx);
    const weighted = await run('weight', { ...target, weight: 0 }, ctx);
    expect(weighted.summary).toBe('orders/east: UP (weight 1, check L7OK) → UP (weight 0, check L7OK)');
    await run('weight', { ...target, weight: '100%' }, ctx);
    expect(evidence['state-after']).toMatchObject({ weight: 1 });
  });

  it('reports readiness: the runtime API answers, the backend has servers up, the standby server is ready', async () => {
    const haproxy = await twoSites();
    const { ctx } = context();
    const component = {
      id: 'front',
      kind: 'haproxy',
      placement: [
        {
          site: 'east',
          standby: false,
          fields: { socket: haproxy.socket, backend: 'orders', server: 'east' },
          at: AT,
        },
        {
          site: 'west',
          standby: true,
          fields: { socket: haproxy.socket, backend: 'orders', server: 'west' },
          at: AT,
        },
      ],
    } as unknown as Component;
    const facts = await haproxyProvider.readiness(component, ctx);
    expect(facts.map((fact) => [fact.name, fact.site, fact.ok, fact.value])).toEqual([
      ['reachable', undefined, true, true],
      ['servers-up', undefined, true, 2],
      ['standby-ready', 'west', true, expect.stringMatching(/^UP/)],
    ]);

    await run('maint', { socket: haproxy.socket, backend: 'orders', server: 'west' }, ctx);
    const after = await haproxyProvider.readiness(component, ctx);
    expect(after.find((fact) => fact.name === 'standby-ready')).toMatchObject({ ok: false, value: 'MAINT' });

    await haproxy.stop();
    const down = await haproxyProvider.readiness(component, ctx);
    expect(down).toEqual([expect.objectContaining({ name: 'reachable', ok: false })]);
  });

  it('names the backends and servers HAProxy has when the plan names one it does not, and a socket without admin level', async () => {
    const haproxy = await twoSites();
    const { ctx } = context();
    await expect(
      run('maint', { socket: haproxy.socket, backend: 'shop', server: 'east' }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_HAPROXY_UNKNOWN_BACKEND',
      hint: 'backends with servers there: orders',
    });
    await expect(
      run('drain', { socket: haproxy.socket, backend: 'orders', server: 'north' }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_HAPROXY_UNKNOWN_SERVER',
      hint: 'servers of orders: east, west',
    });
    await expect(
      run('maint', { socket: haproxy.userSocket, backend: 'orders', server: 'east' }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_HAPROXY_COMMAND_REJECTED',
      hint: 'the stats socket needs `level admin` in haproxy.cfg to change servers',
    });
  });

  it('fails with a clear code when the socket does not answer: no such path, nothing listening, or silent', async () => {
    const { ctx } = context();
    const server = { backend: 'orders', server: 'east', timeout: '300ms' };
    expect(await codeOf(run('maint', { socket: '/nonexistent/haproxy.sock', ...server }, ctx))).toBe(
      'DRCTL_HAPROXY_SOCKET_UNREACHABLE',
    );
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await codeOf(run('maint', { socket: `127.0.0.1:${closedPort}`, ...server }, ctx))).toBe(
      'DRCTL_HAPROXY_SOCKET_UNREACHABLE',
    );
    // reads what it is sent and never answers
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => silent.close(() => resolve())));
    const started = Date.now();
    await expect(
      run('maint', { socket: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`, ...server }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_HAPROXY_SOCKET_UNREACHABLE',
      message: expect.stringMatching(/did not answer/),
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await codeOf(run('maint', { socket: 'not a socket', ...server }, ctx))).toBe(
      'DRCTL_HAPROXY_SOCKET_INVALID',
    );
  });
});
