import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';
import { BODY_EXCERPT_LIMIT, connectedToItself, probeHttp, probeTcp } from '../../probe/index.ts';
import { httpProvider } from './index.ts';

let server: http.Server;
let base: string;
const hanging = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            status: 'up',
            db: { lag: 0, role: 'primary' },
            sites: [{ id: 'east' }, { id: 'west' }],
          }),
        );
      } else if (req.url === '/slow') setTimeout(() => res.end('late'), 400);
      else if (req.url === '/hang') hanging.add(res);
      else if (req.url === '/big') res.end('x'.repeat(BODY_EXCERPT_LIMIT * 4));
      else if (req.url === '/echo') {
        res.setHeader('content-type', 'application/json');
        res.statusCode = req.method === 'POST' ? 201 : 200;
        res.end(
          JSON.stringify({
            method: req.method,
            type: req.headers['content-type'],
            token: req.headers['x-token'],
            body,
          }),
        );
      } else if (req.url === '/down') {
        res.statusCode = 503;
        res.end('maintenance');
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function context(): { ctx: ActionContext; evidence: Map<string, unknown> } {
  const evidence = new Map<string, unknown>();
  const ctx: ActionContext = {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan: {} as Plan,
    stateDir: '.',
    evidence: (name, value) => evidence.set(name, value),
  };
  return { ctx, evidence };
}

const probe = httpProvider.checks.probe;
const request = httpProvider.actions.request;

describe('http.probe', () => {
  it('passes when status, body text and JSON fields by dotted path match, and keeps them as evidence', async () => {
    const { ctx, evidence } = context();
    const params = probe.params.parse({
      url: `${base}/health`,
      body_contains: '"up"',
      json: { status: 'up', 'db.role': 'primary', 'sites.1.id': 'west' },
      latency: '5s',
    });
    const result = await probe.run(params, ctx);
    expect(result.ok).toBe(true);
    expect(evidence.get('status')).toBe(200);
    expect(typeof evidence.get('latency_ms')).toBe('number');
    expect(evidence.get('body')).toContain('"status":"up"');
  });

  it('fails naming every expectation that does not hold', async () => {
    const { ctx } = context();
    const params = probe.params.parse({
      url: `${base}/health`,
      json: { 'db.lag': 5, 'db.missing': 1 },
      body_contains: 'down',
    });
    const result = await probe.run(params, ctx);
    expect(result.ok).toBe(false);
    expect((result.observed as { failures: string[] }).failures).toEqual([
      'body does not contain "down"',
      'JSON field db.lag is 0, expected 5',
      'JSON field db.missing is missing',
    ]);
  });

  it('fails on a wrong status', async () => {
    const { ctx, evidence } = context();
    const result = await probe.run(probe.params.parse({ url: `${base}/down` }), ctx);
    expect(result).toMatchObject({ ok: false });
    expect(result.message).toContain('status 503, expected 200');
    expect(evidence.get('body')).toBe('maintenance');
  });

  it('fails when the answer is right but slower than the latency budget', async () => {
    const result = await probeHttp({ url: `${base}/slow`, latencyBudgetMs: 100 });
    expect(result.status).toBe(200);
    expect(result.ok).toBe(false);
    expect(result.failures[0]).toMatch(/over the 100ms budget/);
  });

  it('gives up after the timeout when the server never answers', async () => {
    const result = await probeHttp({ url: `${base}/hang`, timeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, status: undefined, failures: ['no answer within 300ms'] });
  });

  it('reports a refused connection without throwing', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await probeHttp({ url: `http://127.0.0.1:${port}/` });
    expect(result.failures).toEqual(['connection refused']);
    expect((await probeTcp(`127.0.0.1:${port}`)).ok).toBe(false);
  });

  it('tells a connection to itself (a dead local port taken as the source) from a listening server', async () => {
    const listening = http.createServer();
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const live = (listening.address() as AddressInfo).port;
    const dead = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const connect = (options: net.NetConnectOpts) =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(options, () => resolve(socket));
        socket.once('error', reject);
      });
    // what the kernel may do to any client of a dead local port: source port = target port
    const self = await connect({ host: '127.0.0.1', port: dead, localAddress: '127.0.0.1', localPort: dead });
    const real = await connect({ host: '127.0.0.1', port: live });
    expect(connectedToItself(self)).toBe(true);
    expect(connectedToItself(real)).toBe(false);
    self.destroy();
    real.destroy();
    await new Promise((resolve) => listening.close(resolve));
  });

  it('caps the body kept as evidence', async () => {
    const result = await probeHttp({ url: `${base}/big` });
    expect(result.bodyExcerpt).toHaveLength(BODY_EXCERPT_LIMIT);
    expect(result.bodyTruncated).toBe(true);
  });

  it('rejects parameters that are not a URL or not a duration', () => {
    expect(probe.params.safeParse({ url: 'ftp://x' }).success).toBe(false);
    expect(probe.params.safeParse({ url: base, latency: 'quick' }).success).toBe(false);
  });
});

describe('http.request', () => {
  it('sends method, headers and a JSON body, and accepts any 2xx by default', async () => {
    const { ctx, evidence } = context();
    const params = request.params.parse({
      url: `${base}/echo`,
      method: 'post',
      headers: { 'x-token': 't1' },
      body: { site: 'west' },
    });
    const result = await request.run(params, ctx);
    expect(result.summary).toMatch(/^POST .*\/echo: 201 in \d+ms$/);
    expect(JSON.parse(String(evidence.get('body')))).toEqual({
      method: 'POST',
      type: 'application/json',
      token: 't1',
      body: '{"site":"west"}',
    });
  });

  it('fails the step with DRCTL_HTTP_REQUEST_FAILED when the status is not the expected one', async () => {
    const { ctx, evidence } = context();
    const error = await request
      .run(request.params.parse({ url: `${base}/echo`, status: 204 }), ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_HTTP_REQUEST_FAILED');
    expect((error as DrctlError).message).toContain('status 200, expected 204');
    expect(evidence.get('status')).toBe(200);
  });

  it('fails the step when the timeout passes, and stops when the run is cancelled', async () => {
    const { ctx } = context();
    const timedOut = await request
      .run(request.params.parse({ url: `${base}/hang`, timeout: '200ms' }), ctx)
      .catch((e: unknown) => e);
    expect((timedOut as DrctlError).message).toContain('no answer within 200ms');

    const controller = new AbortController();
    const pending = request
      .run(request.params.parse({ url: `${base}/hang` }), { ...ctx, signal: controller.signal })
      .catch((e: unknown) => e);
    controller.abort();
    expect(((await pending) as DrctlError).message).toContain('cancelled');
  });
});
