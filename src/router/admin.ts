/**
 * The router's admin API, what runbooks (through the router provider) and operators call. GET is open
 * (status is not a secret on 127.0.0.1); every call that changes routing needs the bearer token.
 */
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { z } from 'zod';
import { DrctlError } from '../errors.ts';

const SwitchBody = z.strictObject({ site: z.string().nullable(), force: z.boolean().optional() });
const SiteBody = z.strictObject({ site: z.string() });

const STATUS_BY_CODE: Record<string, 400 | 401 | 404 | 409> = {
  DRCTL_ROUTER_UNAUTHORIZED: 401,
  DRCTL_ROUTER_UNKNOWN_SITE: 404,
  DRCTL_ROUTER_ENDPOINT_UNHEALTHY: 409,
  DRCTL_ROUTER_SWITCH_INVALID: 400,
  DRCTL_ROUTER_REQUEST_INVALID: 400,
};

/** What the admin API calls on the router (the router's own methods; declared here so admin.ts does not import router.ts). */
export interface AdminTarget {
  status(): unknown;
  history(after: number): unknown;
  switchTo(site: string | null, options: { force?: boolean }): unknown;
  drain(site: string): unknown;
  undrain(site: string): unknown;
}

export function createAdminServer(
  router: () => AdminTarget,
  authorize: (header: string | undefined) => boolean,
): http.Server {
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof DrctlError) {
      return c.json(
        { error: { code: error.code, message: error.message, hint: error.hint, details: error.details } },
        STATUS_BY_CODE[error.code] ?? 400,
      );
    }
    return c.json({ error: { code: 'DRCTL_INTERNAL', message: error.message } }, 500);
  });

  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !authorize(c.req.header('authorization'))) {
      throw new DrctlError(
        'DRCTL_ROUTER_UNAUTHORIZED',
        `${c.req.method} ${c.req.path} on the router admin API needs its bearer token`,
        {
          hint: 'send Authorization: Bearer <token>; the token is the one the router was started with (drctl router prints it)',
        },
      );
    }
    await next();
  });

  app.get('/status', (c) => c.json(router().status()));
  app.get('/events', (c) => c.json({ events: router().history(Number(c.req.query('after') ?? 0) || 0) }));
  app.post('/switch', async (c) => {
    const body = await parseBody(c, SwitchBody);
    return c.json(router().switchTo(body.site, body.force === undefined ? {} : { force: body.force }));
  });
  // answers only once the middleware accepted the token: preflight proves the token without changing anything
  app.post('/token', (c) => c.json({ ok: true }));
  app.post('/drain', async (c) => c.json(router().drain((await parseBody(c, SiteBody)).site)));
  app.post('/undrain', async (c) => c.json(router().undrain((await parseBody(c, SiteBody)).site)));
  app.notFound((c) =>
    c.json(
      {
        error: {
          code: 'DRCTL_ROUTER_NOT_FOUND',
          message: `the router admin API has no ${c.req.method} ${c.req.path}`,
          hint: 'see docs/router.md for the admin API',
        },
      },
      404,
    ),
  );

  return http.createServer(getRequestListener(app.fetch, { overrideGlobalObjects: false }));
}

async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch (error) {
    throw new DrctlError(
      'DRCTL_ROUTER_REQUEST_INVALID',
      `${c.req.method} ${c.req.path}: the body is not JSON`,
      { hint: 'send a JSON body', cause: error },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new DrctlError(
      'DRCTL_ROUTER_REQUEST_INVALID',
      `${c.req.method} ${c.req.path}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ')}`,
      {
        hint: 'see docs/router.md for the admin API',
      },
    );
  }
  return parsed.data;
}
