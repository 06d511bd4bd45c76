/** What reads a server without changing it: the query action, the writable and streaming checks, readiness. */
import { z } from 'zod';
import { one, withClient } from '../../pg/client.ts';
import { formatDuration, parseDuration } from '../../plan/duration.ts';
import type { Component, Plan } from '../../plan/model.ts';
import { defineAction, defineCheck, type ActionContext, type ReadinessFact } from '../provider.ts';
import { listBackups } from './operations/backup.ts';
import { pgDurationMs } from './operations/delayed.ts';
import { nodeStatus, replicationStatus, type NodeStatus } from './operations/status.ts';
import { localBackupLocation, ComponentSite, resolve, runQuery, targets } from './placement.ts';

export const queryAction = defineAction({
  description: 'Run a SQL statement on a component at a site; its rows are the evidence.',
  params: ComponentSite.extend({ sql: z.string().min(1) }),
  idempotent: false,
  evidence: ['rows'],
  async run(params, ctx) {
    const rows = await runQuery(ctx.plan, params.component, params.site, params.sql);
    ctx.evidence('rows', rows);
    return { summary: `${rows.length} rows from ${params.component} at ${params.site}`, output: { rows } };
  },
});

// --------------------------------------------------------------------------------------- checks

export const writableCheck = defineCheck({
  description: 'The component at the site is a primary that accepts writes.',
  params: ComponentSite,
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const node = await nodeStatus(resolved);
    const ok = node.reachable && node.role === 'primary' && node.fenced !== true;
    return {
      ok,
      message: ok
        ? `${params.component} at ${params.site} accepts writes`
        : `${params.component} at ${params.site} is ${node.reachable ? (node.fenced === true ? 'fenced' : node.role) : 'unreachable'}`,
      observed: node,
    };
  },
});

export const streamingCheck = defineCheck({
  description: 'The component at the site is a standby streaming from its primary, within an optional lag.',
  params: ComponentSite.extend({ max_lag_ms: z.number().min(0).optional() }),
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const node = await nodeStatus(resolved);
    const lagMs = (node.lagSeconds ?? 0) * 1000;
    const ok =
      node.role === 'standby' &&
      node.streaming === true &&
      (params.max_lag_ms === undefined || lagMs <= params.max_lag_ms);
    return {
      ok,
      message: `${params.component} at ${params.site}: ${node.role}${node.streaming === true ? ', streaming' : ''}, lag ${Math.round(lagMs)} ms`,
      observed: node,
    };
  },
});

// --------------------------------------------------------------------------------------- readiness

export async function readiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
  const facts: ReadinessFact[] = [];
  const rpoMs = ctx.plan.workloads.find((workload) => workload.id === component.workload)?.rpoMs;
  const status = await replicationStatus(targets(ctx.plan, component));
  for (const node of status.nodes) {
    facts.push({
      component: component.id,
      site: node.site,
      name: 'reachable',
      ok: node.reachable,
      value: node.reachable,
      message: node.reachable
        ? `${node.role} at ${node.site} answers`
        : `${node.site} does not answer: ${node.error ?? ''}`,
    });
  }
  facts.push(...(await applyDelayFacts(ctx.plan, component, status.nodes)));
  const replicating = component.replication !== undefined && component.replication.mode !== 'none';
  if (replicating) {
    const primary = status.nodes.find((node) => node.site === status.primary);
    for (const standby of status.nodes.filter((node) => node.role === 'standby')) {
      const link = primary?.standbys?.find((candidate) => candidate.name === standby.site);
      // A synchronous standby has flushed every acknowledged commit: its replay lag loses no data.
      const atRiskMs = link?.syncState === 'sync' ? 0 : Math.round((standby.lagSeconds ?? 0) * 1000);
      const limit = component.replication?.maxLagMs ?? rpoMs;
      const streams = standby.streaming === true && link?.state === 'streaming';
      facts.push({
        component: component.id,
        site: standby.site,
        name: 'replication-lag',
        ok: streams && (limit === undefined || atRiskMs <= limit),
        value: atRiskMs,
        ...(limit === undefined ? {} : { limit }),
        message: streams
          ? `${standby.site} streams (${link?.syncState ?? '?'}), ${atRiskMs} ms of acknowledged writes at risk, ${link?.replayLagBytes ?? '?'} bytes behind in replay`
          : `${standby.site} does not stream from ${status.primary ?? 'a primary'}`,
      });
    }
    if (status.nodes.every((node) => node.role !== 'standby')) {
      facts.push({
        component: component.id,
        site: undefined,
        name: 'replication-lag',
        ok: false,
        message: 'no reachable standby',
      });
    }
  }
  // restic and pgBackRest policies report through their own providers
  for (const policy of component.backups.filter((b) => (b.engine ?? 'drctl') === 'drctl')) {
    const newest = listBackups(localBackupLocation(ctx.plan, component, ctx, undefined, policy.to))[0];
    // With streaming replication the RPO rests on the standby; the backups then only need to keep their schedule.
    const limit = replicating || rpoMs === undefined ? policy.everyMs : Math.min(policy.everyMs, rpoMs);
    const ageMs = newest === undefined ? undefined : Date.now() - new Date(newest.finishedAt).getTime();
    facts.push({
      component: component.id,
      site: policy.to,
      name: 'backup-age',
      ok: ageMs !== undefined && ageMs <= limit,
      ...(ageMs === undefined ? {} : { value: ageMs }),
      limit,
      message:
        newest === undefined
          ? `no base backup at ${policy.to}`
          : `newest base backup ${newest.id} is ${Math.round((ageMs ?? 0) / 1000)} s old`,
    });
  }
  return facts;
}

/**
 * A placement with `apply_delay` is a delayed standby: readiness shows the delay it really applies
 * (recovery_min_apply_delay) against the one the plan promises, and how far behind its replay is.
 */
async function applyDelayFacts(
  plan: Plan,
  component: Component,
  nodes: readonly NodeStatus[],
): Promise<ReadinessFact[]> {
  const facts: ReadinessFact[] = [];
  for (const placement of component.placement) {
    const promised = placement.fields.apply_delay;
    if (promised === undefined) continue;
    const limit = typeof promised === 'string' ? parseDuration(promised) : undefined;
    const node = nodes.find((candidate) => candidate.site === placement.site);
    const base = { component: component.id, site: placement.site, name: 'apply-delay' };
    if (limit === undefined) {
      facts.push({
        ...base,
        ok: false,
        message: `apply_delay "${String(promised)}" is not a duration (write it like 1h)`,
      });
      continue;
    }
    if (node?.reachable !== true || node.role !== 'standby') {
      facts.push({
        ...base,
        ok: false,
        limit,
        message: `${placement.site} is not a reachable standby, so nothing is held back`,
      });
      continue;
    }
    const resolved = resolve(plan, component.id, placement.site);
    const row = await withClient(resolved.subject, resolved.url, (client) =>
      one<{ delay: string; behind: number | null }>(
        client,
        `select current_setting('recovery_min_apply_delay') as delay,
                extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as behind`,
      ),
    );
    const delayMs = pgDurationMs(row?.delay ?? '0');
    facts.push({
      ...base,
      ok: delayMs >= limit,
      value: delayMs,
      limit,
      message: `${placement.site} applies WAL ${formatDuration(delayMs)} late (promised ${formatDuration(limit)}); last replayed commit ${row?.behind === null || row?.behind === undefined ? 'unknown' : `${Math.round(row.behind)} s ago`}`,
    });
  }
  return facts;
}
