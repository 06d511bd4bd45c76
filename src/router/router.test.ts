import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DrctlError, UsageError } from '../errors.ts';
import { FaultProxy } from '../chaos/index.ts';
import { killProcess, pauseProcess, resumeProcess } from '../chaos/process-faults.ts';
import { TrafficRouter } from './index.ts';
import type { RouterOptions } from './index.ts';
import { request, startUpstream, until } from './test-support.ts';
import type { TestUpstream } from './test-support.ts';

// A generous timeout: probes of a healthy in-process upstream must not fail just because the machine is busy.
const fastProbe = { intervalMs: 40, timeoutMs: 2_000, failures: 3, successes: 3 };
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstream(site: string): Promise<TestUpstream> {
  const started = await startUpstream(site);
  cleanups.push(() => started.stop());
  return started;
}

async function router(options: RouterOptions): Promise<TrafficRouter> {
  const started = await TrafficRouter.create({ probe: fastProbe, ...options });
  cleanups.push(() => started.close());
  return started;
}

/** Sites east and west behind a router, east first; `options` adds to or replaces the router's. */
async function eastAndWest(
  options: Partial<RouterOptions> = {},
): Promise<{ east: TestUpstream; west: TestUpstream; front: TrafficRouter }> {
  const east = await upstream('east');
  const west = await upstream('west');
  const front = await router({
    endpoints: [
      { site: 'east', url: east.url },
      { site: 'west', url: west.url },
    ],
    ...options,
  });
  return { east, west, front };
}

/** Sites east, behind a fault proxy `cut`, and west; the test puts the router in front. */
async function eastProxiedAndWest(): Promise<{ east: TestUpstream; west: TestUpstream; cut: FaultProxy }> {
  const east = await upstream('east');
  const west = await upstream('west');
  const cut = await FaultProxy.create({ target: east.port });
  cleanups.push(() => cut.close());
  return { east, west, cut };
}

/** A router probing with `probe` in front of east at `eastUrl` (first) and a fresh west. */
async function inFrontOf(
  eastUrl: string,
  probe: RouterOptions['probe'],
): Promise<{ west: TestUpstream; front: TrafficRouter }> {
  const west = await upstream('west');
  const front = await router({
    endpoints: [
      { site: 'east', url: eastUrl },
      { site: 'west', url: west.url },
    ],
    probe,
  });
  return { west, front };
}

/** East as a process (for SIGKILL) and west in this one behind a router probing `/`, serving east. */
async function killableEastAndWest(probe: RouterOptions['probe']): Promise<{
  east: { child: ChildProcess; url: string };
  front: TrafficRouter;
}> {
  const east = await processUpstream('east');
  const { front } = await inFrontOf(east.url, { ...probe, path: '/' });
  expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('east');
  return { east, front };
}

/** A site as a real process: a node HTTP server in a child, for SIGKILL. */
async function processUpstream(site: string): Promise<{ child: ChildProcess; url: string }> {
  const script = `
    const http = require('node:http');
    const server = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ site: ${JSON.stringify(site)} })); });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (data: Buffer) => resolve(data.toString().trim()));
    child.once('exit', () => reject(new Error(`${site} exited before listening`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

describe('traffic router', () => {
  it('fails over to the secondary when the primary process is killed', async () => {
    const { east, front } = await killableEastAndWest(fastProbe);

    const after = front.status().lastEventSeq;
    const killed = killProcess({ pid: east.child.pid as number });
    const down = await front.waitForEvent(
      (event) => event.type === 'endpoint-down' && event.site === 'east',
      { afterSeq: after },
    );
    const changed = await front.waitForEvent((event) => event.type === 'active-changed', { afterSeq: after });

    expect(down.at).toBeGreaterThanOrEqual(killed.at);
    expect(changed).toMatchObject({ from: 'east', to: 'west', cause: 'health' });
    const answer = await request(`${front.url}/orders`);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-drctl-site']).toBe('west');
  });

  it('fails over when a fault proxy blackholes the primary, and comes back when it is lifted', async () => {
    const { west, cut } = await eastProxiedAndWest();
    const front = await router({
      endpoints: [
        // only east's probes go through the proxy, so only they need a short timeout
        { site: 'east', url: `http://${cut.address}`, probe: { timeoutMs: 200 } },
        { site: 'west', url: west.url },
      ],
    });
    expect((await request(front.url)).headers['x-drctl-site']).toBe('east');

    const injected = cut.set({ kind: 'blackhole' });
    const down = await front.waitForEvent((event) => event.type === 'endpoint-down' && event.site === 'east');
    expect(down).toMatchObject({ reason: expect.stringContaining('no answer within 200 ms') as unknown });
    expect(down.at).toBeGreaterThanOrEqual(injected.at);
    expect((await request(front.url)).headers['x-drctl-site']).toBe('west');

    cut.clear();
    await front.waitForEvent((event) => event.type === 'endpoint-up' && event.site === 'east', {
      afterSeq: down.seq,
    });
    expect((await request(front.url)).headers['x-drctl-site']).toBe('east');
  });

  it('takes a recovered primary back only after the configured consecutive successes', async () => {
    const { east, front } = await eastAndWest();

    east.setHealthy(false);
    await front.waitForEvent((event) => event.type === 'endpoint-down' && event.site === 'east');
    expect(front.status().active).toBe('west');

    const after = front.status().lastEventSeq;
    const probesBefore = east.probes();
    east.setHealthy(true);
    const up = await front.waitForEvent((event) => event.type === 'endpoint-up' && event.site === 'east', {
      afterSeq: after,
    });
    // at least `successes` healthy probes were answered before the router took it back
    expect(east.probes() - probesBefore).toBeGreaterThanOrEqual(fastProbe.successes);
    expect(up).toMatchObject({ from: 'down', reason: '3 consecutive probes succeeded' });
    expect(front.status().active).toBe('east');
  });

  it('does not fail over on a single failed probe', async () => {
    const { east, front } = await eastAndWest();

    const before = east.probes();
    east.failNextProbes(1);
    await until(() => east.probes() >= before + fastProbe.failures + 2, 'probes after the failed one');

    expect(front.history().filter((event) => event.type === 'endpoint-down')).toEqual([]);
    expect(front.status().active).toBe('east');
    expect((await request(front.url)).headers['x-drctl-site']).toBe('east');
  });

  it('holds a flapping endpoint out of rotation once it has gone down too often', async () => {
    const { east, front } = await eastAndWest({
      probe: { ...fastProbe, failures: 1, successes: 1 },
      flap: { limit: 2, windowMs: 60_000, holdDownMs: 60_000 },
    });

    for (const _ of [1, 2]) {
      const after = front.status().lastEventSeq;
      east.setHealthy(false);
      await front.waitForEvent((event) => event.type === 'endpoint-down' && event.site === 'east', {
        afterSeq: after,
      });
      east.setHealthy(true);
      await front.waitForEvent(
        (event) =>
          (event.type === 'endpoint-up' || event.type === 'endpoint-suppressed') && event.site === 'east',
        { afterSeq: after },
      );
    }

    const east_ = front.status().endpoints.find((endpoint) => endpoint.site === 'east');
    expect(east_).toMatchObject({ state: 'suppressed', routable: false });
    expect(front.status().active).toBe('west');
  });

  it('splits traffic by weight in weighted mode', async () => {
    const east = await upstream('east');
    const west = await upstream('west');
    const front = await router({
      mode: 'weighted',
      endpoints: [
        { site: 'east', url: east.url, weight: 3 },
        { site: 'west', url: west.url, weight: 1 },
      ],
    });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());

    const counts: Record<string, number> = { east: 0, west: 0 };
    for (let i = 0; i < 400; i += 1) {
      const site = (await request(front.url, { agent })).headers['x-drctl-site'] as string;
      counts[site] = (counts[site] ?? 0) + 1;
    }
    expect(counts.east).toBeGreaterThanOrEqual(280);
    expect(counts.east).toBeLessThanOrEqual(320);
    expect(counts.west).toBeGreaterThanOrEqual(80);
    expect(front.status().serving).toEqual(['east', 'west']);
  });

  it('drains a site: new requests go elsewhere while the one in flight completes', async () => {
    const { east, front } = await eastAndWest();

    const streaming = request(`${front.url}/stream`);
    await until(() => front.status().endpoints[0]?.inFlight === 1, 'the streaming request to reach east');
    const drained = front.drain('east');
    expect(drained).toMatchObject({ site: 'east', active: 'west' });
    expect((await request(front.url)).headers['x-drctl-site']).toBe('west');

    east.releaseStreams();
    const finished = await streaming;
    expect(finished.body).toBe('first from east\nlast\n');
    await until(() => front.status().endpoints[0]?.inFlight === 0, 'east to have nothing in flight');

    front.undrain('east');
    expect(front.status().active).toBe('east');
    expect(front.history().map((event) => event.type)).toEqual(
      expect.arrayContaining(['endpoint-drained', 'endpoint-undrained']),
    );
  });

  it('honours a manual override and returns to priority routing when it is cleared', async () => {
    const { front } = await eastAndWest();

    const switched = front.switchTo('west');
    expect(switched).toMatchObject({ site: 'west', active: 'west' });
    expect((await request(front.url)).headers['x-drctl-site']).toBe('west');
    expect(front.status().override).toBe('west');

    front.switchTo(null);
    expect(front.status()).toMatchObject({ active: 'east', override: null });
    expect(() => front.switchTo('north')).toThrow(
      expect.objectContaining({ code: 'DRCTL_ROUTER_UNKNOWN_SITE' }),
    );
  });

  it('refuses to switch to a site that is down unless forced', async () => {
    const east = await upstream('east');
    const west = await upstream('west');
    west.setHealthy(false);
    const front = await router({
      endpoints: [
        { site: 'east', url: east.url },
        { site: 'west', url: west.url },
      ],
    });

    let error: unknown;
    try {
      front.switchTo('west');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DrctlError);
    expect(error).toMatchObject({ code: 'DRCTL_ROUTER_ENDPOINT_UNHEALTHY' });
    // forced: the override waits for west, traffic stays on east meanwhile
    expect(front.switchTo('west', { force: true })).toMatchObject({ active: 'east' });
  });

  it('does not fail over by itself in manual mode', async () => {
    const east = await upstream('east');
    const west = await upstream('west');
    const front = await router({
      mode: 'manual',
      active: 'east',
      endpoints: [
        { site: 'east', url: east.url },
        { site: 'west', url: west.url },
      ],
    });
    east.setHealthy(false);
    await front.waitForEvent((event) => event.type === 'endpoint-down' && event.site === 'east');

    const answer = await request(front.url);
    expect(answer.status).toBe(503);
    expect(answer.body).toContain('west is up but not the site manual mode is pinned to');
    front.switchTo('west');
    expect((await request(front.url)).headers['x-drctl-site']).toBe('west');
  });

  it('answers 503 with a JSON body naming every site when none is healthy', async () => {
    const { east, front } = await eastAndWest();
    front.drain('west');
    east.setHealthy(false);
    await front.waitForEvent((event) => event.type === 'endpoint-down' && event.site === 'east');

    const answer = await request(`${front.url}/orders`, {
      method: 'POST',
      body: '{"item":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toContain('application/json');
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.body)).toMatchObject({
      error: {
        code: 'DRCTL_ROUTER_NO_HEALTHY_ENDPOINT',
        message: 'no site can take traffic: east is down (status 500); west is drained',
        endpoints: [
          { site: 'east', state: 'down', drained: false },
          { site: 'west', state: 'up', drained: true },
        ],
      },
    });
    const changed = front
      .history()
      .filter((event) => event.type === 'active-changed')
      .at(-1);
    expect(changed).toMatchObject({ from: 'east', to: null });
  });

  it('forwards request bodies, fixed-length and chunked, and keeps upstream connections alive', async () => {
    const east = await upstream('east');
    const front = await router({ endpoints: [{ site: 'east', url: east.url }] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());

    const big = Buffer.alloc(1024 * 1024, 'x');
    const fixed = await request(`${front.url}/echo`, { method: 'PUT', body: big, agent });
    expect(fixed.body.length).toBe(big.length);
    expect(fixed.headers['x-method']).toBe('PUT');

    const chunked = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${front.url}/echo`, { method: 'POST', agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    expect(chunked).toBe('part one, part two');

    for (let i = 0; i < 50; i += 1) expect((await request(front.url, { agent })).status).toBe(200);
    expect(east.trafficConnections()).toBe(1);
  });

  it('streams a response to the client before the upstream has finished it', async () => {
    const east = await upstream('east');
    const front = await router({ endpoints: [{ site: 'east', url: east.url }] });

    const text = await new Promise<string>((resolve, reject) => {
      http
        .get(`${front.url}/stream`, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
            // the upstream only ends the response once we have seen its first chunk
            if (body === 'first from east\n') east.releaseStreams();
          });
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    expect(text).toBe('first from east\nlast\n');
  });

  it('stops the upstream work when the client goes away mid-answer, without suspecting the site', async () => {
    const east = await upstream('east');
    const front = await router({ endpoints: [{ site: 'east', url: east.url }] });
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${front.url}/stream`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') reject(error);
      });
    });
    await until(() => front.status().endpoints[0]?.inFlight === 0, 'the abandoned request to be released');
    expect(front.status().endpoints[0]).toMatchObject({ state: 'up', serving: true });
    expect(front.history().filter((event) => event.type === 'endpoint-suspect')).toEqual([]);
    expect((await request(`${front.url}/orders`)).status).toBe(200);
  });

  it('answers 504 when a paused site does not start answering in time', async () => {
    const east = await processUpstream('east');
    const front = await router({
      responseTimeoutMs: 300,
      endpoints: [{ site: 'east', url: east.url }],
      probe: { ...fastProbe, path: '/', intervalMs: 60_000 },
    });
    pauseProcess({ pid: east.child.pid as number });
    try {
      const answer = await request(`${front.url}/orders`);
      expect(answer.status).toBe(504);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { code: 'DRCTL_ROUTER_UPSTREAM_TIMEOUT', site: 'east' },
      });
    } finally {
      resumeProcess({ pid: east.child.pid as number });
    }
  });

  it('moves a GET waiting on a site that froze to the next site once probes take it out, and leaves a POST where it is', async () => {
    // the frozen-site drill's front-door check: a request forwarded just before the site froze must not
    // wait out the whole response timeout while every later request goes to the other site
    const east = await processUpstream('east');
    const west = await upstream('west');
    const front = await router({
      responseTimeoutMs: 20_000,
      endpoints: [
        { site: 'east', url: east.url },
        { site: 'west', url: west.url },
      ],
      probe: { ...fastProbe, path: '/', failures: 2, successes: 1 },
    });
    expect((await request(`${front.url}/ready`)).headers['x-drctl-site']).toBe('east');
    pauseProcess({ pid: east.child.pid as number });
    try {
      const started = performance.now();
      const post = request(`${front.url}/orders`, { method: 'POST', body: '{"id":"o-1"}' });
      const answer = await request(`${front.url}/ready`);
      expect(answer.status).toBe(200);
      expect(answer.headers['x-drctl-site']).toBe('west');
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(front.status().endpoints[0]).toMatchObject({ site: 'east', state: 'down', inFlight: 1 });

      // the POST may have reached east: it is never sent twice, east answers it when it thaws
      resumeProcess({ pid: east.child.pid as number });
      expect((await post).headers['x-drctl-site']).toBe('east');
    } finally {
      resumeProcess({ pid: east.child.pid as number });
    }
  });

  it('serves status openly but wants the bearer token to switch or drain', async () => {
    const east = await upstream('east');
    const west = await upstream('west');
    const front = await router({
      adminToken: 'secret-token-1',
      endpoints: [
        { site: 'east', url: east.url },
        { site: 'west', url: west.url },
      ],
    });

    const status = await request(`${front.adminUrl}/status`);
    expect(JSON.parse(status.body)).toMatchObject({ mode: 'priority', active: 'east', serving: ['east'] });

    const refused = await request(`${front.adminUrl}/switch`, { method: 'POST', body: '{"site":"west"}' });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'DRCTL_ROUTER_UNAUTHORIZED' } });

    const auth = { authorization: 'Bearer secret-token-1', 'content-type': 'application/json' };
    const switched = await request(`${front.adminUrl}/switch`, {
      method: 'POST',
      body: '{"site":"west"}',
      headers: auth,
    });
    expect(JSON.parse(switched.body)).toMatchObject({ site: 'west', active: 'west' });
    const unknown = await request(`${front.adminUrl}/drain`, {
      method: 'POST',
      body: '{"site":"north"}',
      headers: auth,
    });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: 'DRCTL_ROUTER_UNKNOWN_SITE' } });
    const events = JSON.parse((await request(`${front.adminUrl}/events`)).body) as {
      events: { type: string }[];
    };
    expect(events.events.map((event) => event.type)).toContain('override-set');
  });

  it('rejects invalid options and a taken port with usage errors', async () => {
    await expect(TrafficRouter.create({ endpoints: [] })).rejects.toMatchObject({
      code: 'DRCTL_ROUTER_OPTIONS_INVALID',
    });
    await expect(
      TrafficRouter.create({ endpoints: [{ site: 'east', url: 'ftp://x' }] }),
    ).rejects.toBeInstanceOf(UsageError);

    const east = await upstream('east');
    const first = await router({ endpoints: [{ site: 'east', url: east.url }] });
    const port = Number(new URL(first.url).port);
    await expect(
      TrafficRouter.create({ port, endpoints: [{ site: 'east', url: east.url }] }),
    ).rejects.toMatchObject({
      code: 'DRCTL_ROUTER_LISTEN_FAILED',
      exitCode: 2,
    });
  });
});

/** A site whose handler dies mid-request: it reads the whole body, then resets the connection. */
async function crashingUpstream(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    requests += 1;
    req.resume();
    req.on('end', () => req.socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe('passive health', () => {
  // Probes far apart: whatever moves traffic within a test is live traffic, not a probe.
  const slowProbe = { ...fastProbe, intervalMs: 60_000 };

  it('takes a killed site out at the first refused request and serves it, body and all, from the next', async () => {
    const { east, front } = await killableEastAndWest(slowProbe);
    killProcess({ pid: east.child.pid as number });
    await new Promise((resolve) => east.child.once('exit', resolve));

    // a POST whose connection was refused sent nothing, so it goes to the next site whole
    const posted = await request(`${front.url}/echo`, { method: 'POST', body: 'order 42' });
    expect(posted).toMatchObject({ status: 200, body: 'order 42' });
    expect(posted.headers['x-drctl-site']).toBe('west');
    const state = front.status().endpoints.find((endpoint) => endpoint.site === 'east');
    expect(state).toMatchObject({ state: 'suspect', routable: false, serving: false });
    const suspect = front.history().find((event) => event.type === 'endpoint-suspect');
    expect(suspect).toMatchObject({ site: 'east', from: 'up' });
    expect(suspect).toMatchObject({ reason: expect.stringContaining('ECONNREFUSED') as unknown });
    // steering only: no probe has failed, so nothing says east is down
    expect(front.history().filter((event) => event.type === 'endpoint-down')).toEqual([]);
    expect(front.status().active).toBe('west');
  });

  it('retries a GET on the next site when the connection is reset mid-request, after one more try on the same site', async () => {
    const east = await crashingUpstream();
    const { front } = await inFrontOf(east.url, slowProbe);
    const answer = await request(`${front.url}/orders`);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-drctl-site']).toBe('west');
    // the second reset shows it was not an idle connection closed just as the request went out
    expect(east.requests()).toBe(2);
    expect(front.status().endpoints[0]).toMatchObject({ site: 'east', state: 'suspect' });
  });

  it('does not send a POST whose body reached a site that then reset to another site', async () => {
    const east = await crashingUpstream();
    const { west, front } = await inFrontOf(east.url, slowProbe);
    const answer = await request(`${front.url}/echo`, { method: 'POST', body: 'charge the card' });
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'DRCTL_ROUTER_UPSTREAM_FAILED', site: 'east' },
    });
    expect(east.requests()).toBe(1);
    expect(west.trafficConnections()).toBe(0);
    // the reset still steers what comes next
    expect(front.status().endpoints[0]).toMatchObject({ site: 'east', state: 'suspect' });
    expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('west');
  });

  it('brings a suspect site back only after probes sent after the failure pass', async () => {
    const { east, west, cut } = await eastProxiedAndWest();
    const front = await router({
      endpoints: [
        // traffic through the proxy, probes straight to the site: only live traffic sees the resets
        { site: 'east', url: `http://${cut.address}`, probe: { path: `${east.url}/health` } },
        { site: 'west', url: west.url },
      ],
      probe: { ...fastProbe, intervalMs: 100 },
    });
    expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('east');

    east.setHealthy(false);
    cut.set({ kind: 'reset' });
    expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('west');
    cut.clear();
    const suspect = await front.waitForEvent((event) => event.type === 'endpoint-suspect');
    // the traffic path works again, but probes fail: east stays out until they pass
    await until(() => east.probes() >= 5, 'failed probes of east');
    expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('west');
    const probesBefore = east.probes();
    east.setHealthy(true);
    const up = await front.waitForEvent((event) => event.type === 'endpoint-up' && event.site === 'east', {
      afterSeq: suspect.seq,
    });
    expect(east.probes() - probesBefore).toBeGreaterThanOrEqual(fastProbe.successes);
    expect(up.at).toBeGreaterThan(suspect.at);
    expect((await request(`${front.url}/orders`)).headers['x-drctl-site']).toBe('east');
  });
});
