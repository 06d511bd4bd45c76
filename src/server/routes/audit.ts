/** The server's audit stream: every mutating call (who, what, when, from where) and every refusal. */
import { z } from 'zod';
import { AUDIT_STREAM } from '../api.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';

const AuditEvent = z.object({
  seq: z.number(),
  at: z.string(),
  type: z.enum(['call', 'refused']),
  actor: z.string().describe('the token name, or `anonymous`'),
  data: z.object({
    method: z.string(),
    path: z.string(),
    route: z.string(),
    status: z.number(),
    remote: z.string(),
    role: z.string().optional(),
    code: z.string().optional(),
  }),
  hash: z.string(),
});

export function registerAudit(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/audit',
    role: 'viewer',
    summary: "The server's audit events",
    query: z.object({
      afterSeq: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      newestFirst: z
        .enum(['true', 'false'])
        .default('false')
        .transform((value) => value === 'true'),
    }),
    response: z.object({ events: z.array(AuditEvent) }),
    handler: async ({ query }) => ({
      events: (
        await ctx.store.readEvents(AUDIT_STREAM, {
          afterSeq: query.afterSeq,
          limit: query.limit,
          newestFirst: query.newestFirst,
        })
      ).map((event) => ({
        seq: event.seq,
        at: event.at.toISOString(),
        type: event.type,
        actor: event.actor,
        data: event.data,
        hash: event.hash,
      })),
    }),
  });
}
