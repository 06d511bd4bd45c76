/**
 * Console sign-in: a token exchanged for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS)
 * and a CSRF token that every mutating request made with the cookie must carry.
 */
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Api } from '../api.ts';
import { createSession, endSession, SESSION_COOKIE, verifyToken } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';

const Session = z.object({
  name: z.string(),
  role: z.string(),
  csrf: z
    .string()
    .optional()
    .describe('send it as x-csrf-token (or the _csrf form field) on mutating requests'),
  expiresAt: z.string().optional(),
});

/** A local path to go to after signing in; anything else (another origin) becomes `/`. */
function localPath(next: string | undefined): string {
  return next !== undefined && /^\/(?![/\\])/.test(next) ? next : '/';
}

export function registerSession(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'POST',
    path: '/session',
    role: 'public',
    summary: 'Sign in with a token',
    description:
      'Sets the session cookie. A form post (with `next`) is answered with a redirect there; JSON with the session.',
    body: z.object({ token: z.string().min(1).max(200), next: z.string().max(2000).optional() }),
    response: Session,
    handler: async (request) => {
      const token = await verifyToken(ctx.store, request.body.token);
      const isForm = !(request.c.req.header('content-type') ?? '').includes('application/json');
      if (token === undefined && isForm) {
        const next = encodeURIComponent(localPath(request.body.next));
        return request.c.redirect(`/sign-in?error=invalid&next=${next}`, 303);
      }
      if (token === undefined) {
        throw new ApiError(401, 'DRCTL_API_TOKEN_INVALID', 'the token is not valid', {
          field: 'body.token',
          hint: 'ask an admin for a token (`drctl token create`); revoked tokens stop working',
        });
      }
      const session = await createSession(ctx.store, token, ctx.options.sessionTtlMs);
      request.principal = { name: token.name, role: token.role, tokenId: token.id, via: 'session' };
      setCookie(request.c, SESSION_COOKIE, session.cookie, {
        httpOnly: true,
        sameSite: 'Strict',
        secure: ctx.options.tlsCert !== undefined,
        path: '/',
        expires: session.expiresAt,
      });
      if (isForm) return request.c.redirect(localPath(request.body.next), 303);
      return {
        name: token.name,
        role: token.role,
        csrf: session.csrf,
        expiresAt: session.expiresAt.toISOString(),
      };
    },
  });
  api.route({
    method: 'GET',
    path: '/session',
    role: 'viewer',
    summary: 'Who is signed in',
    response: Session,
    handler: ({ principal }) => ({
      name: principal?.name,
      role: principal?.role,
      ...(principal?.csrf === undefined ? {} : { csrf: principal.csrf }),
    }),
  });
  api.route({
    method: 'DELETE',
    path: '/session',
    role: 'viewer',
    summary: 'Sign out',
    handler: async ({ principal, c }) => {
      if (principal?.sessionId !== undefined) await endSession(ctx.store, principal.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return { signedOut: true };
    },
  });
}
