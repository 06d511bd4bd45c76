/**
 * What the console's page registrations share: sending a page with its security headers, turning a
 * refused form post into a notice on the page the person is sent back to, and the plans and runs pages
 * read. Built once per server by `consoleKit`.
 */
import type { Context } from 'hono';
import { analyzePlan } from '../../analysis/index.ts';
import { AUDIT_STREAM, remoteAddress } from '../api.ts';
import type { Principal } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { httpError } from '../errors.ts';
import { sharedRunView } from '../routes/runs.ts';
import { currentStatus } from '../runs.ts';
import type { Fragment } from './layout.ts';

/** Pages allow only drctl's own scripts and styles; inline styles stay for the rendered documents. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

export type ConsoleKit = ReturnType<typeof consoleKit>;

export function consoleKit(ctx: ServerContext) {
  // a refusal from the last form a person posted, shown once on the page they are sent back to
  const notices = new Map<string, string>();
  const noticeKey = (principal: Principal | undefined): string =>
    principal?.sessionId ?? principal?.name ?? '';
  const takeNotice = (principal: Principal | undefined): string | undefined => {
    const key = noticeKey(principal);
    const notice = notices.get(key);
    notices.delete(key);
    return notice;
  };

  const send = (c: Context, body: Fragment | string, status = 200): Response | Promise<Response> => {
    c.header('content-security-policy', CSP);
    c.header('x-content-type-options', 'nosniff');
    return c.html(body, status as 200);
  };
  const analysed = () => ctx.plans.list().map((plan) => ({ plan, analysis: analyzePlan(plan) }));
  /** The newest runs with the status the API gives them: a run whose steps wait on people is `waiting`. */
  const runsNow = async () =>
    Promise.all(
      (await ctx.store.listRuns({ limit: 100 })).map(async (run) => ({
        ...run,
        status: await currentStatus(ctx.store, run),
      })),
    );
  /** Runs that wait on a person, with what each waits for: readiness shows them first. */
  const waitingRuns = async () => {
    const waiting = (await runsNow()).filter((run) => run.status === 'waiting');
    return Promise.all(waiting.map(async (run) => (await sharedRunView(ctx, run.id)).view));
  };

  /** Runs `action`; a refusal (wrong step state, four-eyes, ...) becomes a notice on the page at `back`. */
  const act = async (
    c: Context,
    principal: Principal | undefined,
    back: string,
    action: () => Promise<string | undefined>,
  ): Promise<Response> => {
    try {
      const to = await action();
      return c.redirect(to ?? back, 303);
    } catch (error) {
      const answer = httpError(error);
      if (answer.unexpected) throw error;
      const { code, message, hint } = answer.body.error;
      // the core audits the form post as answered (a redirect); the refusal itself is recorded here
      await ctx.store.appendEvent(AUDIT_STREAM, {
        type: 'refused',
        actor: principal?.name ?? 'anonymous',
        data: {
          method: c.req.method,
          path: c.req.path,
          status: answer.status,
          code,
          remote: remoteAddress(c),
        },
      });
      notices.set(noticeKey(principal), `Refused: ${message}${hint ? ` (${hint})` : ''}`);
      return c.redirect(back, 303);
    }
  };

  return { send, act, takeNotice, analysed, runsNow, waitingRuns };
}
