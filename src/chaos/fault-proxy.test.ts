import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.ts';
import { request, until } from '../router/test-support.ts';
import { FaultProxy, parseBandwidth } from './index.ts';
import type { FaultProxyOptions } from './index.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP echo server that counts the connections it saw. */
async function echoServer(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

async function proxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const started = await FaultProxy.create(options);
  cleanups.push(() => started.close());
  return started;
}

/** A client connection that collects what it receives. */
async function connect(port: number): Promise<{
  socket: net.Socket;
  received: () => string;
  error: () => NodeJS.ErrnoException | undefined;
  closed: () => boolean;
}> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let failure: NodeJS.ErrnoException | undefined;
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => (failure = error));
  socket.on('close', () => (closed = true));
  cleanups.push(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, error: () => failure, closed: () => closed };
}

async function roundTrip(
  client: { socket: net.Socket; received: () => string },
  message: string,
): Promise<number> {
  const before = client.received().length;
  const started = performance.now();
  client.socket.write(message);
  await until(() => client.received().length >= before + message.length, `the echo of ${message}`);
  return performance.now() - started;
}

describe('fault proxy', () => {
  it('forwards bytes both ways when no fault is set', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port });
    const client = await connect(fp.port);
    await roundTrip(client, 'hello');
    expect(client.received()).toBe('hello');
    expect(fp.stats()).toMatchObject({ open: 1, accepted: 1, bytesUp: 5, bytesDown: 5 });
  });

  it('adds latency in each faulted direction', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: `127.0.0.1:${echo.port}` });
    const client = await connect(fp.port);
    await roundTrip(client, 'warm');

    fp.set({ kind: 'latency', latencyMs: 150 });
    expect(await roundTrip(client, 'both')).toBeGreaterThanOrEqual(295);
    fp.set({ kind: 'latency', latencyMs: 150, jitterMs: 20, direction: 'down' });
    expect(await roundTrip(client, 'down')).toBeGreaterThanOrEqual(129);
    fp.clear();
    expect(client.received()).toBe('warmbothdown');
  });

  it('holds a blackholed connection silent and lets the held data through when lifted', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port });
    const client = await connect(fp.port);
    await roundTrip(client, 'a');

    const change = fp.set({ kind: 'blackhole' });
    expect(change.at).toBeGreaterThan(0);
    client.socket.write('held');
    const late = await connect(fp.port);
    late.socket.write('late');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.received()).toBe('a');
    expect(late.received()).toBe('');
    // the new connection was accepted by the proxy but never reached the target
    expect(echo.connections()).toBe(1);

    fp.clear();
    await until(
      () => client.received() === 'aheld' && late.received() === 'late',
      'held data after the blackhole',
    );
    expect(echo.connections()).toBe(2);
  });

  it('resets open connections and every new one while the reset fault is set', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port });
    const open = await connect(fp.port);
    await roundTrip(open, 'x');

    fp.set({ kind: 'reset' });
    await until(() => open.closed(), 'the open connection to be reset');
    expect(open.error()?.code).toBe('ECONNRESET');

    const fresh = net.connect(fp.port, '127.0.0.1');
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => fresh.on('error', resolve));
    expect(error.code).toBe('ECONNRESET');
    expect(fp.stats().reset).toBe(2);

    fp.clear();
    const after = await connect(fp.port);
    await roundTrip(after, 'back');
  });

  it('limits bandwidth', async () => {
    const echo = await echoServer();
    const fp = await proxy({
      target: echo.port,
      faults: [{ kind: 'bandwidth', bytesPerSecond: 64 * 1024, direction: 'up' }],
    });
    const client = await connect(fp.port);
    // 32 KiB at 64 KiB/s takes at least half a second to cross
    expect(await roundTrip(client, 'x'.repeat(32 * 1024))).toBeGreaterThanOrEqual(450);
    expect(parseBandwidth('64kbps')).toBe(8000);
    expect(parseBandwidth('512KB/s')).toBe(512 * 1024);
    expect(parseBandwidth('fast')).toBeUndefined();
  });

  it('is switched at run time through its control API', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port, adminPort: 0, adminToken: 'chaos-token' });
    const auth = { authorization: 'Bearer chaos-token', 'content-type': 'application/json' };

    const refused = await request(`${fp.adminUrl}/faults`, { method: 'PUT', body: '{"kind":"blackhole"}' });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'DRCTL_CHAOS_UNAUTHORIZED' } });

    const set = await request(`${fp.adminUrl}/faults`, {
      method: 'PUT',
      body: '[{"kind":"latency","latencyMs":10}]',
      headers: auth,
    });
    expect(JSON.parse(set.body)).toMatchObject({ faults: [{ kind: 'latency', latencyMs: 10 }] });
    expect(fp.faults()).toEqual([{ kind: 'latency', latencyMs: 10 }]);

    const invalid = await request(`${fp.adminUrl}/faults`, {
      method: 'PUT',
      body: '{"kind":"earthquake"}',
      headers: auth,
    });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ error: { code: 'DRCTL_CHAOS_FAULT_INVALID' } });

    await request(`${fp.adminUrl}/faults`, { method: 'DELETE', headers: auth });
    expect(JSON.parse((await request(`${fp.adminUrl}/faults`)).body)).toEqual({ faults: [] });
    expect(fp.history().map((change) => change.faults.length)).toEqual([1, 0]);
  });

  it('rejects an invalid fault or target with a usage error', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port });
    expect(() => fp.set({ kind: 'latency', latencyMs: -1 })).toThrow(UsageError);
    expect(() => fp.set({ kind: 'latency', latencyMs: -1 })).toThrow(
      expect.objectContaining({ code: 'DRCTL_CHAOS_FAULT_INVALID' }),
    );
    await expect(FaultProxy.create({ target: 'nowhere' })).rejects.toMatchObject({
      code: 'DRCTL_CHAOS_TARGET_INVALID',
    });
  });

  it('resets the client when the target refuses the connection', async () => {
    const echo = await echoServer();
    const fp = await proxy({ target: echo.port });
    await cleanups.shift()?.();
    const client = net.connect(fp.port, '127.0.0.1');
    client.on('data', () => undefined);
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => client.on('error', resolve));
    expect(error.code).toBe('ECONNRESET');
    expect(fp.stats()).toMatchObject({ failed: 1, open: 0 });
  });
});
