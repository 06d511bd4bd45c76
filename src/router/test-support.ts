/**
 * Test support for the router and chaos tests: a small upstream site on a real socket whose health can
 * be switched, that echoes bodies and streams on demand, and counts probes and connections.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  site: string;
  port: number;
  url: string;
  /** /health answers 200 when healthy, 500 when not. */
  setHealthy(healthy: boolean): void;
  /** The next `count` health probes fail, then health is back to what it was. */
  failNextProbes(count: number): void;
  /** /health requests answered so far. */
  probes(): number;
  /** Distinct connections that carried a request other than /health. */
  trafficConnections(): number;
  /** Lets every pending /stream response finish. */
  releaseStreams(): void;
  stop(): Promise<void>;
  /** Listen again on the same port after stop(). */
  restart(): Promise<void>;
}

export async function startUpstream(site: string, port = 0): Promise<TestUpstream> {
  let healthy = true;
  let failures = 0;
  let probes = 0;
  const trafficSockets = new WeakSet<object>();
  let trafficConnections = 0;
  let pendingStreams: (() => void)[] = [];

  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      probes += 1;
      const ok = healthy && failures === 0;
      if (failures > 0) failures -= 1;
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'unhealthy');
      return;
    }
    if (!trafficSockets.has(req.socket)) {
      trafficSockets.add(req.socket);
      trafficConnections += 1;
    }
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res
          .writeHead(200, {
            'content-type': 'application/octet-stream',
            'x-site': site,
            'x-method': req.method ?? '',
          })
          .end(body);
      });
      return;
    }
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`first from ${site}\n`);
      pendingStreams.push(() => res.end('last\n'));
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ site, path: req.url }));
  });

  const listenOn = (wanted: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const bound = await listenOn(port);

  return {
    site,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    setHealthy: (value) => {
      healthy = value;
    },
    failNextProbes: (count) => {
      failures = count;
    },
    probes: () => probes,
    trafficConnections: () => trafficConnections,
    releaseStreams: () => {
      const pending = pendingStreams;
      pendingStreams = [];
      for (const release of pending) release();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    restart: async () => {
      await listenOn(bound);
    },
  };
}

export interface TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a keep-alive agent (the client side of a front door), body read to the end. */
export function request(
  url: string,
  options: {
    method?: string;
    body?: string | Buffer;
    agent?: http.Agent;
    headers?: http.OutgoingHttpHeaders;
  } = {},
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', agent: options.agent, headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Poll until `condition` holds; for waiting on counters, never for asserting speed. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
