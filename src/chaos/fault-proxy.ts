/**
 * A TCP fault proxy: listens on 127.0.0.1, forwards every connection to a target, and applies faults
 * (latency, jitter, blackhole, reset, bandwidth; per direction) that can be switched at run time, in code
 * or through a small HTTP API. It sits between components the way a bad network would.
 */
import http from 'node:http';
import net from 'node:net';
import pino from 'pino';
import type { Logger } from 'pino';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { closeServer, listen, urlFor } from '../router/listen.ts';
import { compileFaults, noRules } from './faults.ts';
import type { DirectionRules, ProxyFault, ProxyRules } from './faults.ts';
import { jsonApi } from './http.ts';

export interface FaultProxyOptions {
  /** Where to forward: `host:port` or a port on 127.0.0.1. */
  target: string | number;
  /** Port to listen on, on 127.0.0.1; 0 picks a free one. @default 0 */
  listen?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Also serve the HTTP control API on this port (0: a free one); no API when absent. */
  adminPort?: number;
  /** Bearer token the control API wants for PUT and DELETE; open when absent (it binds 127.0.0.1). */
  adminToken?: string;
  /** Faults active from the start. @default [] */
  faults?: ProxyFault[];
  /** @default a silent logger */
  log?: Logger;
}

export interface FaultChange {
  faults: ProxyFault[];
  /** Date.now() when the faults took effect. */
  at: number;
  /** performance.now() when the faults took effect. */
  monotonic: number;
}

export interface FaultProxyStats {
  /** Connections open now. */
  open: number;
  accepted: number;
  /** Connections reset by the reset fault. */
  reset: number;
  /** Connections whose target refused or failed. */
  failed: number;
  bytesUp: number;
  bytesDown: number;
}

// Above this much data held by latency, bandwidth or a blackhole, stop reading (backpressure to the sender).
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export class FaultProxy {
  readonly port: number;
  readonly host: string;
  /** host:port clients connect to. */
  readonly address: string;
  readonly target: { host: string; port: number };
  /** URL of the control API, when `adminPort` was given. */
  readonly adminUrl: string | undefined;

  private rules: ProxyRules = noRules();
  private active: ProxyFault[] = [];
  private readonly connections = new Set<ProxiedConnection>();
  private readonly changes: FaultChange[] = [];
  private readonly counters = { accepted: 0, reset: 0, failed: 0, bytesUp: 0, bytesDown: 0 };
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: net.Server,
    private readonly admin: http.Server | undefined,
    port: number,
    adminPort: number | undefined,
    host: string,
    target: { host: string; port: number },
    private readonly log: Logger,
  ) {
    this.port = port;
    this.host = host;
    this.address = `${host}:${port}`;
    this.target = target;
    this.adminUrl = adminPort === undefined ? undefined : urlFor(host, adminPort);
  }

  static async create(options: FaultProxyOptions): Promise<FaultProxy> {
    const target = parseTarget(options.target);
    const host = options.host ?? '127.0.0.1';
    const initial = compileFaults(options.faults ?? []);
    const holder: { proxy?: FaultProxy } = {};
    const server = net.createServer(
      { pauseOnConnect: true, allowHalfOpen: true, noDelay: true },
      (socket) => {
        if (holder.proxy) holder.proxy.accept(socket);
        else socket.destroy();
      },
    );
    const admin =
      options.adminPort === undefined
        ? undefined
        : http.createServer(controlApi(() => holder.proxy as FaultProxy, options.adminToken));
    const port = await listen(
      server,
      host,
      options.listen ?? 0,
      'the fault proxy',
      'DRCTL_CHAOS_LISTEN_FAILED',
    );
    let adminPort: number | undefined;
    if (admin) {
      try {
        adminPort = await listen(
          admin,
          host,
          options.adminPort ?? 0,
          'the fault proxy control API',
          'DRCTL_CHAOS_LISTEN_FAILED',
        );
      } catch (error) {
        await closeServer(server);
        throw error;
      }
    }
    const proxy = new FaultProxy(
      server,
      admin,
      port,
      adminPort,
      host,
      target,
      options.log ?? pino({ level: 'silent' }),
    );
    proxy.rules = initial.rules;
    proxy.active = initial.faults;
    holder.proxy = proxy;
    return proxy;
  }

  /** Replace the active faults; applies to open connections at once. Throws DRCTL_CHAOS_FAULT_INVALID. */
  set(faults: ProxyFault | readonly ProxyFault[]): FaultChange {
    const list = Array.isArray(faults) ? faults : [faults];
    const compiled = compileFaults(list);
    this.rules = compiled.rules;
    this.active = compiled.faults;
    const change: FaultChange = { faults: compiled.faults, at: Date.now(), monotonic: performance.now() };
    this.changes.push(change);
    this.log.info(
      { target: this.target, faults: compiled.faults, at: change.at },
      compiled.faults.length ? 'faults set' : 'faults cleared',
    );
    for (const connection of [...this.connections]) {
      if (this.rules.reset) connection.reset();
      else connection.refresh();
    }
    return change;
  }

  /** Lift every fault: held data flows again, new connections go through. */
  clear(): FaultChange {
    return this.set([]);
  }

  faults(): ProxyFault[] {
    return [...this.active];
  }

  /** Every set/clear so far, with timestamps, for a drill's timeline. */
  history(): FaultChange[] {
    return [...this.changes];
  }

  stats(): FaultProxyStats {
    return { open: this.connections.size, ...this.counters };
  }

  /** Stop listening and destroy every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = Promise.all([
        closeServer(this.server),
        this.admin ? closeServer(this.admin) : Promise.resolve(),
      ]);
      for (const connection of [...this.connections]) connection.destroy();
      this.admin?.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  /** @internal */
  currentRules(): ProxyRules {
    return this.rules;
  }

  /** @internal */
  count(what: 'reset' | 'failed'): void {
    this.counters[what] += 1;
  }

  /** @internal */
  countBytes(direction: 'up' | 'down', bytes: number): void {
    if (direction === 'up') this.counters.bytesUp += bytes;
    else this.counters.bytesDown += bytes;
  }

  /** @internal */
  forget(connection: ProxiedConnection): void {
    this.connections.delete(connection);
  }

  private accept(client: net.Socket): void {
    this.counters.accepted += 1;
    if (this.closing) {
      client.destroy();
      return;
    }
    if (this.rules.reset) {
      this.counters.reset += 1;
      resetSocket(client);
      return;
    }
    this.connections.add(new ProxiedConnection(client, this));
  }
}

/** One client connection and, once the up direction lets it through, its connection to the target. */
class ProxiedConnection {
  private upstream: net.Socket | undefined;
  private readonly up: Link;
  private readonly down: Link;
  private done = false;

  constructor(
    private readonly client: net.Socket,
    private readonly proxy: FaultProxy,
  ) {
    this.up = new Link(
      client,
      () => proxy.currentRules().up,
      (bytes) => proxy.countBytes('up', bytes),
    );
    this.down = new Link(
      undefined,
      () => proxy.currentRules().down,
      (bytes) => proxy.countBytes('down', bytes),
    );
    this.down.setDestination(client);
    client.on('error', () => this.destroy());
    client.on('close', () => this.closed());
    // A blackhole on the way up means the target never hears of this connection until it is lifted.
    if (!proxy.currentRules().up.blackhole) this.connect();
    this.up.refresh();
  }

  refresh(): void {
    if (!this.upstream && !this.proxy.currentRules().up.blackhole) this.connect();
    this.up.refresh();
    this.down.refresh();
  }

  private connect(): void {
    const upstream = net.connect({
      host: this.proxy.target.host,
      port: this.proxy.target.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.upstream = upstream;
    upstream.on('error', () => {
      this.proxy.count('failed');
      // The client's connection was accepted, so the closest thing to "refused" we can tell it is a reset.
      this.reset(false);
    });
    upstream.on('close', () => this.closed());
    this.up.setDestination(upstream);
    this.down.setSource(upstream);
  }

  reset(byFault = true): void {
    if (this.done) return;
    this.done = true;
    if (byFault) this.proxy.count('reset');
    resetSocket(this.client);
    if (this.upstream) resetSocket(this.upstream);
    this.finish();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.client.destroy();
    this.upstream?.destroy();
    this.finish();
  }

  private closed(): void {
    // With half-open allowed each side closes only once both of its directions have ended.
    if (this.client.destroyed && (this.upstream === undefined || this.upstream.destroyed)) {
      this.done = true;
      this.finish();
    }
  }

  private finish(): void {
    this.up.stop();
    this.down.stop();
    this.proxy.forget(this);
  }
}

interface Held {
  chunk: Buffer;
  due: number;
}

/**
 * One direction of a connection: reads from its source and writes to its destination, holding chunks
 * as long as the rules say (latency, jitter, bandwidth, blackhole) without reordering them.
 */
class Link {
  private source: net.Socket | undefined;
  private destination: net.Socket | undefined;
  private readonly queue: Held[] = [];
  private queuedBytes = 0;
  private lastDue = 0;
  private lastSent = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private waitingDrain = false;
  private stopped = false;

  constructor(
    source: net.Socket | undefined,
    private readonly rules: () => DirectionRules,
    private readonly counted: (bytes: number) => void,
  ) {
    if (source) this.setSource(source);
  }

  setSource(source: net.Socket): void {
    this.source = source;
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.on('end', () => {
      this.ended = true;
      this.flush();
    });
    this.refresh();
  }

  setDestination(destination: net.Socket): void {
    this.destination = destination;
    destination.on('drain', () => {
      this.waitingDrain = false;
      this.flush();
    });
    this.flush();
  }

  /** Apply the current rules: pause for a blackhole, resume and deliver what is due otherwise. */
  refresh(): void {
    if (this.stopped) return;
    if (this.rules().blackhole) {
      this.source?.pause();
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    this.flush();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private push(chunk: Buffer): void {
    const rules = this.rules();
    const now = performance.now();
    if (
      !rules.blackhole &&
      rules.latencyMs === 0 &&
      rules.jitterMs === 0 &&
      rules.bytesPerSecond === undefined &&
      this.queue.length === 0 &&
      this.destination &&
      !this.waitingDrain
    ) {
      this.write(chunk);
      return;
    }
    // Bandwidth: a chunk leaves when the previous one has, plus its own transmission time; cut big chunks
    // into 50 ms slices so a slow link trickles instead of bursting.
    const slices: Buffer[] = [];
    if (rules.bytesPerSecond === undefined) slices.push(chunk);
    else {
      const size = Math.max(1, Math.floor(rules.bytesPerSecond / 20));
      for (let offset = 0; offset < chunk.length; offset += size)
        slices.push(chunk.subarray(offset, offset + size));
    }
    for (const slice of slices) {
      let sent = now;
      if (rules.bytesPerSecond !== undefined) {
        sent = Math.max(now, this.lastSent) + (slice.length / rules.bytesPerSecond) * 1000;
        this.lastSent = sent;
      }
      const jitter = rules.jitterMs === 0 ? 0 : (Math.random() * 2 - 1) * rules.jitterMs;
      // TCP keeps order: a chunk with less jitter never overtakes the one before it.
      const due = Math.max(sent + Math.max(0, rules.latencyMs + jitter), this.lastDue);
      this.lastDue = due;
      this.queue.push({ chunk: slice, due });
      this.queuedBytes += slice.length;
    }
    if (this.queuedBytes > HIGH_WATER) this.source?.pause();
    this.flush();
  }

  private flush(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const rules = this.rules();
    if (rules.blackhole || !this.destination) return;
    const now = performance.now();
    while (this.queue.length > 0 && !this.waitingDrain) {
      const head = this.queue[0] as Held;
      if (head.due > now) break;
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      this.write(head.chunk);
    }
    const head = this.queue[0];
    if (head && !this.waitingDrain) this.timer = setTimeout(() => this.flush(), Math.max(0, head.due - now));
    if (this.queue.length === 0 && this.ended && !this.destination.writableEnded) this.destination.end();
    if (!this.waitingDrain && this.queuedBytes < LOW_WATER && this.source?.isPaused()) this.source.resume();
  }

  private write(chunk: Buffer): void {
    if (!this.destination || this.destination.destroyed) return;
    this.counted(chunk.length);
    if (!this.destination.write(chunk)) {
      this.waitingDrain = true;
      this.source?.pause();
    }
  }
}

function parseTarget(target: string | number): { host: string; port: number } {
  if (typeof target === 'number') return { host: '127.0.0.1', port: target };
  const match = /^(.*):(\d+)$/.exec(target.replace(/^tcp:\/\//, ''));
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port > 0 && port < 65536)) {
    throw new UsageError(
      'DRCTL_CHAOS_TARGET_INVALID',
      `the fault proxy target "${target}" is not host:port`,
      { hint: 'write it like 127.0.0.1:5433' },
    );
  }
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}

const FaultsBody = z.union([z.array(z.unknown()), z.unknown()]);

function controlApi(proxy: () => FaultProxy, token: string | undefined): http.RequestListener {
  return jsonApi(token, 'DRCTL_CHAOS_UNAUTHORIZED', 'the fault proxy control API', (app, body) => {
    app.get('/faults', (c) => c.json({ faults: proxy().faults() }));
    app.get('/stats', (c) => c.json(proxy().stats()));
    app.get('/history', (c) => c.json({ changes: proxy().history() }));
    app.put('/faults', async (c) => {
      const value = FaultsBody.parse(await body(c));
      return c.json(proxy().set((Array.isArray(value) ? value : [value]) as ProxyFault[]));
    });
    app.delete('/faults', (c) => c.json(proxy().clear()));
  });
}

/**
 * Closes a socket with a reset (RST) when it can. A socket whose end (FIN) is still being sent cannot be
 * reset: libuv refuses, yet Node 20 marks the handle closing, and the process then spins for ever in its
 * exit-time handle cleanup. Such a socket is destroyed instead.
 */
function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}
