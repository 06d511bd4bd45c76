/**
 * The pgBackRest provider: drives the pgBackRest repositories teams already keep for PostgreSQL. A
 * postgres component's `backups[]` entry with `engine: pgbackrest` names the repository path (and the
 * stanza, the component id by default); its placement gives the server's data_dir, socket_dir and url.
 * Actions create and check the stanza (setting the server's archive_command), take full, differential and
 * incremental backups, restore to the end of the archive or a point in time, expire by the plan's
 * retention, and report `info`; evidence is pgBackRest's own JSON. See docs/providers/pgbackrest.md.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { shellQuote } from '../../exec/index.ts';
import type { Component, Plan, Retention } from '../../plan/model.ts';
import { formatDuration } from '../../plan/duration.ts';
import { Id } from '../../plan/schema.ts';
import { RetentionParams, planPath } from '../../backup/resolve.ts';
import { one, withClient } from '../../pg/client.ts';
import { describeCorruption, lastCorruption } from '../../pg/corruption.ts';
import { defineAction } from '../provider.ts';
import type { ActionContext, PreflightCheck, Provider, ReadinessFact } from '../provider.ts';
import {
  PGBACKREST_ERRORS,
  archiveCommand,
  ensureRepositoryDir,
  pgbackrest,
  pgbackrestTarget,
  prepare,
  stanzaInfo,
} from './pgbackrest.ts';
import type { BackupSet, PgbackrestTarget, StanzaInfo } from './pgbackrest.ts';
import { freeDisk, prepareDataDir, startRestored } from './restored-server.ts';

export { PGBACKREST_ERRORS, pgbackrestTarget, stanzaInfo, findPgbackrest } from './pgbackrest.ts';

const targetParams = {
  component: Id.describe('The postgres component whose pgBackRest backups this is about.'),
  to: Id.optional().describe(
    "The backup policy, by its site. @default the component's first pgBackRest policy",
  ),
  site: Id.optional().describe('Site of the PostgreSQL server backed up. @default the primary placement'),
  host: Id.optional().describe(
    "Host of the plan pgbackrest runs on. @default the placement's host (the database's), else this machine",
  ),
};

function target(
  params: {
    component: string;
    to?: string | undefined;
    site?: string | undefined;
    host?: string | undefined;
  },
  ctx: ActionContext,
): PgbackrestTarget {
  return pgbackrestTarget(ctx.plan, params.component, {
    to: params.to,
    site: params.site,
    host: params.host,
    stateDir: ctx.stateDir,
  });
}

/** The placement's server as a URL a client connects to (TCP, the placement's own url). */
function serverUrl(t: PgbackrestTarget, port = t.port): string {
  const url = new URL(t.placement.url ?? `postgres://${t.user}@127.0.0.1/postgres`);
  url.port = String(port);
  if (t.env.PGPASSWORD !== undefined) url.password = encodeURIComponent(t.env.PGPASSWORD);
  return url.toString();
}

/**
 * How a restore verification connects to the server started on its scratch restore: the production
 * placement's user, database and password on another port.
 */
function restoredServerUrl(
  plan: Plan,
  component: string,
  options: { to: string | undefined; stateDir: string },
  port: number,
): string {
  return serverUrl(pgbackrestTarget(plan, component, { ...options, site: undefined }), port);
}

/** Points the server's archive_command at this policy's stanza; archive_mode must already be on. */
async function setArchiveCommand(t: PgbackrestTarget): Promise<{ command: string; changed: boolean }> {
  const command = await archiveCommand(t);
  const subject = { component: t.component.id, site: t.site };
  return withClient(subject, serverUrl(t), async (client) => {
    const row = await one<{ mode: string; command: string }>(
      client,
      "select current_setting('archive_mode') as mode, current_setting('archive_command') as command",
    );
    if (row?.mode === 'off')
      throw new DrctlError(
        PGBACKREST_ERRORS.ARCHIVE_FAILED,
        `cannot archive WAL of ${t.component.id} at ${t.site} to pgBackRest: archive_mode is off`,
        {
          hint: 'set archive_mode = on in postgresql.conf and restart the server once; drctl sets archive_command itself',
        },
      );
    if (row?.command === command) return { command, changed: false };
    await client.query(`alter system set archive_command = ${client.escapeLiteral(command)}`);
    await client.query('select pg_reload_conf()');
    return { command, changed: true };
  });
}

/** pgBackRest's timestamp format for --target (PostgreSQL reads it as recovery_target_time). */
function targetTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '+00');
}

function backupSummary(set: BackupSet): Record<string, unknown> {
  return {
    label: set.label,
    type: set.type,
    prior: set.prior,
    start: new Date(set.timestamp.start * 1000).toISOString(),
    stop: new Date(set.timestamp.stop * 1000).toISOString(),
    walStart: set.archive.start,
    walStop: set.archive.stop,
    size: set.info?.size,
    repositorySize: set.info?.repository?.size,
  };
}

/**
 * pgBackRest keeps full backups by count or by age, not one per day/week/month/year. drctl keeps every
 * full backup of the plan's longest horizon (a superset of what the calendar rule keeps), by age.
 */
export function retentionDays(keep: Retention): number {
  return Math.max(keep.daily, keep.weekly * 7, keep.monthly * 31, keep.yearly * 366);
}

// --------------------------------------------------------------------------------------- preflight

const MISSING = new Set<string>([PGBACKREST_ERRORS.MISSING, 'DRCTL_HOST_COMMAND_MISSING']);

/** pgbackrest is on PATH where it runs (the server's archive_command names it too). */
const pgbackrestInstalled: PreflightCheck = {
  name: 'pgbackrest installed',
  kind: 'tool',
  async run(params, ctx) {
    let t: PgbackrestTarget;
    try {
      t = target(params as { component: string }, ctx);
    } catch {
      return undefined; // a policy or placement that is missing is the other check's finding
    }
    try {
      const { program } = await prepare(t);
      const where = t.executor.host === undefined ? '' : ` on ${t.executor.where}`;
      return { ok: true, message: `pgBackRest at ${program}${where}` };
    } catch (error) {
      if (!(error instanceof DrctlError) || !MISSING.has(error.code)) throw error;
      return { ok: false, message: `${error.message}; ${error.hint ?? ''}`, observed: { code: error.code } };
    }
  },
};

/**
 * `pgbackrest info` reads the stanza from its repository: the repository is there, the stanza in it and
 * the cipher pass opens it; nothing is written. With `needsBackup` (restore) a backup must exist and the
 * disk of the data directory must hold the newest one.
 */
function stanzaReadable(needsBackup: boolean): PreflightCheck {
  return {
    name: needsBackup ? 'stanza readable with a backup that fits' : 'stanza readable in its repository',
    kind: needsBackup ? 'capacity' : 'credentials',
    async run(params, ctx) {
      const t = target(params as { component: string }, ctx);
      const where = `stanza ${t.stanza} of ${t.component.id} in ${t.repository}`;
      let info: StanzaInfo;
      try {
        info = await stanzaInfo(t, ctx.signal);
      } catch (error) {
        if (!(error instanceof DrctlError)) throw error;
        // a missing program is reported once, by pgbackrest installed
        if (MISSING.has(error.code)) return undefined;
        return { ok: false, message: error.message, observed: { code: error.code } };
      }
      const newest = info.backup.at(-1);
      if (!needsBackup)
        return {
          ok: true,
          message: `${where} opens${t.encrypted ? ' with its cipher pass' : ''}; ${info.backup.length} backups`,
        };
      if (newest === undefined)
        return { ok: false, message: `${where} holds no backup to restore`, observed: { backups: 0 } };
      const { data_dir: dataDir, target: into } = params as { data_dir?: string; target?: string };
      const { path, free } = await freeDisk(t.executor, dataDir ?? into ?? t.dataDir);
      const needed = newest.info?.size ?? 0;
      return free >= needed
        ? { ok: true, message: `${free} bytes free at ${path} for backup ${newest.label} (${needed} bytes)` }
        : {
            ok: false,
            message: `only ${free} bytes free at ${path}; backup ${newest.label} needs ${needed}`,
            observed: { free, needed },
          };
    },
  };
}

export const pgbackrestProvider = {
  name: 'pgbackrest',
  description:
    'PostgreSQL backups with pgBackRest: stanza create and check, full/diff/incr backups, restore to the latest or a point in time, expire, info.',
  kinds: [],
  backup: {
    actions: { backup: 'backup', prune: 'expire', check: 'check', restore: 'restore' },
    snapshotParam: 'set',
    typeParam: 'type',
    scratchServerUrl: restoredServerUrl,
  },
  actions: {
    stanza_create: defineAction({
      description:
        "Create the stanza in the repository (creating a local repository directory) and point the server's archive_command at it.",
      params: z.strictObject({ ...targetParams }),
      idempotent: true,
      evidence: ['stanza'],
      async run(params, ctx) {
        const t = target(params, ctx);
        await ensureRepositoryDir(t);
        const archive = await setArchiveCommand(t);
        const result = await pgbackrest(t, 'stanza-create', [], { signal: ctx.signal });
        const evidence = {
          stanza: t.stanza,
          repository: t.repository,
          encrypted: t.encrypted,
          archiveCommand: archive.command,
          archiveCommandChanged: archive.changed,
          durationMs: Math.round(result.durationMs),
        };
        ctx.evidence('stanza', evidence);
        return {
          summary: `pgBackRest stanza ${t.stanza} of ${t.component.id} ready in ${t.repository}`,
          output: evidence,
        };
      },
    }),
    check: defineAction({
      description:
        'pgbackrest check: the stanza is in the repository and a WAL segment the server archives arrives there.',
      params: z.strictObject({ ...targetParams }),
      idempotent: true,
      evidence: ['check'],
      async run(params, ctx) {
        const t = target(params, ctx);
        const result = await pgbackrest(t, 'check', [], { signal: ctx.signal });
        const evidence = {
          stanza: t.stanza,
          repository: t.repository,
          ok: true,
          durationMs: Math.round(result.durationMs),
        };
        ctx.evidence('check', evidence);
        return {
          summary: `pgBackRest stanza ${t.stanza} of ${t.component.id} checked: WAL archiving works`,
          output: evidence,
        };
      },
    }),
    backup: defineAction({
      description: 'Take a full, differential or incremental backup of the server into the stanza.',
      params: z.strictObject({
        ...targetParams,
        type: z
          .enum(['full', 'diff', 'incr'])
          .optional()
          .describe(
            'pgBackRest backup type; diff and incr become full when there is no full backup yet. @default incr',
          ),
      }),
      idempotent: true,
      evidence: ['backup'],
      async run(params, ctx) {
        const t = target(params, ctx);
        const type = params.type ?? 'incr';
        const before = new Set((await stanzaInfo(t, ctx.signal)).backup.map((b) => b.label));
        const result = await pgbackrest(t, 'backup', [`--type=${type}`], { signal: ctx.signal });
        const info = await stanzaInfo(t, ctx.signal);
        const taken = info.backup.find((b) => !before.has(b.label)) ?? info.backup.at(-1);
        const evidence = {
          stanza: t.stanza,
          repository: t.repository,
          requested: type,
          durationMs: Math.round(result.durationMs),
          ...(taken === undefined ? {} : backupSummary(taken)),
        };
        ctx.evidence('backup', evidence);
        return {
          summary: `pgBackRest ${taken?.type ?? type} backup ${taken?.label ?? ''} of ${t.component.id}`,
          output: evidence,
        };
      },
    }),
    restore: defineAction({
      description:
        "Restore the stanza into a data directory, replaying WAL to the end of the archive or to target_time, and start a server on it when a port is given. A directory other than the placement's comes up with archiving off so it never writes into the repository.",
      params: z.strictObject({
        ...targetParams,
        data_dir: z
          .string()
          .optional()
          .describe(
            "Data directory to restore into (must be empty unless force). @default the placement's data_dir (its server stopped)",
          ),
        target: z.string().optional().describe('Same as data_dir; the name restore verifications pass.'),
        target_time: z
          .union([z.string(), z.date()])
          .optional()
          .transform((value, context) => {
            if (value === undefined) return undefined;
            const date = new Date(value);
            if (Number.isNaN(date.getTime()))
              context.addIssue({
                code: 'custom',
                message: 'not a timestamp; write it like 2026-03-01T12:00:00Z',
              });
            return date;
          })
          .describe('Point in time to recover to (--type=time). @default the end of the WAL archive'),
        before: z
          .literal('last-corruption')
          .optional()
          .describe(
            'Stop just before the bad transaction of the last corruption journaled for the component (--type=xid --target-exclusive), from the newest backup that ended before it.',
          ),
        set: z
          .string()
          .optional()
          .describe('Backup label to restore from. @default the newest that fits the target'),
        port: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .optional()
          .describe('Start a server on the restored directory on this port and wait for recovery to finish.'),
        force: z
          .boolean()
          .optional()
          .describe('Empty a data directory that holds files first. @default false'),
      }),
      idempotent: false,
      evidence: ['restore'],
      async run(params, ctx) {
        const t = target(params, ctx);
        const into = params.data_dir ?? params.target;
        const dataDir =
          into === undefined ? t.dataDir : isAbsolute(into) ? into : join(ctx.plan.baseDir, into);
        const scratch = dataDir !== t.dataDir;
        // the placement's own directory is restored with --delta (pgBackRest keeps what matches and
        // refuses while the server runs); a scratch directory must be empty or emptied
        if (scratch) await prepareDataDir(t.executor, dataDir, params.force === true, t.component.id);
        const args = [`--pg1-path=${dataDir}`];
        const corruption =
          params.before === undefined ? undefined : lastCorruption(ctx.stateDir, t.component.id);
        let set = params.set;
        if (corruption !== undefined) {
          // the damaged server usually still runs: pgbackrest check switches its WAL and waits until the
          // segment is in the repository, so the bad transaction's commit (where recovery stops) is there
          await pgbackrest(t, 'check', [], { signal: ctx.signal }).catch((error: unknown) =>
            ctx.log.warn({ error: String(error) }, 'could not archive the damaged server current WAL'),
          );
          args.push(
            '--type=xid',
            `--target=${corruption.xid}`,
            '--target-exclusive',
            '--target-action=promote',
          );
          // pgBackRest picks a backup by time only for time targets: name one that ended before the damage
          const before = Date.parse(corruption.before) / 1000;
          set ??= (await stanzaInfo(t, ctx.signal)).backup
            .filter((b) => b.timestamp.stop < before)
            .at(-1)?.label;
          if (set === undefined) {
            throw new DrctlError(
              'DRCTL_PG_NO_BACKUP',
              `no pgBackRest backup of ${t.component.id} ended before the corruption at ${corruption.before}`,
              { hint: 'a restore to before the damage needs a backup taken before it' },
            );
          }
        } else if (params.target_time !== undefined)
          args.push('--type=time', `--target=${targetTime(params.target_time)}`, '--target-action=promote');
        if (set !== undefined) args.push(`--set=${set}`);
        if (scratch) args.push('--archive-mode=off');
        else if (params.force === true) args.push('--delta');
        const started = performance.now();
        const result = await pgbackrest(t, 'restore', args, { signal: ctx.signal });
        const evidence: Record<string, unknown> = {
          stanza: t.stanza,
          repository: t.repository,
          dataDir,
          targetTime: params.target_time?.toISOString(),
          ...(corruption === undefined
            ? {}
            : { beforeXid: corruption.xid, corruption: describeCorruption(corruption) }),
          set,
          archiving: !scratch,
          restoreMs: Math.round(result.durationMs),
        };
        if (params.port !== undefined) {
          const server = await startRestored(t, dataDir, params.port, serverUrl(t, params.port), ctx);
          evidence.port = params.port;
          evidence.pid = server.pid;
          evidence.recoveredInMs = Math.round(performance.now() - started);
        }
        ctx.evidence('restore', evidence);
        return {
          summary: `restored pgBackRest stanza ${t.stanza} of ${t.component.id} to ${corruption !== undefined ? `just before ${describeCorruption(corruption)}` : (params.target_time?.toISOString() ?? 'the end of the archive')} into ${dataDir}${params.port === undefined ? '' : `, serving on port ${params.port}`}`,
          output: evidence,
        };
      },
    }),
    expire: defineAction({
      description:
        "Expire backups (and the WAL only they need) older than the policy's retention: every full backup within its longest horizon is kept.",
      params: z.strictObject({
        ...targetParams,
        keep: RetentionParams.optional().describe(
          "Override the policy's retention. @default the policy's keep",
        ),
      }),
      idempotent: true,
      evidence: ['expire'],
      async run(params, ctx) {
        const t = target(params, ctx);
        const keep = {
          ...t.policy.keep,
          ...Object.fromEntries(Object.entries(params.keep ?? {}).filter(([, v]) => v !== undefined)),
        };
        const days = retentionDays(keep);
        if (days <= 0)
          throw new DrctlError(
            PGBACKREST_ERRORS.FAILED,
            `retention of ${t.component.id} keeps nothing; refusing to expire every pgBackRest backup`,
            { hint: 'set keep.daily (or weekly, monthly, yearly) above 0' },
          );
        const before = (await stanzaInfo(t, ctx.signal)).backup;
        await pgbackrest(
          t,
          'expire',
          ['--repo1-retention-full-type=time', `--repo1-retention-full=${days}`],
          {
            signal: ctx.signal,
          },
        );
        const after = (await stanzaInfo(t, ctx.signal)).backup;
        const left = new Set(after.map((b) => b.label));
        const evidence = {
          stanza: t.stanza,
          keep,
          retentionFullDays: days,
          kept: after.map((b) => b.label),
          expired: before.filter((b) => !left.has(b.label)).map((b) => b.label),
        };
        ctx.evidence('expire', evidence);
        return {
          summary: `expired ${evidence.expired.length} pgBackRest backups of ${t.component.id}, kept ${evidence.kept.length} (full backups within ${days} days)`,
          output: evidence,
        };
      },
    }),
    info: defineAction({
      description: "The stanza's backups and WAL archive range, from info --output=json.",
      params: z.strictObject({ ...targetParams }),
      idempotent: true,
      evidence: ['info'],
      async run(params, ctx) {
        const t = target(params, ctx);
        const info = await stanzaInfo(t, ctx.signal);
        const evidence = {
          stanza: t.stanza,
          status: info.status,
          cipher: info.cipher,
          archive: info.archive.map((a) => ({ id: a.id, min: a.min, max: a.max })),
          backups: info.backup.map(backupSummary),
        };
        ctx.evidence('info', evidence);
        return {
          summary: `${info.backup.length} pgBackRest backups of ${t.component.id} in stanza ${t.stanza}`,
          output: evidence,
        };
      },
    }),
  },
  checks: {},
  readiness: pgbackrestReadiness,
  // pgbackrest runs on the database's host: the repository and the data directory are paths there
  hostNeeds: (component, plan) =>
    component.backups.some((b) => b.engine === 'pgbackrest')
      ? component.placement.flatMap((placement) => {
          const dataDir = placement.fields['data_dir'];
          const repositories = component.backups.flatMap((b) =>
            b.engine === 'pgbackrest' && b.repository !== undefined ? [planPath(plan, b.repository)] : [],
          );
          return placement.host === undefined
            ? []
            : [
                {
                  host: placement.host,
                  tools: ['pgbackrest'],
                  paths: [...(typeof dataDir === 'string' ? [planPath(plan, dataDir)] : []), ...repositories],
                },
              ];
        })
      : [],
  preflight: {
    stanza_create: [pgbackrestInstalled],
    check: [pgbackrestInstalled, stanzaReadable(false)],
    backup: [pgbackrestInstalled, stanzaReadable(false)],
    restore: [pgbackrestInstalled, stanzaReadable(true)],
    expire: [pgbackrestInstalled, stanzaReadable(false)],
    info: [pgbackrestInstalled, stanzaReadable(false)],
  },
} satisfies Provider;

/**
 * Newest backup age against the policy's interval, and WAL archive continuity: the archive reaches from the
 * newest backup's first segment on without a gap, and the server's archiver has no failure since its last
 * success (when the server answers).
 */
async function pgbackrestReadiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
  const facts: ReadinessFact[] = [];
  const workload = ctx.plan.workloads.find((w) => w.id === component.workload);
  const rpo = workload?.rpoMs ?? 0;
  const now = Date.now();
  for (const policy of component.backups.filter((b) => b.engine === 'pgbackrest')) {
    const base = { component: component.id, site: policy.to };
    let t: PgbackrestTarget;
    let info: StanzaInfo;
    try {
      t = pgbackrestTarget(ctx.plan, component.id, { to: policy.to, stateDir: ctx.stateDir });
      info = await stanzaInfo(t, ctx.signal);
    } catch (error) {
      const code = error instanceof DrctlError ? `${error.code}: ` : '';
      const message = `${code}${error instanceof Error ? error.message : String(error)}`;
      facts.push({ ...base, name: 'backup-age', ok: false, limit: policy.everyMs, message });
      facts.push({ ...base, name: 'wal-archive', ok: false, limit: rpo, message });
      continue;
    }
    const newest = info.backup.filter((b) => b.error !== true).at(-1);
    if (newest === undefined) {
      facts.push({
        ...base,
        name: 'backup-age',
        ok: false,
        limit: policy.everyMs,
        message: `no pgBackRest backup of ${component.id} in stanza ${t.stanza} yet`,
      });
    } else {
      const age = now - newest.timestamp.stop * 1000;
      facts.push({
        ...base,
        name: 'backup-age',
        ok: age <= policy.everyMs,
        value: age,
        limit: policy.everyMs,
        message: `newest pgBackRest backup ${newest.label} (${newest.type}) is ${formatDuration(age)} old; one is due every ${formatDuration(policy.everyMs)}`,
      });
    }
    facts.push(await walFact(t, info, newest, rpo, ctx));
  }
  return facts;
}

async function walFact(
  t: PgbackrestTarget,
  info: StanzaInfo,
  newest: BackupSet | undefined,
  rpo: number,
  ctx: ActionContext,
): Promise<ReadinessFact> {
  const base = { component: t.component.id, site: t.policy.to, name: 'wal-archive', limit: rpo };
  const archive = info.archive.at(-1);
  if (archive?.max == null || newest?.archive.start == null)
    return {
      ...base,
      ok: false,
      message: `the pgBackRest archive of stanza ${t.stanza} holds no WAL after a backup yet`,
    };
  const gap = await walGap(t, archive.id, newest.archive.start, archive.max);
  if (gap !== undefined)
    return {
      ...base,
      ok: false,
      value: gap,
      message: `WAL segment ${gap} is missing from the pgBackRest archive: no point in time after it can be recovered`,
    };
  // the server's own view: how long since it last archived, and whether archiving fails now
  const stats = await withClient({ component: t.component.id, site: t.site }, serverUrl(t), (client) =>
    one<{ last: Date | null; failed: Date | null; lastWal: string | null }>(
      client,
      'select last_archived_time as last, last_failed_time as failed, last_archived_wal as "lastWal" from pg_stat_archiver',
    ),
  ).catch(() => undefined);
  if (stats === undefined)
    return {
      ...base,
      ok: true,
      value: archive.max,
      message: `WAL archived without a gap from ${newest.archive.start} to ${archive.max} (server not reachable for its archiver status)`,
    };
  const last = stats.last?.getTime();
  const failing = stats.failed !== null && (last === undefined || stats.failed.getTime() > last);
  if (failing)
    return {
      ...base,
      ok: false,
      value: archive.max,
      message: `the server's archive_command fails (last failure ${stats.failed?.toISOString()}); WAL since ${stats.lastWal ?? 'the start'} is not in the archive`,
    };
  void ctx;
  return {
    ...base,
    ok: true,
    value: archive.max,
    message: `WAL archived without a gap from ${newest.archive.start} to ${archive.max}${last === undefined ? '' : `, last segment ${formatDuration(Date.now() - last)} ago`}`,
  };
}

/**
 * The first segment missing between `from` and `to` in a local repository's archive (segments are
 * TTTTTTTTXXXXXXXXYYYYYYYY with 256 16 MB segments per XXXXXXXX). Only the newest timeline is followed.
 */
async function walGap(
  t: PgbackrestTarget,
  archiveId: string,
  from: string,
  to: string,
): Promise<string | undefined> {
  const root = join(t.repository, 'archive', t.stanza, archiveId);
  // listed where pgbackrest runs: the repository is a path there
  const listed = await t.executor.run(`cd ${shellQuote(root)} && find . -mindepth 2 -maxdepth 2 -type f`, {
    outputLimit: 1024 ** 3,
  });
  // not a repository drctl can list; info's range is all there is
  if (listed.exitCode !== 0) return undefined;
  const present = new Set<string>();
  for (const line of listed.stdout.split('\n')) {
    const [, dir = '', file = ''] = line.split('/');
    if (/^[0-9A-F]{16}$/.test(dir)) present.add(file.slice(0, 24));
  }
  const timeline = to.slice(0, 8);
  let log = parseInt(from.slice(8, 16), 16);
  let seg = parseInt(from.slice(16, 24), 16);
  const endLog = parseInt(to.slice(8, 16), 16);
  const endSeg = parseInt(to.slice(16, 24), 16);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  while (log < endLog || (log === endLog && seg <= endSeg)) {
    const name = `${timeline}${hex(log)}${hex(seg)}`;
    // a segment of the backup's own timeline also counts before a timeline switch
    if (!present.has(name) && !present.has(`${from.slice(0, 8)}${hex(log)}${hex(seg)}`)) return name;
    seg += 1;
    if (seg > 0xff) {
      seg = 0;
      log += 1;
    }
  }
  return undefined;
}
