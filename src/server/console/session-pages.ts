/**
 * The console's sign-in and sign-out pages.
 */
import { deleteCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Api } from '../api.ts';
import { endSession, SESSION_COOKIE } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { page } from './layout.ts';
import { signInBody } from './pages.ts';
import type { ConsoleKit } from './kit.ts';

export function registerSessionPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send } = kit;

  api.page({
    method: 'GET',
    path: '/sign-in',
    role: 'public',
    summary: 'Sign in',
    query: z.object({ next: z.string().max(2000).default('/'), error: z.string().optional() }),
    handler: ({ c, query, principal }) =>
      send(
        c,
        page({
          title: 'Sign in',
          principal: undefined,
          body: signInBody({ next: query.next, error: query.error, principal }),
        }),
      ),
  });

  api.page({
    method: 'POST',
    path: '/sign-out',
    role: 'viewer',
    summary: 'Sign out',
    body: z.object({}),
    handler: async ({ c, principal }) => {
      if (principal?.sessionId !== undefined) await endSession(ctx.store, principal.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.redirect('/sign-in', 303);
    },
  });
}
