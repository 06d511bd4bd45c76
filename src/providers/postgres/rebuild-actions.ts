/**
 * Failback: rebuild a former primary as a standby (saving what it committed after the failover), and replay
 * a reviewed reconciliation of those writes onto the current primary.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { defineAction, type ActionContext } from '../provider.ts';
import { rebuildStandby } from './operations/rebuild.ts';
import { ComponentSite, copyPlace, Id, requireServerFiles, resolve } from './placement.ts';
import {
  replayReconciliation,
  strandedSummary,
  unreachableReconciliation,
  writeReconciliation,
  type Reconciliation,
} from './stranded.ts';

// --------------------------------------------------------------------------------------- reconciliation files

function readReconciliation(file: string): Reconciliation {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Reconciliation;
    if (parsed.format !== 1 || !Array.isArray(parsed.rows))
      throw new Error('not a drctl reconciliation (format 1)');
    return parsed;
  } catch (cause) {
    throw new DrctlError(
      'DRCTL_PG_RECONCILE_FILE',
      `cannot read the reconciliation file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        hint: 'name the reconciliation.json a postgres.rebuild saved (its path is in the rebuild step evidence)',
        cause,
      },
    );
  }
}

/** The newest reconciliation.json saved for a component, this run's first. */
function newestReconciliation(ctx: ActionContext, component: string): string {
  const runs = join(ctx.stateDir, 'runs');
  const found: Array<{ file: string; at: number; ours: boolean }> = [];
  for (const run of existsSync(runs) ? readdirSync(runs) : []) {
    const dir = join(runs, run, 'reconciliation');
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      const file = join(dir, name, 'reconciliation.json');
      if (name.startsWith(`${component}-`) && existsSync(file))
        found.push({ file, at: statSync(file).mtimeMs, ours: run === ctx.runId });
    }
  }
  found.sort((a, b) => Number(b.ours) - Number(a.ours) || b.at - a.at);
  const newest = found[0];
  if (newest === undefined) {
    throw new DrctlError(
      'DRCTL_PG_RECONCILE_FILE',
      `no reconciliation file was saved for component ${component}`,
      {
        hint: 'postgres.rebuild saves one when it rebuilds a former primary (stranded: save); or name one with file:',
      },
    );
  }
  return newest.file;
}

export const rebuildAction = defineAction({
  description:
    'Rebuild a former primary as a standby of the current primary (pg_rewind, or a fresh base backup), and start it.',
  params: ComponentSite.extend({
    from: Id.describe('Site of the current primary.'),
    method: z.enum(['auto', 'rewind', 'basebackup']).default('auto'),
    synchronous: z.boolean().optional().describe('@default true when the component replicates in sync mode'),
    stranded: z
      .enum(['save', 'discard'])
      .default('save')
      .describe(
        'save: first write what the former primary committed after the failover to a reconciliation file; discard: throw it away unseen. @default save',
      ),
  }),
  idempotent: true,
  evidence: ['rebuild', 'stranded-writes'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const source = resolve(ctx.plan, params.component, params.from);
    const dir = reconciliationDir(ctx, params.component, params.site);
    const stranded =
      params.stranded === 'save'
        ? { oldUrl: resolved.url, place: copyPlace(ctx.plan, resolved, ctx) }
        : undefined;
    const result = await rebuildStandby(resolved.subject, {
      files: requireServerFiles(ctx.plan, resolved, ctx),
      source,
      method: params.method,
      synchronous: params.synchronous ?? resolved.component.replication?.mode === 'sync',
      ...(stranded === undefined ? {} : { stranded }),
      signal: ctx.signal,
    }).catch((error: unknown) => {
      // an unreachable host: what it committed after the failover is unknown, and the run says so
      const lost = stranded && unreachableReconciliation(error, resolved.subject, { ...stranded, source });
      if (lost) ctx.evidence('stranded-writes', strandedSummary(lost, writeReconciliation(dir, lost)));
      throw error;
    });
    const evidence = {
      method: result.method,
      rewindError: result.rewindError,
      pid: result.pid,
      synchronous: result.synchronous,
    };
    ctx.evidence('rebuild', evidence);
    let saved = '';
    if (result.reconciliation !== undefined) {
      const files = writeReconciliation(dir, result.reconciliation);
      const summary = strandedSummary(result.reconciliation, files);
      ctx.evidence('stranded-writes', summary);
      saved =
        result.reconciliation.status === 'unknown'
          ? `; stranded writes UNKNOWN: ${result.reconciliation.reason ?? ''}`
          : `; ${result.reconciliation.rows.length} stranded rows saved to ${files.json}`;
    }
    return {
      summary: `rebuilt ${params.component} at ${params.site} as a standby of ${params.from} (${result.method}); it streams${saved}`,
      output: evidence,
    };
  },
});

/** Where a run keeps the reconciliation of a component's former primary: with the run, in the state directory. */
function reconciliationDir(ctx: ActionContext, component: string, site: string): string {
  const run = ctx.runId ?? new Date().toISOString().replace(/[-:.]/g, '');
  return join(ctx.stateDir, 'runs', run, 'reconciliation', `${component}-${site}`);
}

export const reconcileAction = defineAction({
  description:
    'Replay a reviewed reconciliation file (writes stranded on a former primary) onto the current primary, refusing and reporting rows changed on both sides.',
  params: ComponentSite.extend({
    file: z
      .string()
      .optional()
      .describe(
        'The reconciliation.json to replay. @default the newest one this run (or any run) saved for the component',
      ),
    dry_run: z.boolean().default(false),
  }),
  idempotent: false,
  evidence: ['reconcile'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const file =
      params.file === undefined
        ? newestReconciliation(ctx, params.component)
        : isAbsolute(params.file)
          ? params.file
          : join(ctx.plan.baseDir, params.file);
    const reconciliation = readReconciliation(file);
    const outcome = await replayReconciliation(resolved, reconciliation, { dryRun: params.dry_run });
    const evidence = { file, from: reconciliation.from, ...outcome };
    ctx.evidence('reconcile', evidence);
    return {
      summary: `${params.dry_run ? 'would replay' : 'replayed'} ${outcome.applied} of ${reconciliation.rows.length} stranded rows onto ${params.component} at ${params.site}; ${outcome.refused.length} refused${outcome.refused.length > 0 ? ' (changed on both sides, see evidence)' : ''}`,
      output: evidence,
    };
  },
});
