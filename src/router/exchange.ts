/**
 * One client request forwarded to a site: the exchange (the request, over one or more attempts) and
 * each attempt (one undici dispatch to one site's pool), with the headers that cross the router.
 */
import type http from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import type { EndpointHealth } from './health.ts';
import type { EndpointConfig } from './options.ts';
import type { ProbeResult } from './probe.ts';

/** A site as the router holds it: its health, its pool and what is in flight there. */
export interface Endpoint {
  config: EndpointConfig;
  index: number;
  health: EndpointHealth;
  drained: boolean;
  inFlight: number;
  requests: number;
  pool: Pool;
  /** Requests forwarded here that have no answer yet: moved elsewhere if the site leaves rotation. */
  awaiting: Set<Exchange>;
  lastProbe: ProbeResult | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Smooth weighted round-robin state. */
  current: number;
}

/** What an exchange reports to: the router decides where a failed attempt goes next. */
export interface ExchangeOwner {
  upstreamFailed(exchange: Exchange, error: Error & { code?: string }): void;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

// RFC 9110 §9.2.2: sending these twice has the effect of sending them once.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * One client request on its way to a site, over one or more attempts (a retry, a redispatch). Each
 * attempt is the undici dispatch handler of its own dispatch: undici's low-level handler gets the
 * answer's raw header buffers and body chunks with no stream or event emitter in between, which is most
 * of what forwarding costs on node:http's client. An attempt that was abandoned (moved to another site)
 * is cut off from the client: whatever it still reports is ignored.
 */
export class Exchange {
  readonly headers: string[];
  readonly hasBody: boolean;
  /** Idempotent without a body: sending it again has no other effect. */
  readonly repeatable: boolean;
  /** Sites tried, this one included. */
  tries = 1;
  /** Already sent once more to the same site after a reset (the keep-alive race). */
  retriedOnSite = false;
  clientGone = false;
  private current: Attempt | undefined;

  constructor(
    readonly router: ExchangeOwner,
    public endpoint: Endpoint,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
  ) {
    const forwarded = forwardedHeaders(req, endpoint.config.url.host);
    this.headers = forwarded.headers;
    this.hasBody = forwarded.hasBody;
    this.repeatable = !this.hasBody && IDEMPOTENT.has(req.method ?? '');
    if (!this.hasBody) req.resume();
  }

  send(): void {
    const attempt = new Attempt(this, this.endpoint);
    this.current = attempt;
    this.endpoint.pool.dispatch(
      {
        path: this.req.url ?? '/',
        method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: this.headers,
        // Undici reads the body only once the connection is open, so a refused request has consumed none.
        body: this.hasBody ? this.req : null,
      },
      attempt,
    );
  }

  retryOn(endpoint: Endpoint): void {
    this.endpoint = endpoint;
    this.tries += 1;
    this.retriedOnSite = false;
    this.send();
  }

  /** Abandon the attempt still waiting for its answer and send the request to `endpoint` instead. */
  moveTo(endpoint: Endpoint): void {
    const abandoned = this.current;
    this.retryOn(endpoint);
    abandoned?.abandon();
  }

  isCurrent(attempt: Attempt): boolean {
    return this.current === attempt;
  }

  clientClosed(): void {
    // The client went away before the answer was complete: stop the upstream work too.
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.current?.abort();
  }
}

/** One dispatch of an exchange to one site. */
class Attempt implements Dispatcher.DispatchHandler {
  private abortAttempt: ((reason?: Error) => void) | undefined;
  /** Undici's resume of the current answer, for when the client drains. */
  private resume: () => void = () => undefined;
  private counted = true;

  constructor(
    private readonly exchange: Exchange,
    private readonly endpoint: Endpoint,
  ) {
    endpoint.inFlight += 1;
    endpoint.requests += 1;
    endpoint.awaiting.add(exchange);
  }

  abort(): void {
    this.abortAttempt?.();
  }

  /** The exchange went elsewhere: stop this attempt, and let nothing of it reach the client. */
  abandon(): void {
    this.release();
    this.abortAttempt?.(new Error('moved to another site'));
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortAttempt = abort;
    if (this.exchange.clientGone || !this.exchange.isCurrent(this)) abort();
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (!this.exchange.isCurrent(this)) return false;
    this.endpoint.awaiting.delete(this.exchange);
    // A raw header array both ways: Node then neither builds nor re-validates a header object.
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as Buffer).toString('latin1');
      if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, (raw[i + 1] as Buffer).toString('latin1'));
    }
    out.push('x-drctl-site', this.endpoint.config.site);
    this.exchange.res.writeHead(statusCode, statusText, out);
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.exchange.isCurrent(this)) return false;
    const res = this.exchange.res;
    if (res.write(chunk)) return true;
    res.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    const current = this.exchange.isCurrent(this);
    this.release();
    if (current) this.exchange.res.end();
  }

  onError(error: Error): void {
    const current = this.exchange.isCurrent(this);
    this.release();
    if (current) this.exchange.router.upstreamFailed(this.exchange, error);
  }

  private release(): void {
    if (!this.counted) return;
    this.counted = false;
    this.endpoint.inFlight -= 1;
    this.endpoint.awaiting.delete(this.exchange);
  }
}

/** The client's headers for the upstream, hop-by-hop ones removed and x-forwarded-* added, as a raw array. */
function forwardedHeaders(
  req: http.IncomingMessage,
  fallbackHost: string,
): { headers: string[]; hasBody: boolean } {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  let connection: string | undefined;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
    else if (lower === 'x-forwarded-for')
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
    if (lower === 'transfer-encoding' || (lower === 'content-length' && value !== '0')) hasBody = true;
    if (HOP_BY_HOP.has(lower) || lower === 'x-forwarded-for') continue;
    if (lower === 'host') host = value;
    headers.push(name, value);
  }
  if (connection !== undefined) {
    // Headers the client named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    const named = new Set(
      connection
        .toLowerCase()
        .split(',')
        .map((token) => token.trim()),
    );
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (named.has((headers[i] as string).toLowerCase())) headers.splice(i, 2);
    }
  }
  if (host === undefined) headers.push('host', fallbackHost);
  const client = req.socket.remoteAddress;
  if (client)
    headers.push('x-forwarded-for', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  else if (forwardedFor !== undefined) headers.push('x-forwarded-for', forwardedFor);
  headers.push('x-forwarded-host', host ?? fallbackHost, 'x-forwarded-proto', 'http');
  return { headers, hasBody };
}
