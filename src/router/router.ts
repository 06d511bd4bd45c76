/**
 * The traffic router: a health-probing HTTP front door on 127.0.0.1 that forwards each request to the
 * site that should serve it (priority, weighted or manual), plus an admin API runbooks call.
 *
 * The forwarding path is written on node:http and undici's low-level dispatch rather than on hono: hono's
 * node adapter turns every request into a WHATWG Request/Response pair and the body into a web stream,
 * and forwarding with fetch adds another stream conversion. The client side is an undici Pool per site
 * driven through its dispatch handler (raw header buffers and body chunks, no ClientRequest, no
 * IncomingMessage, no per-request event emitter), which measured a third less CPU per request than
 * http.request on a keep-alive Agent (bench/router-latency.ts). The admin API is not on the hot path and
 * uses hono.
 *
 * Passive health: a refused or reset connection on live traffic makes the site suspect at once (out of
 * rotation until its probes pass, as HAProxy's `observe layer4`), and the request goes to the next site
 * when nothing of it was sent or it is idempotent without a body (ARCHITECTURE.md has the rules).
 */
import http from 'node:http';
import { timingSafeEqual, randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { Pool } from 'undici';
import { DrctlError } from '../errors.ts';
import { createAdminServer } from './admin.ts';
import { EventLog } from './events.ts';
import type { RouterEvent } from './events.ts';
import { EndpointHealth } from './health.ts';
import type { EndpointState, Transition } from './health.ts';
import { closeServer, listen, urlFor } from './listen.ts';
import { compileRouterOptions } from './options.ts';
import type { RouterConfig, RouterOptions, RoutingMode } from './options.ts';
import { Exchange, type Endpoint } from './exchange.ts';
import { probeOnce } from './probe.ts';
import type { ProbeResult } from './probe.ts';

export interface EndpointStatus {
  site: string;
  url: string;
  priority: number;
  weight: number;
  state: EndpointState;
  drained: boolean;
  /** Up, not drained: may be chosen. */
  routable: boolean;
  /** Takes traffic right now. */
  serving: boolean;
  inFlight: number;
  requests: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Epoch ms of the last state change. */
  changedAt: number | null;
  suppressedUntil: number | null;
  lastProbe: ProbeResult | null;
}

export interface RouterStatus {
  mode: RoutingMode;
  url: string;
  adminUrl: string;
  /** The site taking traffic (the first of `serving`), null when none. */
  active: string | null;
  serving: string[];
  /** Site pinned by switchTo in priority or weighted mode; null when routing is automatic. */
  override: string | null;
  endpoints: EndpointStatus[];
  /** Sequence number of the latest event, for `history(after)`. */
  lastEventSeq: number;
  at: number;
}

export interface SwitchOptions {
  /** Switch even when the site is not up (its probes fail or it has not been probed). @default false */
  force?: boolean;
}

export interface ChangeResult {
  site: string | null;
  active: string | null;
  serving: string[];
  at: number;
  monotonic: number;
}

export interface RouterDependencies {
  /** @default a silent logger */
  log?: Logger;
}

const EVENT_FOR = {
  up: 'endpoint-up',
  suspect: 'endpoint-suspect',
  down: 'endpoint-down',
  suppressed: 'endpoint-suppressed',
} as const;

// Connection-level failures of live traffic (HAProxy's layer 4): the site refused, reset or dropped us.
const LAYER4 = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
// Failures before a connection existed: nothing of the request left the router.
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
export class TrafficRouter {
  readonly url: string;
  readonly adminUrl: string;
  /** Bearer token the admin API wants for switch and drain (generated when the options gave none). */
  readonly adminToken: string;
  readonly mode: RoutingMode;

  private readonly endpoints: Endpoint[];
  private readonly events: EventLog;
  private serving: Endpoint[] = [];
  private pinned: Endpoint | undefined;
  private override: Endpoint | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly config: RouterConfig,
    private readonly server: http.Server,
    private readonly admin: http.Server,
    ports: { port: number; adminPort: number },
    adminToken: string,
    private readonly log: Logger,
    endpoints: Endpoint[],
  ) {
    this.url = urlFor(config.host, ports.port);
    this.adminUrl = urlFor(config.host, ports.adminPort);
    this.adminToken = adminToken;
    this.mode = config.mode;
    this.endpoints = endpoints;
    this.events = new EventLog(config.historySize);
  }

  /** Start a router: probe every endpoint once, then listen. Resolves when both ports accept requests. */
  static async create(options: RouterOptions, dependencies: RouterDependencies = {}): Promise<TrafficRouter> {
    const config = compileRouterOptions(options);
    const log = dependencies.log ?? pino({ level: 'silent' });
    const endpoints: Endpoint[] = config.endpoints.map((endpoint, index) => ({
      config: endpoint,
      index,
      health: new EndpointHealth({
        failures: endpoint.probe.failures,
        successes: endpoint.probe.successes,
        flapLimit: config.flap.limit,
        flapWindowMs: config.flap.windowMs,
        holdDownMs: config.flap.holdDownMs,
      }),
      drained: false,
      inFlight: 0,
      requests: 0,
      awaiting: new Set(),
      // The upstream pool: reused connections are what keep the added latency low. Idle connections are
      // dropped after 4 s (or a second before the site's own Keep-Alive timeout, when it sends one).
      pool: new Pool(endpoint.url.origin, {
        connections: null,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        headersTimeout: config.responseTimeoutMs,
        // streamed answers, once started, have no time limit
        bodyTimeout: 0,
      }),
      lastProbe: undefined,
      timer: undefined,
      current: 0,
    }));
    const adminToken = config.adminToken ?? randomBytes(18).toString('base64url');
    // The servers must exist (and listen) before the router object that owns them.
    const started: { router?: TrafficRouter } = {};
    const server = http.createServer({ keepAlive: true }, (req, res) => started.router?.handle(req, res));
    const admin = createAdminServer(
      () => {
        if (!started.router) throw new Error('router not started');
        return started.router;
      },
      (header) => checkToken(header, adminToken),
    );
    let port: number;
    let adminPort: number;
    try {
      port = await listen(
        server,
        config.host,
        config.port,
        'the router front door',
        'DRCTL_ROUTER_LISTEN_FAILED',
      );
      adminPort = await listen(
        admin,
        config.host,
        config.adminPort,
        'the router admin API',
        'DRCTL_ROUTER_LISTEN_FAILED',
      );
    } catch (error) {
      await Promise.all([closeServer(server), closeServer(admin)]);
      for (const endpoint of endpoints) void endpoint.pool.destroy();
      throw error;
    }
    const router = new TrafficRouter(config, server, admin, { port, adminPort }, adminToken, log, endpoints);
    started.router = router;
    await router.start();
    return router;
  }

  private async start(): Promise<void> {
    if (this.config.mode === 'manual') {
      this.pinned = this.config.active === undefined ? this.byPriority()[0] : this.find(this.config.active);
    }
    // The first round decides each endpoint's state, so traffic flows as soon as create() resolves.
    const first = await Promise.all(this.endpoints.map((endpoint) => probeOnce(endpoint.config.probe)));
    if (this.closed) return;
    first.forEach((result, index) => this.record(this.endpoints[index] as Endpoint, result));
    this.reselect('start');
    for (const endpoint of this.endpoints) this.schedule(endpoint, endpoint.config.probe.intervalMs);
    this.log.info(
      { url: this.url, adminUrl: this.adminUrl, mode: this.mode, serving: this.servingSites() },
      'router started',
    );
  }

  private schedule(endpoint: Endpoint, delayMs: number): void {
    if (this.closed) return;
    endpoint.timer = setTimeout(() => {
      void probeOnce(endpoint.config.probe).then((result) => {
        if (this.closed) return;
        const changed = this.record(endpoint, result);
        if (changed) {
          this.reselect('health');
          this.redispatch(endpoint);
        }
        // Start to start, so a slow probe does not stretch the interval (and detection time).
        this.schedule(endpoint, Math.max(0, endpoint.config.probe.intervalMs - result.ms));
      });
    }, delayMs);
  }

  private record(endpoint: Endpoint, result: ProbeResult): Transition | undefined {
    endpoint.lastProbe = result;
    const sentAt = result.at - result.ms;
    const transition = endpoint.health.observe(result.ok, result.at, result.error ?? '', sentAt);
    if (transition) this.announce(endpoint, transition);
    return transition;
  }

  /**
   * Passive health: live traffic met a refused or reset connection, so the site leaves rotation now
   * rather than after `failures` probes. Only steers traffic; whether to fail over is the monitor's call.
   */
  private suspect(endpoint: Endpoint, code: string): void {
    if (this.closed) return;
    const transition = endpoint.health.suspect(Date.now(), code);
    if (!transition) return;
    this.announce(endpoint, transition);
    this.reselect('health');
    this.redispatch(endpoint);
  }

  /**
   * A site left rotation (down, suspect, suppressed): the requests still waiting for its answer that may be
   * repeated (idempotent, no body) go to the site serving now, as HAProxy's redispatch does. Without this
   * a request forwarded to a site just before it froze waits the whole response timeout (30 s) for an
   * answer that never comes, while every later request already goes to the other site. A request whose
   * body may have been applied stays: it is never sent twice. Drain is not a failure: its requests finish.
   */
  private redispatch(endpoint: Endpoint): void {
    if (this.closed || endpoint.health.state === 'up' || endpoint.awaiting.size === 0) return;
    for (const exchange of [...endpoint.awaiting]) {
      if (!exchange.repeatable || exchange.tries >= this.endpoints.length) continue;
      const next = this.pick();
      if (next === undefined || next === endpoint) return;
      exchange.moveTo(next);
    }
  }

  private announce(endpoint: Endpoint, transition: Transition): void {
    if (transition.to === 'unknown') return;
    const event = this.events.emit({
      type: EVENT_FOR[transition.to],
      site: endpoint.config.site,
      from: transition.from,
      since: transition.since,
      reason: transition.reason,
    });
    const level = transition.to === 'up' ? 'info' : 'warn';
    this.log[level](
      {
        site: endpoint.config.site,
        from: transition.from,
        to: transition.to,
        reason: transition.reason,
        at: event.at,
      },
      `endpoint ${transition.to}`,
    );
  }

  /** Recompute who takes traffic; emit active-changed when it differs. */
  private reselect(cause: 'health' | 'drain' | 'switch' | 'start'): void {
    const previous = this.servingSites();
    this.serving = this.select();
    const next = this.servingSites();
    if (cause !== 'start' && previous.join(',') === next.join(',')) return;
    if (cause === 'start' && next.length === 0 && previous.length === 0) {
      this.events.emit({ type: 'active-changed', from: null, to: null, previous, serving: next, cause });
      return;
    }
    const event = this.events.emit({
      type: 'active-changed',
      from: previous[0] ?? null,
      to: next[0] ?? null,
      previous,
      serving: next,
      cause,
    });
    this.log.info({ from: previous, to: next, cause, at: event.at }, 'active endpoint changed');
  }

  private select(): Endpoint[] {
    const routable = this.byPriority().filter((endpoint) => isRoutable(endpoint));
    if (this.mode === 'manual') return this.pinned && routable.includes(this.pinned) ? [this.pinned] : [];
    if (this.override && routable.includes(this.override)) return [this.override];
    if (this.mode === 'priority') return routable.slice(0, 1);
    return routable;
  }

  private pick(): Endpoint | undefined {
    const serving = this.serving;
    if (serving.length <= 1) return serving[0];
    // Smooth weighted round-robin (as in nginx): exact proportions over any window, no randomness.
    let total = 0;
    let best: Endpoint | undefined;
    for (const endpoint of serving) {
      endpoint.current += endpoint.config.weight;
      total += endpoint.config.weight;
      if (!best || endpoint.current > best.current) best = endpoint;
    }
    if (best) best.current -= total;
    return best;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const endpoint = this.closed ? undefined : this.pick();
    if (!endpoint) {
      req.resume();
      this.unavailable(res);
      return;
    }
    const exchange = new Exchange(this, endpoint, req, res);
    res.on('close', () => exchange.clientClosed());
    exchange.send();
  }

  /** @internal An attempt of `exchange` failed before or while its answer came back: retry or answer. */
  upstreamFailed(exchange: Exchange, error: Error & { code?: string }): void {
    const { endpoint, res } = exchange;
    const code = error.code ?? '';
    if (exchange.clientGone || code === 'UND_ERR_ABORTED') return;
    const site = endpoint.config.site;
    const host = endpoint.config.url.host;
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      // A hung site (SIGSTOP, a stuck handler): the probes take it out of rotation, and this bounds what
      // the requests already sent to it wait. Not passive health: a slow site is what probes are for.
      this.log.warn({ site, timeoutMs: this.config.responseTimeoutMs }, 'upstream did not answer in time');
      sendJson(res, 504, {
        error: {
          code: 'DRCTL_ROUTER_UPSTREAM_TIMEOUT',
          message: `site ${site} (${host}) did not start answering within ${this.config.responseTimeoutMs} ms`,
          hint: 'the site may be hung; the router takes it out of rotation once its probes fail',
          site,
        },
      });
      return;
    }
    if (res.headersSent) {
      if (LAYER4.has(code)) this.suspect(endpoint, code);
      res.destroy(error);
      return;
    }
    if (LAYER4.has(code)) {
      const repeatable = exchange.repeatable;
      if (!NOT_SENT.has(code) && repeatable && !exchange.retriedOnSite) {
        // A reset or close may be the site closing an idle pooled connection just as the request went out
        // (the keep-alive race), not a failing site: a request that may be repeated goes once more to the
        // same site before the site is suspected.
        exchange.retriedOnSite = true;
        exchange.send();
        return;
      }
      this.suspect(endpoint, code);
      // Another site may take it when nothing was sent (a body waits for the connection, so none of it
      // was read), or when sending it again is harmless; a body is streamed, not kept, so never twice.
      if ((NOT_SENT.has(code) || repeatable) && exchange.tries < this.endpoints.length) {
        const next = this.closed ? undefined : this.pick();
        if (next && next !== endpoint) {
          exchange.retryOn(next);
          return;
        }
      }
    }
    this.log.warn({ site, error: code || error.message }, 'upstream request failed');
    sendJson(res, 502, {
      error: {
        code: 'DRCTL_ROUTER_UPSTREAM_FAILED',
        message: `site ${site} (${host}) failed the request: ${code || error.message}`,
        hint: 'a refused or reset connection takes the site out of rotation until its probes pass; retry, or check the site',
        site,
      },
    });
  }

  private unavailable(res: http.ServerResponse): void {
    const reasons = this.endpoints.map(
      (endpoint) => `${endpoint.config.site} is ${describe(endpoint, this)}`,
    );
    sendJson(
      res,
      503,
      {
        error: {
          code: 'DRCTL_ROUTER_NO_HEALTHY_ENDPOINT',
          message: this.closed
            ? 'the router is shutting down'
            : `no site can take traffic: ${reasons.join('; ')}`,
          hint: 'bring a site back (its probes must pass), undrain one, or switch to a healthy one through the admin API',
          mode: this.mode,
          endpoints: this.endpoints.map((endpoint) => ({
            site: endpoint.config.site,
            state: endpoint.health.state,
            drained: endpoint.drained,
          })),
        },
      },
      { 'retry-after': '1' },
    );
  }

  /** @internal for describe() */
  isPinned(endpoint: Endpoint): boolean {
    return this.mode === 'manual' && this.pinned === endpoint;
  }

  status(): RouterStatus {
    const serving = this.servingSites();
    return {
      mode: this.mode,
      url: this.url,
      adminUrl: this.adminUrl,
      active: serving[0] ?? null,
      serving,
      override:
        this.mode === 'manual' ? (this.pinned?.config.site ?? null) : (this.override?.config.site ?? null),
      endpoints: this.endpoints.map((endpoint) => ({
        site: endpoint.config.site,
        url: endpoint.config.url.toString(),
        priority: endpoint.config.priority,
        weight: endpoint.config.weight,
        state: endpoint.health.state,
        drained: endpoint.drained,
        routable: isRoutable(endpoint),
        serving: this.serving.includes(endpoint),
        inFlight: endpoint.inFlight,
        requests: endpoint.requests,
        consecutiveFailures: endpoint.health.consecutiveFailures,
        consecutiveSuccesses: endpoint.health.consecutiveSuccesses,
        changedAt: endpoint.health.changedAt ?? null,
        suppressedUntil: endpoint.health.suppressedUntil ?? null,
        lastProbe: endpoint.lastProbe ?? null,
      })),
      lastEventSeq: this.events.lastSeq,
      at: Date.now(),
    };
  }

  /**
   * Send all traffic to `site`. In manual mode this moves the pin; in priority and weighted mode it sets
   * an override that holds while the site is routable (if it goes down, routing falls back to the mode).
   * `null` clears the override. Switching to a drained site undrains it. Refuses a site that is not up
   * unless `force`.
   */
  switchTo(site: string | null, options: SwitchOptions = {}): ChangeResult {
    if (site === null) {
      if (this.mode === 'manual') {
        throw new DrctlError(
          'DRCTL_ROUTER_SWITCH_INVALID',
          'a router in manual mode needs a site to switch to',
          {
            hint: 'name the site traffic should go to',
          },
        );
      }
      if (this.override) {
        this.override = undefined;
        this.events.emit({ type: 'override-cleared', site: null });
        this.reselect('switch');
      }
      return this.changeResult(null);
    }
    const endpoint = this.find(site);
    if (endpoint.health.state !== 'up' && !options.force) {
      throw new DrctlError(
        'DRCTL_ROUTER_ENDPOINT_UNHEALTHY',
        `cannot switch to site ${site}: it is ${endpoint.health.state}`,
        {
          hint: 'wait until its probes pass (see router status), or force the switch',
          details: { site, state: endpoint.health.state },
        },
      );
    }
    if (endpoint.drained) {
      endpoint.drained = false;
      this.events.emit({ type: 'endpoint-undrained', site });
    }
    if (this.mode === 'manual') this.pinned = endpoint;
    else this.override = endpoint;
    this.events.emit({ type: 'override-set', site });
    this.reselect('switch');
    return this.changeResult(site);
  }

  /** Stop sending new requests to `site`; requests in flight finish (watch `inFlight` in status()). */
  drain(site: string): ChangeResult {
    const endpoint = this.find(site);
    if (!endpoint.drained) {
      endpoint.drained = true;
      this.events.emit({ type: 'endpoint-drained', site });
      this.reselect('drain');
    }
    return this.changeResult(site);
  }

  undrain(site: string): ChangeResult {
    const endpoint = this.find(site);
    if (endpoint.drained) {
      endpoint.drained = false;
      this.events.emit({ type: 'endpoint-undrained', site });
      this.reselect('drain');
    }
    return this.changeResult(site);
  }

  /** Events so far (bounded by `historySize`), after a sequence number. */
  history(afterSeq = 0): RouterEvent[] {
    return this.events.history(afterSeq);
  }

  /** Listen to events as they happen; returns the function that stops listening. */
  onEvent(listener: (event: RouterEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** The first matching event, already recorded or to come; rejects with DRCTL_ROUTER_WAIT_TIMEOUT. */
  waitForEvent(
    match: (event: RouterEvent) => boolean,
    options: { afterSeq?: number; timeoutMs?: number } = {},
  ): Promise<RouterEvent> {
    return this.events.wait(match, options);
  }

  /** Stop probing, stop accepting, let in-flight requests finish for `closeGraceMs`, then cut the rest. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    for (const endpoint of this.endpoints) clearTimeout(endpoint.timer);
    const closedFront = closeServer(this.server);
    const closedAdmin = closeServer(this.admin);
    this.server.closeIdleConnections();
    this.admin.closeAllConnections();
    const deadline = performance.now() + this.config.closeGraceMs;
    while (this.endpoints.some((endpoint) => endpoint.inFlight > 0) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      this.server.closeIdleConnections();
    }
    this.server.closeAllConnections();
    await Promise.all([closedFront, closedAdmin]);
    await Promise.all(this.endpoints.map((endpoint) => endpoint.pool.destroy()));
    this.log.info({ url: this.url }, 'router closed');
  }

  private find(site: string): Endpoint {
    const endpoint = this.endpoints.find((candidate) => candidate.config.site === site);
    if (!endpoint) {
      throw new DrctlError('DRCTL_ROUTER_UNKNOWN_SITE', `the router has no endpoint for site ${site}`, {
        hint: `use one of: ${this.endpoints.map((candidate) => candidate.config.site).join(', ')}`,
        details: { site },
      });
    }
    return endpoint;
  }

  private byPriority(): Endpoint[] {
    return [...this.endpoints].sort((a, b) => a.config.priority - b.config.priority || a.index - b.index);
  }

  private servingSites(): string[] {
    return this.serving.map((endpoint) => endpoint.config.site);
  }

  private changeResult(site: string | null): ChangeResult {
    const serving = this.servingSites();
    return { site, active: serving[0] ?? null, serving, at: Date.now(), monotonic: performance.now() };
  }
}

function isRoutable(endpoint: Endpoint): boolean {
  return endpoint.health.state === 'up' && !endpoint.drained;
}

function describe(endpoint: Endpoint, router: TrafficRouter): string {
  if (endpoint.drained) return 'drained';
  const state = endpoint.health.state;
  if (state === 'down') return `down (${endpoint.lastProbe?.error ?? 'probes fail'})`;
  if (state === 'suppressed') return 'suppressed after flapping';
  if (state === 'suspect') return 'suspect (a live request was refused or reset; waiting for its probes)';
  if (state === 'up' && router.mode === 'manual' && !router.isPinned(endpoint))
    return 'up but not the site manual mode is pinned to';
  return state;
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extra: http.OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function checkToken(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
