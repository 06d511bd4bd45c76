/**
 * The console's front page: readiness at a glance, with the runs waiting on people first.
 */
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { redactAnswer } from '../redact.ts';
import { page } from './layout.ts';
import { readinessBody } from './readiness.ts';
import type { ConsoleKit } from './kit.ts';

export function registerReadinessPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send, waitingRuns } = kit;

  api.page({
    method: 'GET',
    path: '/',
    role: 'viewer',
    summary: 'Readiness at a glance',
    handler: async ({ c, principal }) =>
      send(
        c,
        page({
          title: 'Readiness',
          current: 'readiness',
          principal,
          body: readinessBody(redactAnswer(ctx, await ctx.readiness.view()), await waitingRuns()),
        }),
      ),
  });
}
