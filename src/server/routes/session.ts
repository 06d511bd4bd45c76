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

/**
 * A local path to go to after signing in; anything else becomes `/`. Control characters and spaces are
 * refused outright: browsers drop a tab or line break from `/<TAB>/evil.example`, leaving `//evil.example`,
 * another origin; and a line break in a Location header is not a header at all.
 */
export function localPath(next: string | undefined): string {
  return next !== undefined && /^\/(?![/\\])[^\u0000-\u0020\u007f-\u009f\\]*$/.test(next) ? next : '/';
}

/** Failed sign-ins allowed per address in a window; past it, sign-in answers 429 until the window ends. */
const SIGN_IN_FAILURES = 10;
const SIGN_IN_WINDOW_MS = 60_000;

/** Failed sign-ins per remote address, so tokens cannot be guessed at the speed of the network. */
class SignInThrottle {
  readonly #failures = new Map<string, { count: number; until: number }>();

  /** Milliseconds to wait before the next attempt from `remote`, or 0. */
  waitMs(remote: string, now = Date.now()): number {
    const entry = this.#failures.get(remote);
    if (entry === undefined || entry.until <= now) return 0;
    return entry.count >= SIGN_IN_FAILURES ? entry.until - now : 0;
  }

  failed(remote: string, now = Date.now()): void {
    const entry = this.#failures.get(remote);
    if (entry === undefined || entry.until <= now) {
      if (this.#failures.size >= 10_000)
        for (const [key, old] of this.#failures) if (old.until <= now) this.#failures.delete(key);
      this.#failures.set(remote, { count: 1, until: now + SIGN_IN_WINDOW_MS });
    } else entry.count += 1;
  }
}

export function registerSession(api: Api, ctx: ServerContext): void {
  const throttle = new SignInThrottle();
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
      const isForm = !(request.c.req.header('content-type') ?? '').includes('application/json');
      const next = encodeURIComponent(localPath(request.body.next));
      const waitMs = throttle.waitMs(request.remote);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        request.c.header('retry-after', String(seconds));
        if (isForm) {
          request.refusal = 'DRCTL_API_THROTTLED';
          return request.c.redirect(`/sign-in?error=throttled&next=${next}`, 303);
        }
        throw new ApiError(429, 'DRCTL_API_THROTTLED', 'too many failed sign-ins from this address', {
          hint: `try again in ${seconds} s`,
        });
      }
      const token = await verifyToken(ctx.store, request.body.token);
      if (token === undefined) throttle.failed(request.remote);
      if (token === undefined && isForm) {
        request.refusal = 'DRCTL_API_TOKEN_INVALID';
        return request.c.redirect(`/sign-in?error=invalid&next=${next}`, 303);
      }
      if (token === undefined) {
        throw ApiError.tokenInvalid('the token is not valid', { field: 'body.token' });
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
