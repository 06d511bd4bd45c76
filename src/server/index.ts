/**
 * `drctl serve`: the HTTP API under /api/v1, the web console, /metrics, /healthz and /openapi.json, in
 * one process that also drives the runs started through it.
 *
 *   const server = await createServer({ plans: ['plan.yaml'], state: '.drctl' });
 *   const { url } = await server.listen();   // starts the services, resumes the runs it was driving
 *   await server.close();                    // stops driving (journaled), stops services, closes the store
 *
 * How to plug in:
 * - A route: in `routes/<area>.ts` export `registerXxx(api, ctx)` and list it in `routes/index.ts`.
 *   Declare each route with `api.route({ method, path, role, summary, params?, query?, body?, response?,
 *   handler })`: the zod schemas validate the request (400 names the field), the role is checked first
 *   (401/403, audited as refused), mutating calls are audited, and the route appears in /openapi.json.
 *   Throw `ApiError(status, code, message, { hint })` or any DrctlError; errors.ts maps them to HTTP.
 *   Return a value (sent as JSON, secrets and URL passwords masked) or a Response (HTML, streams).
 *   Console pages: `api.page({ path, role, ... })` — same auth, CSRF and audit, not in the OpenAPI
 *   document; a GET without a session redirects to /sign-in. Static assets: `api.app.get(...)`.
 * - A background service: an object satisfying `ServerService` (services.ts), listed in `services()`.
 * - Live events: `ctx.bus.publish({ type, runId?, at, data })`; SSE clients of /api/v1/events get it.
 * - Engine hooks (notifications, metrics): push an `EngineHooks` object onto `ctx.hooks` when registering.
 */
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { UsageError } from '../errors.ts';
import { Api, wantsPage } from './api.ts';
import { errorPage } from './console/index.ts';
import { createContext, DEFAULT_LISTEN } from './context.ts';
import type { ServerContext, ServerOptions } from './context.ts';
import { ApiError, httpError } from './errors.ts';
import { registerMetrics } from './metrics.ts';
import { routeAreas } from './routes/index.ts';
import type { RegisterRoutes } from './routes/index.ts';
import { services } from './services.ts';
import type { ServerService } from './services.ts';

export type { ServerOptions, ServerContext, LiveEvent, ResolvedServerOptions } from './context.ts';
export { EventBus, PlanSet, DEFAULT_LISTEN } from './context.ts';
export { Api, API_BASE, AUDIT_STREAM } from './api.ts';
export type { RouteDefinition, RouteRequest, PageDefinition, RouteInfo, UploadedFile } from './api.ts';
export { ApiError, httpError } from './errors.ts';
export type { ServerService } from './services.ts';
export type { RegisterRoutes } from './routes/index.ts';
export { ROLES, allows, createToken, listTokens, revokeToken } from './auth.ts';
export type { Role, RouteRole, Principal, TokenInfo } from './auth.ts';
export { redactAnswer, redactText } from './redact.ts';
export type { ReadinessView, WorkloadReadiness, Light } from './readiness.ts';

export interface DrctlServer {
  app: Hono;
  api: Api;
  ctx: ServerContext;
  /** Starts the services and resumes the runs a previous process drove; `listen` does it too. */
  start(): Promise<{ resumed: string[] }>;
  /** Listens on `options.listen` (port 0: any free port). */
  listen(): Promise<{ url: string; host: string; port: number; resumed: string[] }>;
  /** Stops driving runs (steps in flight journaled, leases released), stops services, closes the store. */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface ListenAddress {
  host: string;
  port: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Parses `host:port` (`[::1]:7070` for IPv6) and refuses plain HTTP beyond loopback unless asked. */
export function checkListen(
  options: Pick<ServerOptions, 'listen' | 'tlsCert' | 'tlsKey' | 'insecureListen'>,
): ListenAddress {
  const listen = options.listen ?? DEFAULT_LISTEN;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65_535) {
    throw new UsageError('DRCTL_SERVE_LISTEN', `--listen ${listen} is not host:port`, {
      hint: 'for example --listen 127.0.0.1:7070',
    });
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new UsageError('DRCTL_SERVE_TLS', 'HTTPS needs both --tls-cert and --tls-key', {
      hint: 'pass the PEM certificate and its private key',
    });
  }
  if (!LOOPBACK.has(host) && options.tlsCert === undefined && options.insecureListen !== true) {
    throw new UsageError(
      'DRCTL_SERVE_INSECURE_LISTEN',
      `--listen ${listen} is reachable from other machines, and plain HTTP would send tokens and session cookies in the clear`,
      {
        hint: 'pass --tls-cert and --tls-key to serve HTTPS, or --insecure-listen if a TLS proxy is in front',
      },
    );
  }
  return { host, port };
}

export interface CreateServerExtras {
  /** More route areas after the built-in ones (extensions, tests). */
  routes?: readonly RegisterRoutes[];
}

export async function createServer(
  options: ServerOptions,
  extras: CreateServerExtras = {},
): Promise<DrctlServer> {
  const address = checkListen(options);
  const tls =
    options.tlsCert === undefined || options.tlsKey === undefined
      ? undefined
      : { cert: readPem(options.tlsCert, '--tls-cert'), key: readPem(options.tlsKey, '--tls-key') };
  const ctx = await createContext(options);
  const app = new Hono();
  app.use('*', registerMetrics(ctx, ctx.readiness));
  app.use(
    '*',
    bodyLimit({
      maxSize: ctx.options.bodyLimitBytes,
      onError: (c) => {
        const answer = httpError(
          new ApiError(
            413,
            'DRCTL_API_BODY_TOO_LARGE',
            `the body is over ${ctx.options.bodyLimitBytes} bytes`,
            {
              field: 'body',
              hint: 'send large evidence as a file of at most 1 MB, or keep it elsewhere and link it',
            },
          ),
        );
        return wantsPage(c) ? errorPage(c, answer) : c.json(answer.body, 413);
      },
    }),
  );
  const api = new Api(app, ctx);
  api.errorPage = errorPage;
  for (const register of [...routeAreas, ...(extras.routes ?? [])]) register(api, ctx);
  app.notFound((c) => {
    const error = new ApiError(404, 'DRCTL_API_NOT_FOUND', `nothing at ${c.req.method} ${c.req.path}`, {
      hint: wantsPage(c) ? 'start again from the readiness page' : 'see /openapi.json',
    });
    return wantsPage(c) ? errorPage(c, httpError(error)) : c.json(httpError(error).body, 404);
  });
  app.onError((error, c) => {
    const answer = httpError(error);
    if (answer.unexpected) ctx.logger.error({ err: error, path: c.req.path }, 'request failed');
    return wantsPage(c) ? errorPage(c, answer) : c.json(answer.body, answer.status as 400);
  });

  const wanted = options.services;
  const all = services().filter((service) => wanted === undefined || wanted.includes(service.name));
  const started: ServerService[] = [];
  let startup: Promise<{ resumed: string[] }> | undefined;
  let http: ServerType | undefined;

  const start = (): Promise<{ resumed: string[] }> =>
    (startup ??= (async () => {
      for (const service of all) {
        await service.start(ctx);
        started.push(service);
      }
      await ctx.drills.markOrphans();
      const resumed = await ctx.runs.resumeOwned();
      if (resumed.length > 0) ctx.logger.info({ runs: resumed }, 'resumed the runs this server was driving');
      return { resumed };
    })());

  return {
    app,
    api,
    ctx,
    start,
    async listen() {
      const { resumed } = await start();
      const server = await new Promise<ServerType>((resolve, reject) => {
        const created = serve(
          {
            fetch: app.fetch,
            hostname: address.host,
            port: address.port,
            ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
          },
          () => resolve(created),
        );
        created.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            new UsageError(
              'DRCTL_SERVE_LISTEN',
              `cannot listen on ${ctx.options.listen}: ${error.code ?? error.message}`,
              {
                hint:
                  error.code === 'EADDRINUSE'
                    ? 'another process uses that port: pick another with --listen'
                    : 'check the address',
                cause: error,
              },
            ),
          ),
        );
      });
      http = server;
      const port = (server.address() as AddressInfo).port;
      const shown = address.host.includes(':') ? `[${address.host}]` : address.host;
      return {
        url: `${tls === undefined ? 'http' : 'https'}://${shown}:${port}`,
        host: address.host,
        port,
        resumed,
      };
    },
    async close(closeOptions = {}) {
      const closing =
        http === undefined ? Promise.resolve() : new Promise<void>((resolve) => http?.close(() => resolve()));
      await Promise.all([ctx.drills.stop(), ctx.runs.stop(closeOptions.graceMs)]);
      for (const service of started.reverse()) {
        await service
          .stop()
          .catch((error: unknown) =>
            ctx.logger.warn({ err: error, service: service.name }, 'a service did not stop cleanly'),
          );
      }
      // SSE streams never end by themselves
      if (http !== undefined && 'closeAllConnections' in http) http.closeAllConnections();
      await closing;
      await ctx.store.close();
    },
  };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError('DRCTL_SERVE_TLS', `cannot read ${flag} ${file}`, {
      hint: 'check the path and its permissions',
      cause: error,
    });
  }
}
