/** The failover actions: status, fence, unfence and promote. */
import { join } from 'node:path';
import { z } from 'zod';
import { defineAction } from '../provider.ts';
import { fence, unfence } from './operations/fence.ts';
import { promote } from './operations/promote.ts';
import { replicationStatus } from './operations/status.ts';
import { ComponentSite, findComponent, hostServer, Id, resolve, serverFiles, targets } from './placement.ts';

export const status = defineAction({
  description:
    "Report each site's role (primary or standby), fencing, replication mode and lag in bytes and seconds.",
  params: z.strictObject({ component: Id, site: Id.optional() }),
  idempotent: true,
  evidence: ['replication-status'],
  async run(params, ctx) {
    const component = findComponent(ctx.plan, params.component);
    const all = targets(ctx.plan, component).filter(
      (target) => params.site === undefined || target.subject.site === params.site,
    );
    const result = await replicationStatus(all);
    ctx.evidence('replication-status', result);
    return {
      summary: `primary ${result.primary ?? 'unknown'}, replication ${result.mode}, lag ${result.lagBytes ?? '?'} bytes / ${result.lagSeconds?.toFixed(3) ?? '?'} s`,
      output: { ...result },
    };
  },
});

export const fenceAction = defineAction({
  description:
    'Fence a (former) primary so it refuses writes: read-only with its write sessions cut, or stopped.',
  params: ComponentSite.extend({
    how: z.enum(['read-only', 'stop']).default('read-only'),
    if_unreachable: z.enum(['fail', 'skip']).default('fail'),
  }),
  idempotent: true,
  undo: 'unfence',
  evidence: ['fence'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const result = await fence(resolved, {
      how: params.how,
      files: params.how === 'stop' ? serverFiles(ctx.plan, resolved, ctx) : undefined,
      ifUnreachable: params.if_unreachable,
    });
    ctx.evidence('fence', result);
    const detail =
      result.stopped === 'killed'
        ? ', killed with SIGKILL: it was frozen or did not shut down'
        : result.stopped === 'not-running'
          ? ', it was not running'
          : result.terminatedSessions > 0
            ? `, ${result.terminatedSessions} sessions cut`
            : '';
    const summary = result.fenced
      ? `fenced ${params.component} at ${params.site} (${params.how}${detail})`
      : `NOT fenced: ${params.component} at ${params.site} is unreachable`;
    return { summary, output: { ...result } };
  },
});

export const unfenceAction = defineAction({
  description: 'Lift a read-only fence.',
  // As the undo of postgres.fence it receives the fence's parameters; the extra ones change nothing.
  params: ComponentSite.extend({
    how: z.enum(['read-only', 'stop']).optional(),
    if_unreachable: z.enum(['fail', 'skip']).optional(),
  }),
  idempotent: true,
  evidence: [],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    await unfence(resolved);
    return { summary: `${params.component} at ${params.site} accepts writes again` };
  },
});

export const promoteAction = defineAction({
  description:
    "Promote a standby and wait until it accepts writes: with pg_ctl promote on the database's host when the placement names a host and a data_dir, else over SQL.",
  params: ComponentSite.extend({
    timeout_ms: z.number().int().positive().default(60_000),
    keep_synchronous: z.boolean().default(false),
  }),
  idempotent: false,
  // a promotion is marked for its run and step before it is asked for: a second attempt finds the primary
  // the first one made and does not promote it again
  resumable: () => true,
  evidence: ['promotion'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const host = hostServer(ctx.plan, resolved);
    const once =
      ctx.runId === undefined || ctx.stepId === undefined
        ? undefined
        : {
            run: ctx.runId,
            step: ctx.stepId,
            markerFile: join(
              ctx.stateDir,
              'runs',
              ctx.runId,
              'promoted',
              ctx.stepId.replace(/[^\w.-]/g, '_'),
            ),
          };
    const result = await promote(resolved, {
      timeoutMs: params.timeout_ms,
      keepSynchronous: params.keep_synchronous,
      host,
      once,
      signal: ctx.signal,
    });
    ctx.evidence('promotion', result);
    const how = host === undefined ? '' : ` (pg_ctl on ${host.executor.where})`;
    return {
      summary:
        result.promotedBefore === undefined
          ? `promoted ${params.component} at ${params.site}${how} in ${result.promotedInMs} ms; it accepts writes`
          : `not promoted again: an earlier attempt of this step promoted ${params.component} at ${params.site} at ${result.promotedBefore}; it accepts writes`,
      output: { ...result },
    };
  },
});
