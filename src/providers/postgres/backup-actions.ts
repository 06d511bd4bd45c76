/**
 * Backup and recovery actions: base backups, point-in-time restore, the corruption drill fault and the
 * recovery of a delayed standby to just before it.
 */
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { redactUrl } from '../../pg/client.ts';
import {
  corruptRows,
  describeCorruption,
  lastCorruption,
  saveCorruption,
  type CorruptionRecord,
} from '../../pg/corruption.ts';
import { defineAction, type ActionContext } from '../provider.ts';
import { baseBackup, flushWalArchive } from './operations/backup.ts';
import { recoverDelayedStandby } from './operations/delayed.ts';
import { restorePointInTime } from './operations/restore.ts';
import {
  backupFiles,
  backupLocation,
  ComponentSite,
  Id,
  instanceFiles,
  localServer,
  placementPath,
  resolve,
} from './placement.ts';

export const basebackupAction = defineAction({
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
    const location = backupLocation(ctx.plan, resolved, ctx, params.to);
    const record = await baseBackup(resolved, {
      files: backupFiles(ctx.plan, resolved),
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

export const restoreAction = defineAction({
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
    const dataDir = placementPath(ctx.plan, resolved, params.data_dir, 'the data_dir');
    const url = new URL(resolved.url);
    url.port = String(params.port);
    const result = await restorePointInTime(resolved.subject, url.toString(), {
      location: backupLocation(ctx.plan, resolved, ctx, params.from),
      backups: backupFiles(ctx.plan, resolved),
      targetTime: point.targetTime,
      ...(point.beforeXid === undefined ? {} : { beforeXid: point.beforeXid }),
      files: instanceFiles(ctx.plan, resolved, ctx, { dataDir, port: params.port }),
      signal: ctx.signal,
    });
    const evidence = {
      backup: result.backup.id,
      url: redactUrl(result.url),
      dataDir,
      pid: result.pid,
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

export const corruptAction = defineAction({
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

export const recoverDelayedAction = defineAction({
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
