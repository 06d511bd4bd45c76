/**
 * Live updates as server-sent events: every event on the bus (`journal` records, `run` status changes,
 * other areas' events), or one run's. A client that read a run's view at head N passes `afterSeq=N` and
 * gets the records it missed before the live ones, so nothing falls between the read and the stream.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { Api } from '../api.ts';
import { principalHolds, type Principal } from '../auth.ts';
import type { LiveEvent, ServerContext } from '../context.ts';
import { redactAnswer } from '../redact.ts';
import { notFound } from '../runs.ts';
import { journalEvent } from '../watcher.ts';

const HEARTBEAT_MS = 15_000;
/** How often an open stream asks whether its token still holds: a revoked token's stream ends within this. */
const AUTH_RECHECK_MS = 2_000;

function stream(
  ctx: ServerContext,
  c: Context,
  principal: Principal | undefined,
  runId: string | undefined,
  afterSeq: number | undefined,
): Response {
  return streamSSE(c, async (sse) => {
    const queue: LiveEvent[] = [];
    let wake: (() => void) | undefined;
    let lastSeq = afterSeq ?? 0;
    const push = (event: LiveEvent): void => {
      if (runId !== undefined && event.runId !== runId) return;
      queue.push(event);
      wake?.();
    };
    const unsubscribe = ctx.bus.subscribe(push);
    let closed = false;
    sse.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      if (runId !== undefined && afterSeq !== undefined) {
        for (const record of await ctx.store.readJournal(runId, afterSeq))
          queue.unshift(journalEvent(record));
        queue.sort((a, b) => Number(a.data.seq ?? 0) - Number(b.data.seq ?? 0));
      }
      await sse.writeSSE({ event: 'ready', data: JSON.stringify({ runId: runId ?? null }) });
      let checkedAt = Date.now();
      let quietSince = Date.now();
      while (!closed) {
        if (principal !== undefined && Date.now() - checkedAt >= AUTH_RECHECK_MS) {
          checkedAt = Date.now();
          if (!(await principalHolds(ctx.store, principal))) {
            await sse.writeSSE({
              event: 'revoked',
              data: JSON.stringify({
                code: 'DRCTL_API_UNAUTHENTICATED',
                message: 'the token or session of this stream was revoked or has expired',
              }),
            });
            break;
          }
        }
        const event = queue.shift();
        if (event === undefined) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(AUTH_RECHECK_MS, HEARTBEAT_MS));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (queue.length === 0 && !closed && Date.now() - quietSince >= HEARTBEAT_MS) {
            quietSince = Date.now();
            await sse.write(': heartbeat\n\n');
          }
          continue;
        }
        quietSince = Date.now();
        if (runId !== undefined && event.type === 'journal') {
          const seq = Number(event.data.seq);
          if (seq <= lastSeq) continue;
          lastSeq = seq;
        }
        await sse.writeSSE({ event: event.type, data: JSON.stringify(redactAnswer(ctx, event)) });
      }
    } finally {
      unsubscribe();
    }
  });
}

export function registerEvents(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/events',
    role: 'viewer',
    summary: 'Live events of every run (text/event-stream)',
    description:
      'Events: `ready` once, then `journal` (one run record), `run` (status or head moved) and others.',
    handler: ({ c, principal }) => stream(ctx, c, principal, undefined, undefined),
  });
  api.route({
    method: 'GET',
    path: '/runs/:id/events',
    role: 'viewer',
    summary: 'Live events of one run (text/event-stream)',
    params: z.object({ id: z.string() }),
    query: z.object({ afterSeq: z.coerce.number().int().min(0).optional() }),
    handler: async ({ c, params, query, principal }) => {
      if ((await ctx.store.getRun(params.id)) === undefined) throw notFound(params.id);
      return stream(ctx, c, principal, params.id, query.afterSeq);
    },
  });
}
