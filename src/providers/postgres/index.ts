/**
 * The PostgreSQL provider: replication status and lag, fencing, promotion, rebuilding a former primary for
 * failback, base backups with WAL archiving, point-in-time restore, `sql:` validation queries and
 * readiness facts, for components of kind `postgres`.
 *
 * Parameters name a component and a site; the placement there gives the `url` and, for what drctl must do
 * on the machine itself (stop, rebuild, restore), the provider fields `data_dir` and `bin_dir`.
 * See docs/providers/postgres.md.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { expandEnv, findComponent as findPlanComponent } from '../../plan/lookup.ts';
import type { Component, Placement, Plan } from '../../plan/model.ts';
import {
  defineAction,
  defineCheck,
  type ActionContext,
  type PreflightCheck,
  type Provider,
  type ReadinessFact,
} from '../provider.ts';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { findPgBinaries } from '../../pg/binaries.ts';
import {
  corruptRows,
  describeCorruption,
  lastCorruption,
  saveCorruption,
  type CorruptionRecord,
} from '../../pg/corruption.ts';
import { one, redactUrl, withClient, type Subject } from '../../pg/client.ts';
import { formatDuration, parseDuration } from '../../plan/duration.ts';
import { freeBytes, portFree } from '../../system/probes.ts';
import { executorOn } from '../../exec/index.ts';
import { hostServerFiles, localServerFiles, type ServerFiles } from './server-files.ts';
import {
  replayReconciliation,
  strandedSummary,
  writeReconciliation,
  type Reconciliation,
} from './stranded.ts';
import {
  baseBackup,
  fence,
  listBackups,
  nodeStatus,
  promote,
  rebuildStandby,
  recoverDelayedStandby,
  flushWalArchive,
  pgDurationMs,
  type NodeStatus,
  replicationStatus,
  restorePointInTime,
  unfence,
  type LocalServer,
  type Target,
} from './operations.ts';
import { postgresIsolation } from './isolation.ts';

export {
  PgCluster,
  PgNode,
  freePort,
  slotName,
  type PgClusterOptions,
  type ClusterReplicationMode,
} from '../../pg/cluster.ts';
export { PgServer, stopDataDir, type PgServerOptions } from '../../pg/server.ts';
export { findPgBinaries, pgAvailable, type PgBinaries } from '../../pg/binaries.ts';
export * from './operations.ts';
export * from './canary.ts';
export * from './stranded.ts';

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i);
const ComponentSite = z.strictObject({ component: Id, site: Id });

// --------------------------------------------------------------------------------------- plan lookups

function findComponent(plan: Plan, id: string): Component {
  const component = findPlanComponent(plan, id);
  if (component !== undefined) return component;
  throw new DrctlError('DRCTL_PG_UNKNOWN_COMPONENT', `the plan has no component ${id}`, {
    hint: 'check the component id in the step parameters',
  });
}

function findPlacement(component: Component, site: string): Placement {
  const placement = component.placement.find((candidate) => candidate.site === site);
  if (placement === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NO_PLACEMENT',
      `component ${component.id} has no placement at site ${site}`,
      {
        hint: `add placement.${site} to component ${component.id}, or use one of its sites: ${component.placement.map((p) => p.site).join(', ')}`,
        location: component.at,
      },
    );
  }
  return placement;
}

/** `${NAME}` in a URL comes from the environment, so passwords stay out of plan files. */
function expandUrl(text: string, subject: Subject): string {
  return expandEnv(
    text,
    (name) =>
      new DrctlError(
        'DRCTL_PG_SECRET_MISSING',
        `the url of component ${subject.component} at site ${subject.site} uses \${${name}}, which is not set`,
        { hint: `export ${name} before running drctl` },
      ),
  );
}

interface Resolved extends Target {
  component: Component;
  placement: Placement;
}

function resolve(plan: Plan, componentId: string, site: string): Resolved {
  const component = findComponent(plan, componentId);
  const placement = findPlacement(component, site);
  const subject = { component: component.id, site };
  if (placement.url === undefined) {
    throw new DrctlError('DRCTL_PG_NO_PLACEMENT', `component ${component.id} at site ${site} has no url`, {
      hint: 'give the placement a url: postgres://user:${PASSWORD}@host:port/database',
      location: placement.at,
    });
  }
  return { component, placement, subject, url: expandUrl(placement.url, subject) };
}

function stringField(placement: Placement, name: string): string | undefined {
  const value = placement.fields[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function pathField(plan: Plan, placement: Placement, name: string): string | undefined {
  const value = stringField(placement, name);
  if (value === undefined) return undefined;
  return isAbsolute(value) ? value : join(plan.baseDir, value);
}

function noDataDir(resolved: Resolved): DrctlError {
  return new DrctlError(
    'DRCTL_PG_NO_DATA_DIR',
    `${resolved.subject.component} at site ${resolved.subject.site} has no data_dir; this action works on the server's files`,
    {
      hint: 'add data_dir (the PostgreSQL data directory, on the placement host when it names one) to the placement',
      location: resolved.placement.at,
    },
  );
}

/** The server on this machine behind a placement, for actions that need its files. */
function localServer(
  plan: Plan,
  resolved: Resolved,
  ctx: ActionContext,
  dataDirOverride?: string,
): LocalServer {
  const dataDir = dataDirOverride ?? pathField(plan, resolved.placement, 'data_dir');
  if (dataDir === undefined) throw noDataDir(resolved);
  const url = new URL(resolved.url);
  // clients may reach the server through a proxy on the url's port; the server itself listens behind it
  const listenPort = Number(resolved.placement.fields.listen_port);
  return {
    binaries: findPgBinaries(pathField(plan, resolved.placement, 'bin_dir')),
    dataDir,
    host: url.hostname,
    port:
      Number.isInteger(listenPort) && listenPort > 0 ? listenPort : url.port === '' ? 5432 : Number(url.port),
    logFile:
      pathField(plan, resolved.placement, 'log_file') ??
      join(ctx.stateDir, `postgres-${resolved.subject.component}-${resolved.subject.site}.log`),
    socketDir: pathField(plan, resolved.placement, 'socket_dir') ?? '',
    persistent: true,
  };
}

/**
 * The server's files behind a placement, where they are: on its host (`host:`, paths as written there) or
 * on this machine. Undefined without a data_dir.
 */
function serverFiles(plan: Plan, resolved: Resolved, ctx: ActionContext): ServerFiles | undefined {
  const host = resolved.placement.host;
  if (host === undefined) {
    if (stringField(resolved.placement, 'data_dir') === undefined) return undefined;
    const local = localServer(plan, resolved, ctx);
    return localServerFiles({ ...local, socketDir: local.socketDir ?? '' }, local.binaries);
  }
  const dataDir = stringField(resolved.placement, 'data_dir');
  if (dataDir === undefined) return undefined;
  const url = new URL(resolved.url);
  const listenPort = Number(resolved.placement.fields.listen_port);
  return hostServerFiles(
    executorOn(plan, host),
    {
      dataDir,
      host: url.hostname,
      port:
        Number.isInteger(listenPort) && listenPort > 0
          ? listenPort
          : url.port === ''
            ? 5432
            : Number(url.port),
      logFile: stringField(resolved.placement, 'log_file') ?? `${dataDir}.log`,
      socketDir: stringField(resolved.placement, 'socket_dir') ?? '',
    },
    stringField(resolved.placement, 'bin_dir'),
  );
}

function requireServerFiles(plan: Plan, resolved: Resolved, ctx: ActionContext): ServerFiles {
  const files = serverFiles(plan, resolved, ctx);
  if (files === undefined) throw noDataDir(resolved);
  return files;
}

/** A component's backup location: the backup policy's path (or the state directory) plus the component id. */
function backupLocation(
  plan: Plan,
  component: Component,
  ctx: ActionContext,
  override?: string,
  to?: string,
): string {
  if (override !== undefined) return override.startsWith('/') ? override : join(plan.baseDir, override);
  const policy =
    component.backups.find((candidate) => to === undefined || candidate.to === to) ?? component.backups[0];
  const root =
    policy?.path === undefined
      ? join(ctx.stateDir, 'backups', policy?.to ?? 'local')
      : policy.path.startsWith('/')
        ? policy.path
        : join(plan.baseDir, policy.path);
  return join(root, component.id);
}

function targets(plan: Plan, component: Component): Target[] {
  return component.placement
    .filter((placement) => placement.url !== undefined)
    .map((placement) => {
      const subject = { component: component.id, site: placement.site };
      return { subject, url: expandUrl(placement.url ?? '', subject) };
    });
}

/** Rows as arrays of column values, for `sql:` checks and postgres.query. */
async function runQuery(plan: Plan, componentId: string, site: string, sql: string): Promise<unknown[][]> {
  const resolved = resolve(plan, componentId, site);
  return withClient(resolved.subject, resolved.url, async (client) => {
    const result = await client.query<unknown[]>({ text: sql, rowMode: 'array' });
    return result.rows;
  });
}

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

// --------------------------------------------------------------------------------------- actions

const status = defineAction({
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

const fenceAction = defineAction({
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

const unfenceAction = defineAction({
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

const promoteAction = defineAction({
  description: 'Promote a standby and wait until it accepts writes.',
  params: ComponentSite.extend({
    timeout_ms: z.number().int().positive().default(60_000),
    keep_synchronous: z.boolean().default(false),
  }),
  idempotent: false,
  evidence: ['promotion'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const result = await promote(resolved, {
      timeoutMs: params.timeout_ms,
      keepSynchronous: params.keep_synchronous,
      signal: ctx.signal,
    });
    ctx.evidence('promotion', result);
    return {
      summary: `promoted ${params.component} at ${params.site} in ${result.promotedInMs} ms; it accepts writes`,
      output: { ...result },
    };
  },
});

const rebuildAction = defineAction({
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
    const result = await rebuildStandby(resolved.subject, {
      files: requireServerFiles(ctx.plan, resolved, ctx),
      local: resolved.placement.host === undefined ? localServer(ctx.plan, resolved, ctx) : undefined,
      source,
      method: params.method,
      synchronous: params.synchronous ?? resolved.component.replication?.mode === 'sync',
      ...(params.stranded === 'save' ? { stranded: { oldUrl: resolved.url } } : {}),
      signal: ctx.signal,
    });
    const evidence = {
      method: result.method,
      rewindError: result.rewindError,
      pid: result.pid,
      synchronous: result.synchronous,
    };
    ctx.evidence('rebuild', evidence);
    let stranded = '';
    if (result.reconciliation !== undefined) {
      const files = writeReconciliation(dir, result.reconciliation);
      const summary = strandedSummary(result.reconciliation, files);
      ctx.evidence('stranded-writes', summary);
      stranded =
        result.reconciliation.status === 'unknown'
          ? `; stranded writes UNKNOWN: ${result.reconciliation.reason ?? ''}`
          : `; ${result.reconciliation.rows.length} stranded rows saved to ${files.json}`;
    }
    return {
      summary: `rebuilt ${params.component} at ${params.site} as a standby of ${params.from} (${result.method}); it streams${stranded}`,
      output: evidence,
    };
  },
});

/** Where a run keeps the reconciliation of a component's former primary: with the run, in the state directory. */
function reconciliationDir(ctx: ActionContext, component: string, site: string): string {
  const run = ctx.runId ?? new Date().toISOString().replace(/[-:.]/g, '');
  return join(ctx.stateDir, 'runs', run, 'reconciliation', `${component}-${site}`);
}

const reconcileAction = defineAction({
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

const basebackupAction = defineAction({
  description:
    "Take a base backup into the component's backup location and archive WAL there for point-in-time restore.",
  params: ComponentSite.extend({
    to: z.string().optional().describe("Backup location path. @default the backup policy's path"),
    verify: z.boolean().default(true),
  }),
  idempotent: true,
  evidence: ['backup'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const location = backupLocation(ctx.plan, resolved.component, ctx, params.to);
    const record = await baseBackup(resolved, {
      binaries: findPgBinaries(pathField(ctx.plan, resolved.placement, 'bin_dir')),
      location,
      verify: params.verify,
      signal: ctx.signal,
    });
    ctx.evidence('backup', record);
    return {
      summary: `base backup ${record.id} of ${params.component} at ${params.site}: ${(record.bytes / 1e6).toFixed(1)} MB${record.verified ? ', verified' : ''}`,
      output: { ...record },
    };
  },
});

const TargetTime = z.union([z.string(), z.date()]).transform((value, context) => {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    context.addIssue({ code: 'custom', message: 'not a timestamp; write it like 2026-03-01T12:00:00Z' });
  return date;
});

/** `before: last-corruption` (the corruption fault journaled for the component) or a target time. */
const RecoveryPoint = {
  target_time: TargetTime.optional().describe('Recover up to this moment. Give it or before.'),
  before: z
    .literal('last-corruption')
    .optional()
    .describe(
      'Stop just before the bad transaction of the last corruption journaled for the component (a drill fault), found by its xid.',
    ),
};

function recoveryPoint(
  params: { target_time?: Date | undefined; before?: 'last-corruption' | undefined },
  component: string,
  ctx: ActionContext,
): { targetTime: Date; beforeXid?: string; corruption?: CorruptionRecord } {
  if (params.before === 'last-corruption') {
    const corruption = lastCorruption(ctx.stateDir, component);
    return { targetTime: new Date(corruption.before), beforeXid: corruption.xid, corruption };
  }
  if (params.target_time === undefined) {
    throw new DrctlError('DRCTL_PG_NO_TARGET', `a recovery of ${component} needs target_time or before`, {
      hint: 'write target_time: 2026-03-01T12:00:00Z, or before: last-corruption after a corruption fault',
    });
  }
  return { targetTime: params.target_time };
}

function describePoint(point: ReturnType<typeof recoveryPoint>): string {
  return point.beforeXid === undefined
    ? point.targetTime.toISOString()
    : `just before transaction ${point.beforeXid} (${point.corruption === undefined ? 'given' : describeCorruption(point.corruption)})`;
}

const restoreAction = defineAction({
  description:
    'Restore the newest suitable base backup into a new instance and replay WAL up to a point in time, or to just before the last corruption.',
  params: z.strictObject({
    component: Id,
    site: Id.describe(
      'Site whose placement (url, credentials) the restored instance takes, on its own data_dir and port.',
    ),
    ...RecoveryPoint,
    data_dir: z.string().describe('New, empty data directory.'),
    port: z.number().int().min(1).max(65535),
    from: z.string().optional().describe("Backup location path. @default the backup policy's path"),
  }),
  idempotent: false,
  evidence: ['restore'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const point = recoveryPoint(params, params.component, ctx);
    if (point.corruption !== undefined) {
      // the damaged primary usually still runs: archive its current WAL so the bad transaction's commit,
      // where recovery stops, is in the archive (a primary that is gone has archived what it could)
      const damaged = resolve(ctx.plan, params.component, point.corruption.site);
      await flushWalArchive(damaged).catch((error: unknown) =>
        ctx.log.warn({ error: String(error) }, 'could not archive the current WAL of the damaged primary'),
      );
    }
    const dataDir = params.data_dir.startsWith('/')
      ? params.data_dir
      : join(ctx.plan.baseDir, params.data_dir);
    const local = {
      ...localServer(ctx.plan, resolved, ctx, dataDir),
      port: params.port,
      logFile: join(ctx.stateDir, `postgres-${params.component}-restore-${params.port}.log`),
    };
    const url = new URL(resolved.url);
    url.port = String(params.port);
    const result = await restorePointInTime(resolved.subject, url.toString(), {
      location: backupLocation(ctx.plan, resolved.component, ctx, params.from),
      targetTime: point.targetTime,
      ...(point.beforeXid === undefined ? {} : { beforeXid: point.beforeXid }),
      local,
      signal: ctx.signal,
    });
    const evidence = {
      backup: result.backup.id,
      url: redactUrl(result.url),
      dataDir,
      pid: result.server.pid,
      recoveredInMs: result.recoveredInMs,
      targetTime: point.targetTime.toISOString(),
      ...(point.beforeXid === undefined ? {} : { beforeXid: point.beforeXid }),
    };
    ctx.evidence('restore', evidence);
    return {
      summary: `restored ${params.component} to ${describePoint(point)} from backup ${result.backup.id} on port ${params.port}`,
      output: evidence,
    };
  },
});

const corruptAction = defineAction({
  description:
    'Drill fault: delete or overwrite N rows of a table in one transaction, and journal that transaction so a restore can stop just before it.',
  params: ComponentSite.extend({
    table: z.string().min(1).describe('schema.table or table'),
    rows: z.number().int().min(1),
    change: z.enum(['delete', 'overwrite']).default('delete'),
    set: z.string().optional().describe("SET list for overwrite. @default every text column = 'corrupted'"),
  }),
  idempotent: false,
  evidence: ['corruption'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const record = await corruptRows(resolved, {
      table: params.table,
      rows: params.rows,
      change: params.change,
      ...(params.set === undefined ? {} : { set: params.set }),
    });
    const file = saveCorruption(ctx.stateDir, record);
    ctx.evidence('corruption', { ...record, keys: record.keys.length, file });
    return { summary: describeCorruption(record), output: { ...record } };
  },
});

const recoverDelayedAction = defineAction({
  description:
    'Recover a delayed standby (recovery_min_apply_delay) to before damage it has not applied yet, and promote it.',
  params: ComponentSite.extend({
    ...RecoveryPoint,
    timeout_ms: z.number().int().positive().default(120_000),
  }),
  idempotent: false,
  evidence: ['recovery'],
  async run(params, ctx) {
    const resolved = resolve(ctx.plan, params.component, params.site);
    const point = recoveryPoint(params, params.component, ctx);
    const result = await recoverDelayedStandby(resolved, {
      local: localServer(ctx.plan, resolved, ctx),
      target: {
        targetTime: point.targetTime,
        ...(point.beforeXid === undefined ? {} : { beforeXid: point.beforeXid }),
      },
      timeoutMs: params.timeout_ms,
      signal: ctx.signal,
    });
    const evidence = {
      target: describePoint(point),
      recoveredInMs: result.recoveredInMs,
      delayMs: result.delayMs,
      lastReplayedAt: result.lastReplayedAt,
      pid: result.server.pid,
    };
    ctx.evidence('recovery', evidence);
    return {
      summary: `recovered the delayed standby ${params.component} at ${params.site} (delay ${result.delayMs} ms) to ${describePoint(point)} in ${result.recoveredInMs} ms; it accepts writes`,
      output: evidence,
    };
  },
});

const queryAction = defineAction({
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

const writableCheck = defineCheck({
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

const streamingCheck = defineCheck({
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

async function readiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
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
    const newest = listBackups(backupLocation(ctx.plan, component, ctx, undefined, policy.to))[0];
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

// --------------------------------------------------------------------------------------- preflight

/** The placement's server answers with the credentials of its url (reachable and credentials at once). */
const connects: PreflightCheck = {
  name: 'server answers with its credentials',
  kind: 'credentials',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const resolved = resolve(ctx.plan, component, site);
    try {
      const version = await withClient(
        resolved.subject,
        resolved.url,
        async (client) => (await client.query<{ v: string }>('show server_version')).rows[0]?.v,
        { timeoutMs: 5_000 },
      );
      return {
        ok: true,
        message: `${component} at ${site} answers (PostgreSQL ${version ?? '?'}) as ${new URL(resolved.url).username || 'the default user'}`,
      };
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
      const what = error.code === 'DRCTL_PG_AUTH' ? 'refuses the credentials' : 'does not answer';
      return {
        ok: false,
        message: `${component} at ${site} ${what}: ${error.message}`,
        observed: { code: error.code },
      };
    }
  },
};

/** postgres.promote: the site's server is a standby, in recovery and streaming from a primary. */
const standbyStreaming: PreflightCheck = {
  name: 'standby in recovery and streaming',
  kind: 'capacity',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const status = await nodeStatus(resolve(ctx.plan, component, site)).catch((error: unknown) => {
      if (error instanceof DrctlError && error.code === 'DRCTL_PG_AUTH') return undefined;
      throw error;
    });
    // a server that does not answer or refuses the credentials is said by the connection check
    if (status === undefined || !status.reachable) return undefined;
    if (status.role !== 'standby')
      return {
        ok: false,
        message: `${component} at ${site} is a ${status.role}, not a standby: there is nothing to promote`,
      };
    return status.streaming === true
      ? { ok: true, message: `${component} at ${site} is a standby streaming from its primary` }
      : {
          ok: false,
          message: `${component} at ${site} is in recovery but not streaming: promoting it may lose what it has not received`,
        };
  },
};

/** The server programs an action runs on this machine (initdb, pg_ctl, pg_basebackup, pg_rewind). */
const serverPrograms: PreflightCheck = {
  name: 'PostgreSQL server programs',
  kind: 'tool',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const placement = findPlacement(findComponent(ctx.plan, component), site);
    try {
      const found = findPgBinaries(pathField(ctx.plan, placement, 'bin_dir'));
      return { ok: true, message: `${found.version} in ${found.dir}`, observed: found };
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
      return { ok: false, message: error.message };
    }
  },
};

/** postgres.restore-pitr: the new data directory's disk holds the newest base backup, and the port is free. */
const restoreCapacity: PreflightCheck[] = [
  {
    name: 'free disk for the newest backup',
    kind: 'capacity',
    async run(params, ctx) {
      const {
        component,
        from,
        data_dir: dataDir,
      } = params as { component: string; from?: string; data_dir: string };
      const location = backupLocation(ctx.plan, findComponent(ctx.plan, component), ctx, from);
      const newest = listBackups(location)
        .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))
        .at(-1);
      if (newest === undefined)
        return { ok: false, message: `no base backup of ${component} in ${location} to restore` };
      const target = dataDir.startsWith('/') ? dataDir : join(ctx.plan.baseDir, dataDir);
      const free = freeBytes(target);
      return free >= newest.bytes
        ? {
            ok: true,
            message: `${free} bytes free at ${target} for backup ${newest.id} (${newest.bytes} bytes)`,
          }
        : {
            ok: false,
            message: `only ${free} bytes free at ${target}; backup ${newest.id} needs ${newest.bytes}`,
            observed: { free, needed: newest.bytes },
          };
    },
  },
  {
    name: 'port free',
    kind: 'capacity',
    async run(params) {
      const { port } = params as { port: number };
      return (await portFree(port))
        ? { ok: true, message: `port ${port} free for the restored instance` }
        : { ok: false, message: `port ${port} is already in use: the restored instance could not listen` };
    },
  },
];

export const postgresProvider = {
  name: 'postgres',
  description:
    'PostgreSQL: replication status, fencing, promotion, failback rebuild, base backups with WAL archiving, point-in-time restore.',
  kinds: ['postgres'],
  drill: { starts: 'pg-cluster', field: 'data_dir' },
  actions: {
    status,
    fence: fenceAction,
    unfence: unfenceAction,
    promote: promoteAction,
    rebuild: rebuildAction,
    reconcile: reconcileAction,
    basebackup: basebackupAction,
    'restore-pitr': restoreAction,
    corrupt: corruptAction,
    'recover-delayed': recoverDelayedAction,
    query: queryAction,
  },
  checks: { writable: writableCheck, streaming: streamingCheck },
  query: (component: Component, site: string, sql: string, ctx: ActionContext) =>
    runQuery(ctx.plan, component.id, site, sql),
  readiness,
  isolation: postgresIsolation,
  preflight: {
    status: [connects],
    fence: [connects],
    unfence: [connects],
    promote: [connects, standbyStreaming],
    query: [connects],
    rebuild: [serverPrograms],
    reconcile: [connects],
    basebackup: [connects, serverPrograms],
    'restore-pitr': [serverPrograms, ...restoreCapacity],
  },
} satisfies Provider;

export default postgresProvider;
