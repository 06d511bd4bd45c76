/**
 * The public status page (/status, /status.json, /status/feed.atom: no sign-in, also on their own
 * listener with --status-listen), the incident API (operators open, update and resolve incidents and
 * schedule maintenance) and the messages drctl sent. Communications run as the `communications` service.
 */
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { Communications, MESSAGES_STREAM } from '../../notify/index.ts';
import {
  INCIDENT_STATES,
  buildPlansStatus,
  renderStatusAtom,
  renderStatusHtml,
  type StatusSnapshot,
} from '../../status/index.ts';
import { UsageError } from '../../errors.ts';
import { DOCUMENT_HEADERS, type Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { redactAnswer } from '../redact.ts';
import type { ServerService } from '../context.ts';

const communications = new WeakMap<ServerContext, Communications>();

/** The server's one Communications, made on first use (routes register before services start). */
export function communicationsOf(ctx: ServerContext): Communications {
  let found = communications.get(ctx);
  if (found === undefined) {
    found = new Communications({
      store: ctx.store,
      plans: () => ctx.plans.list(),
      logger: ctx.logger.child({ part: 'notify' }),
      metrics: ctx.metrics,
      tickMs: ctx.options.pollMs,
    });
    communications.set(ctx, found);
  }
  return found;
}

/** Many readers at once during an outage: the page is built at most once per this many ms. */
const SNAPSHOT_TTL_MS = 500;

/**
 * The three public status routes, on the main app and on the --status-listen one. `origin` is where the
 * feed's links point: the status listener's own address, else the plan's console_url.
 */
export function statusApp(ctx: ServerContext, origin?: () => string): Hono {
  let cached: { at: number; snapshot: Promise<StatusSnapshot> } | undefined;
  const snapshot = (): Promise<StatusSnapshot> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > SNAPSHOT_TTL_MS) {
      const book = communicationsOf(ctx).incidents;
      const building = book
        .list({ limit: 200 })
        // an operator's update may quote a secret by mistake; the public never reads it
        .then((incidents) => redactAnswer(ctx, buildPlansStatus(ctx.plans.list(), incidents)));
      cached = { at: now, snapshot: building };
      building.catch(() => (cached = undefined));
    }
    return cached.snapshot;
  };
  const app = new Hono();
  const headers = { ...DOCUMENT_HEADERS, 'cache-control': 'no-cache' };
  app.get('/status', async (c) => c.html(renderStatusHtml(await snapshot()), 200, headers));
  app.get('/status.json', async (c) => c.json(await snapshot(), 200, headers));
  app.get('/status/feed.atom', async (c) => {
    // the links come from the plan's console_url, never from the request's Host header, which anyone
    // may set: a cache or a feed reader would hand the forged links on to everyone
    const base = (
      origin?.() ??
      ctx.plans.list()[0]?.communications.consoleUrl ??
      `http://${ctx.options.listen}`
    ).replace(/\/$/, '');
    return c.body(renderStatusAtom(await snapshot(), base), 200, {
      ...headers,
      'content-type': 'application/atom+xml; charset=utf-8',
    });
  });
  return app;
}

const Components = z.array(z.string().min(1)).min(1);

export function registerStatus(api: Api, ctx: ServerContext): void {
  const comms = communicationsOf(ctx);
  ctx.hooks.push(comms.hooks);
  api.app.route('/', statusApp(ctx));
  const book = comms.incidents;
  const known = (components: string[]): string[] => {
    const ids = new Set(
      ctx.plans.list().flatMap((p) => p.workloads.flatMap((w) => w.components.map((c) => c.id))),
    );
    const unknown = components.filter((id) => !ids.has(id));
    if (unknown.length > 0)
      throw new ApiError(400, 'DRCTL_API_UNKNOWN_COMPONENT', `no plan has component ${unknown.join(', ')}`, {
        field: 'body.components',
        hint: `components: ${[...ids].slice(0, 12).join(', ')}`,
      });
    return components;
  };

  api.route({
    method: 'GET',
    path: '/incidents',
    role: 'viewer',
    summary: 'Incidents and maintenance, newest first, with their updates',
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    handler: async ({ query }) => ({ incidents: await book.list({ limit: query.limit }) }),
  });
  api.route({
    method: 'GET',
    path: '/incidents/:id',
    role: 'viewer',
    summary: 'One incident',
    params: z.object({ id: z.string() }),
    handler: async ({ params }) => {
      const incident = await book.get(params.id);
      if (incident === undefined)
        throw ApiError.notFound('DRCTL_INCIDENT_NOT_FOUND', `there is no incident ${params.id}`);
      return incident;
    },
  });
  api.route({
    method: 'POST',
    path: '/incidents',
    role: 'operator',
    status: 201,
    summary: 'Open an incident by hand; the flows it affects come from the dependency graph',
    body: z.object({
      title: z.string().min(1),
      components: Components,
      body: z.string().min(1),
      state: z.enum(['investigating', 'identified', 'monitoring']).optional(),
      componentState: z.enum(['down', 'degraded']).optional(),
    }),
    handler: async ({ body, principal }) =>
      (
        await book.open({
          title: body.title,
          components: known(body.components),
          body: body.body,
          by: principal?.name ?? 'operator',
          ...(body.state === undefined ? {} : { state: body.state }),
          ...(body.componentState === undefined ? {} : { componentState: body.componentState }),
        })
      ).incident,
  });
  api.route({
    method: 'POST',
    path: '/incidents/:id/updates',
    role: 'operator',
    summary: 'Post an update to an incident, optionally moving its state',
    params: z.object({ id: z.string() }),
    body: z.object({ body: z.string().min(1), state: z.enum(INCIDENT_STATES).optional() }),
    handler: async ({ params, body, principal }) =>
      book.update(params.id, {
        body: body.body,
        by: principal?.name ?? 'operator',
        ...(body.state === undefined ? {} : { state: body.state }),
      }),
  });
  api.route({
    method: 'POST',
    path: '/incidents/:id/resolve',
    role: 'operator',
    summary: 'Resolve an incident; it stays in the history',
    params: z.object({ id: z.string() }),
    body: z.object({ body: z.string().min(1) }),
    handler: async ({ params, body, principal }) =>
      book.resolve(params.id, { body: body.body, by: principal?.name ?? 'operator' }),
  });
  api.route({
    method: 'POST',
    path: '/maintenance',
    role: 'operator',
    status: 201,
    summary: 'Schedule maintenance: the components are under maintenance during the window',
    tag: 'incidents',
    body: z.object({
      title: z.string().min(1),
      components: Components,
      body: z.string().min(1),
      startsAt: z.iso.datetime(),
      endsAt: z.iso.datetime(),
    }),
    handler: async ({ body, principal }) =>
      book.scheduleMaintenance({
        title: body.title,
        components: known(body.components),
        body: body.body,
        by: principal?.name ?? 'operator',
        startsAt: new Date(body.startsAt),
        endsAt: new Date(body.endsAt),
      }),
  });
  api.route({
    method: 'GET',
    path: '/messages',
    role: 'viewer',
    summary: 'Messages drctl queued, sent or gave up on, newest first, and the delivery journal',
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    handler: async ({ query }) => ({
      messages: await comms.outbox.list({ limit: query.limit }),
      deliveries: (
        await ctx.store.readEvents(MESSAGES_STREAM, { limit: query.limit, newestFirst: true })
      ).map((e) => ({ seq: e.seq, at: e.at.toISOString(), type: e.type, ...e.data })),
    }),
  });
}

/** Sends what is due and keeps the incidents in step with the runs; serves --status-listen. */
export function communicationsService(): ServerService {
  let comms: Communications | undefined;
  let listener: ServerType | undefined;
  return {
    name: 'communications',
    async start(ctx) {
      comms = communicationsOf(ctx);
      comms.start();
      const paging = comms;
      ctx.readiness.onChecked((plan, report) => paging.pageReadiness(plan, report));
      const listen = ctx.options.statusListen;
      if (listen === undefined) return;
      const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
      const host = match?.[1] ?? match?.[2];
      if (host === undefined)
        throw new UsageError('DRCTL_SERVE_LISTEN', `--status-listen ${listen} is not host:port`, {
          hint: 'for example --status-listen 127.0.0.1:7071',
        });
      const app = statusApp(ctx, () => `http://${ctx.statusAddress ?? listen}`);
      listener = await new Promise<ServerType>((resolve, reject) => {
        const created = serve({ fetch: app.fetch, hostname: host, port: Number(match![3]) }, () =>
          resolve(created),
        );
        created.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            new UsageError(
              'DRCTL_SERVE_LISTEN',
              `cannot listen on --status-listen ${listen}: ${error.code ?? error.message}`,
              { hint: 'pick a free port, other than --listen', cause: error },
            ),
          ),
        );
      });
      const address = listener.address();
      const shown = host.includes(':') ? `[${host}]` : host;
      if (address !== null && typeof address === 'object') ctx.statusAddress = `${shown}:${address.port}`;
    },
    async stop() {
      await comms?.stop();
      if (listener !== undefined) {
        const closing = new Promise<void>((resolve) => listener!.close(() => resolve()));
        if ('closeAllConnections' in listener) listener.closeAllConnections();
        await closing;
      }
    },
  };
}
