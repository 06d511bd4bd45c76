import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { DrctlError } from '../errors.ts';

const STATUS_BY_CODE: Record<string, 400 | 401 | 404> = {
  DRCTL_CHAOS_UNAUTHORIZED: 401,
  DRCTL_CHAOS_REQUEST_INVALID: 400,
  DRCTL_CHAOS_FAULT_INVALID: 400,
  DRCTL_CHAOS_FLAG_INVALID: 400,
};

/**
 * A small JSON API on hono for the chaos tools: errors as `{ error: { code, message, hint } }`, and the
 * bearer token (when one is set) required on every call that changes something.
 */
export function jsonApi(
  token: string | undefined,
  unauthorizedCode: string,
  what: string,
  routes: (app: Hono, body: (c: Context) => Promise<unknown>) => void,
): http.RequestListener {
  const app = new Hono();
  app.onError((error, c) => {
    if (error instanceof DrctlError)
      return c.json(
        { error: { code: error.code, message: error.message, hint: error.hint } },
        STATUS_BY_CODE[error.code] ?? 400,
      );
    return c.json({ error: { code: 'DRCTL_INTERNAL', message: error.message } }, 500);
  });
  app.use('*', async (c, next) => {
    if (
      token !== undefined &&
      c.req.method !== 'GET' &&
      c.req.method !== 'HEAD' &&
      !bearerMatches(c.req.header('authorization'), token)
    ) {
      throw new DrctlError(
        unauthorizedCode,
        `${c.req.method} ${c.req.path} on ${what} needs its bearer token`,
        {
          hint: 'send Authorization: Bearer <token> with the token it was started with',
        },
      );
    }
    await next();
  });
  routes(app, async (c) => {
    try {
      return await c.req.json();
    } catch (error) {
      throw new DrctlError(
        'DRCTL_CHAOS_REQUEST_INVALID',
        `${c.req.method} ${c.req.path} on ${what}: the body is not JSON`,
        { hint: 'send a JSON body', cause: error },
      );
    }
  });
  app.notFound((c) =>
    c.json(
      {
        error: {
          code: 'DRCTL_CHAOS_NOT_FOUND',
          message: `${what} has no ${c.req.method} ${c.req.path}`,
          hint: 'see docs/chaos.md',
        },
      },
      404,
    ),
  );
  return getRequestListener(app.fetch, { overrideGlobalObjects: false }) as unknown as http.RequestListener;
}

export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
