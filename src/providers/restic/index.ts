/**
 * The restic provider: drives the restic repositories teams already have. A component's `backups[]`
 * entry with `engine: restic` names the repository (a path, or a rest:/s3:/... URL) and where its
 * password comes from. Actions back up a placement, restore a snapshot, check the repository (reading a
 * subset of the data), apply the plan's retention with `forget --prune`, and list snapshots; evidence is
 * restic's own `--json` output. See docs/providers/restic.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import type { Component } from '../../plan/model.ts';
import { formatDuration } from '../../plan/duration.ts';
import { Id } from '../../plan/schema.ts';
import { findPlacement, planPath, RetentionParams } from '../../backup/resolve.ts';
import { BACKUP_ERRORS } from '../../backup/errors.ts';
import { defineAction } from '../provider.ts';
import type { ActionContext, PreflightCheck, Provider, ReadinessFact } from '../provider.ts';
import { emptyDirectory, runChecked, shellQuote } from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import {
  RESTIC_ERRORS,
  ensureRepository,
  jsonLines,
  listSnapshots,
  repositoryExists,
  repositoryPath,
  restic,
  resticTarget,
} from './restic.ts';
import type { ResticTarget, Snapshot } from './restic.ts';

export { RESTIC_ERRORS, resticTarget, listSnapshots } from './restic.ts';

const targetParams = {
  component: Id.describe('The component whose restic backups this is about.'),
  to: Id.optional().describe("The backup policy, by its site. @default the component's first restic policy"),
  host: Id.optional().describe(
    "Host of the plan restic runs on. @default the host of the placement the action is about (the primary's), else this machine",
  ),
};

/** The policy an action is about, run where its params say. */
function targetOf(
  params: {
    component: string;
    to?: string | undefined;
    host?: string | undefined;
    site?: string | undefined;
  },
  ctx: { plan: ActionContext['plan']; stateDir: string },
): ResticTarget {
  return resticTarget(ctx.plan, params.component, params.to, ctx.stateDir, {
    site: params.site,
    host: params.host,
  });
}

const TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?$/;

// --------------------------------------------------------------------------------------- preflight

/** restic missing where it runs: here, or on a host. */
const MISSING = new Set<string>([RESTIC_ERRORS.MISSING, 'DRCTL_HOST_COMMAND_MISSING']);

/** `restic version` runs: the program the steps call is installed, and which version it is. */
const resticInstalled: PreflightCheck = {
  name: 'restic installed',
  kind: 'tool',
  async run(params, ctx) {
    let target: ResticTarget;
    try {
      target = targetOf(params as { component: string }, ctx);
    } catch {
      return undefined; // a policy or password that is missing is the other check's finding
    }
    try {
      const { stdout } = await restic(target, ['version'], { signal: ctx.signal });
      const where = target.executor.host === undefined ? '' : ` on ${target.executor.where}`;
      return { ok: true, message: `${stdout.trim().split('\n')[0] ?? 'restic answers'}${where}` };
    } catch (error) {
      if (error instanceof DrctlError && MISSING.has(error.code))
        return {
          ok: false,
          message: `${error.message}; ${error.hint ?? ''}`,
          observed: { code: error.code },
        };
      throw error;
    }
  },
};

/**
 * The repository is reachable and opens with its password: `restic cat config` reads the one small file
 * every repository has, decrypted with the key the password unlocks, and changes nothing. A local
 * repository the first backup will create is fine for a backup step, not for the others.
 */
function repositoryOpens(action: string): PreflightCheck {
  return {
    name: 'repository reachable and its password accepted',
    kind: 'credentials',
    async run(params, ctx) {
      const target = targetOf(params as { component: string }, ctx);
      const where = `the restic repository of ${target.component.id} at ${target.policy.to}`;
      try {
        await restic(target, ['cat', 'config'], { signal: ctx.signal });
        return { ok: true, message: `${where} opens with its password (${target.repository})` };
      } catch (error) {
        if (!(error instanceof DrctlError)) throw error;
        if (MISSING.has(error.code)) return undefined; // reported once, by restic installed
        if (
          error.code === RESTIC_ERRORS.UNREACHABLE &&
          action === 'backup' &&
          target.local &&
          !(await repositoryExists(target))
        )
          return { ok: true, message: `${where} does not exist yet: the first backup creates it` };
        return { ok: false, message: error.message, observed: { code: error.code } };
      }
    },
  };
}

export const resticProvider = {
  name: 'restic',
  description:
    'Backups to restic repositories: backup, restore, check, retention with forget --prune, snapshots.',
  kinds: [],
  backup: {
    actions: { backup: 'backup', prune: 'forget', check: 'check', restore: 'restore' },
    snapshotParam: 'snapshot',
  },
  actions: {
    init: defineAction({
      description:
        'Create the restic repository of a backup policy (a local one is created by the first backup anyway).',
      params: z.strictObject({ ...targetParams }),
      idempotent: false,
      evidence: ['repository'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        await restic(target, ['init'], { signal: ctx.signal });
        ctx.evidence('repository', { repository: target.repository });
        return { summary: `created restic repository ${target.repository}` };
      },
    }),
    backup: defineAction({
      description:
        "Back up the component's placement (or `source`) to its restic repository, tagged with the component.",
      params: z.strictObject({
        ...targetParams,
        site: Id.optional().describe('Site whose placement is backed up. @default the primary placement'),
        source: z.string().optional().describe('Directory to back up, overriding the placement path.'),
        time: z
          .string()
          .regex(TIME)
          .optional()
          .describe("The snapshot's time (UTC), for importing older copies. @default now"),
      }),
      idempotent: true,
      evidence: ['backup'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        const source = sourcePath(ctx, target.component, params.site, params.source);
        const created = await ensureRepository(target, ctx.signal);
        const args = ['backup', '--json', '--host', 'drctl', '--tag', target.tag];
        if (params.time !== undefined)
          args.push('--time', params.time.replace('T', ' ').replace(/(\.\d+)?Z$/, ''));
        // backing up `.` from inside the directory puts its contents at the snapshot's root, so a
        // restore lands them in any target directory, whatever the path was at the source site
        const result = await restic(target, [...args, '.'], {
          cwd: source,
          signal: ctx.signal,
          okCodes: [3],
        });
        const summary = jsonLines(result.stdout).find((line) => line.message_type === 'summary') ?? {};
        const evidence = {
          repository: target.repository,
          source,
          createdRepository: created,
          durationMs: Math.round(result.durationMs),
          ...summary,
        };
        ctx.evidence('backup', evidence);
        return {
          summary: `restic snapshot ${String(summary.snapshot_id)} of ${target.component.id}: ${String(summary.total_files_processed)} files, ${String(summary.data_added)} bytes added`,
          output: evidence,
        };
      },
    }),
    restore: defineAction({
      description:
        'Restore a snapshot (the newest by default) to the placement path at a site or to `target`, verifying every restored file. Refuses a target holding data unless force.',
      params: z.strictObject({
        ...targetParams,
        site: Id.optional().describe(
          'Site whose placement path is restored into. @default the primary placement',
        ),
        snapshot: z.string().optional().describe('Snapshot id (or a prefix of it). @default the newest'),
        target: z.string().optional().describe('Directory to restore into, overriding the placement path.'),
        force: z.boolean().optional().describe('Empty a target that holds data first. @default false'),
      }),
      idempotent: true,
      evidence: ['restore'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        const into = sourcePath(ctx, target.component, params.site, params.target);
        const snapshot = await chooseSnapshot(target, params.snapshot, ctx.signal);
        await prepareTarget(target.executor, into, params.force === true, target.component.id);
        // the snapshot's listing is read while it restores: each restic call opens the repository again
        const listing = restic(target, ['ls', '--json', snapshot.id], { signal: ctx.signal });
        listing.catch(() => undefined);
        const result = await restic(target, ['restore', snapshot.id, '--target', into, '--verify'], {
          signal: ctx.signal,
        });
        const restored = await filesUnder(target.executor, into);
        const files = restored.size;
        const bytes = [...restored.values()].reduce((sum, size) => sum + size, 0);
        const manifest = compareWithListing((await listing).stdout, restored);
        const evidence = {
          repository: target.repository,
          snapshot: snapshot.id,
          snapshotTime: snapshot.time,
          target: into,
          files,
          bytes,
          durationMs: Math.round(result.durationMs),
          verified: /finished verifying/.test(result.stdout),
          manifest,
        };
        ctx.evidence('restore', evidence);
        return {
          summary: `restored restic snapshot ${snapshot.short_id} of ${target.component.id} (${files} files, ${bytes} bytes) to ${into}`,
          output: evidence,
        };
      },
    }),
    check: defineAction({
      description:
        "Check the repository's structure and read a subset of its data packs (read_data_subset, e.g. 10% or 1/5).",
      params: z.strictObject({
        ...targetParams,
        read_data_subset: z
          .string()
          .regex(/^(\d+(\.\d+)?%|\d+\/\d+|\d+[KMGT]?)$/)
          .optional()
          .describe('Which part of the data to read back and hash. @default 10%'),
      }),
      idempotent: true,
      evidence: ['check'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        const subset = params.read_data_subset ?? '10%';
        const at = new Date().toISOString();
        try {
          const result = await restic(target, ['check', `--read-data-subset=${subset}`], {
            signal: ctx.signal,
          });
          const evidence = {
            repository: target.repository,
            subset,
            ok: true,
            at,
            durationMs: Math.round(result.durationMs),
            output: result.stdout.trim().split('\n').slice(-3),
          };
          writeCheckRecord(ctx.stateDir, target, { at, ok: true, subset });
          ctx.evidence('check', evidence);
          return {
            summary: `restic repository of ${target.component.id} at ${target.policy.to} checked (${subset} of data read): no errors`,
            output: evidence,
          };
        } catch (error) {
          if (error instanceof DrctlError && error.code === RESTIC_ERRORS.CHECK_FAILED) {
            writeCheckRecord(ctx.stateDir, target, { at, ok: false, subset, reason: error.message });
            ctx.evidence('check', {
              repository: target.repository,
              subset,
              ok: false,
              at,
              reason: error.message,
              details: error.details,
            });
          }
          throw error;
        }
      },
    }),
    forget: defineAction({
      description:
        "Apply the policy's retention (keep the newest snapshot of each of the newest N days, weeks, months and years) with restic forget, and prune what no snapshot uses.",
      params: z.strictObject({
        ...targetParams,
        keep: RetentionParams.optional().describe(
          "Override the policy's retention. @default the policy's keep",
        ),
        prune: z
          .boolean()
          .optional()
          .describe('Remove the data only forgotten snapshots used. @default true'),
        dry_run: z.boolean().optional().describe('Only report what would be forgotten. @default false'),
      }),
      idempotent: true,
      evidence: ['forget'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        const keep = { ...target.policy.keep, ...definedOnly(params.keep ?? {}) };
        const args = ['forget', '--json', '--tag', target.tag, '--group-by', 'tags'];
        for (const period of ['daily', 'weekly', 'monthly', 'yearly'] as const)
          if (keep[period] > 0) args.push(`--keep-${period}`, String(keep[period]));
        if (args.length === 6)
          throw new DrctlError(
            RESTIC_ERRORS.FAILED,
            `retention of ${target.component.id} keeps nothing; refusing to forget every snapshot`,
            { hint: 'set keep.daily (or weekly, monthly, yearly) above 0' },
          );
        if (params.dry_run === true) args.push('--dry-run');
        else if (params.prune !== false) args.push('--prune');
        const result = await restic(target, args, { signal: ctx.signal });
        const groups = JSON.parse(result.stdout.split('\n').find((l) => l.startsWith('[')) ?? '[]') as {
          keep?: Snapshot[];
          remove?: Snapshot[] | null;
          reasons?: { snapshot: Snapshot; matches: string[] }[];
        }[];
        const kept = groups.flatMap((g) => g.keep ?? []).map((s) => ({ id: s.short_id, time: s.time }));
        const removed = groups.flatMap((g) => g.remove ?? []).map((s) => ({ id: s.short_id, time: s.time }));
        const reasons = groups
          .flatMap((g) => g.reasons ?? [])
          .map((r) => ({ id: r.snapshot.short_id, matches: r.matches }));
        const evidence = {
          repository: target.repository,
          keep,
          dryRun: params.dry_run === true,
          kept,
          removed,
          reasons,
        };
        ctx.evidence('forget', evidence);
        return {
          summary: `${params.dry_run === true ? 'would forget' : 'forgot'} ${removed.length} restic snapshots of ${target.component.id}, kept ${kept.length}`,
          output: evidence,
        };
      },
    }),
    snapshots: defineAction({
      description: "List the component's snapshots in its restic repository, oldest first.",
      params: z.strictObject({ ...targetParams }),
      idempotent: true,
      evidence: ['snapshots'],
      async run(params, ctx) {
        const target = targetOf(params, ctx);
        const snapshots = await listSnapshots(target, ctx.signal);
        const list = snapshots.map((s) => ({ id: s.id, short_id: s.short_id, time: s.time, paths: s.paths }));
        ctx.evidence('snapshots', { repository: target.repository, snapshots: list });
        return {
          summary: `${list.length} restic snapshots of ${target.component.id} at ${target.policy.to}`,
          output: { snapshots: list },
        };
      },
    }),
  },
  checks: {},
  readiness: resticReadiness,
  hostNeeds: (component, plan) => {
    const policies = component.backups.filter((b) => b.engine === 'restic');
    if (policies.length === 0) return [];
    const repositories = policies.flatMap((policy) => repositoryPath(plan, policy) ?? []);
    // backups run on the primary placement's host, restores on any placement's
    return component.placement.flatMap((placement) =>
      placement.host === undefined
        ? []
        : [
            {
              host: placement.host,
              tools: ['restic'],
              paths: [
                ...(placement.path === undefined ? [] : [planPath(plan, placement.path)]),
                ...repositories,
              ],
            },
          ],
    );
  },
  preflight: {
    backup: [resticInstalled, repositoryOpens('backup')],
    restore: [resticInstalled, repositoryOpens('restore')],
    check: [resticInstalled, repositoryOpens('check')],
    forget: [resticInstalled, repositoryOpens('forget')],
    snapshots: [resticInstalled, repositoryOpens('snapshots')],
  },
} satisfies Provider;

/** Newest snapshot age against the RPO and the last successful check against verify_every, per restic policy. */
async function resticReadiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
  const facts: ReadinessFact[] = [];
  const workload = ctx.plan.workloads.find((w) => w.id === component.workload);
  const rpo = workload?.rpoMs ?? 0;
  const now = Date.now();
  for (const policy of component.backups.filter((b) => b.engine === 'restic')) {
    const base = { component: component.id, site: policy.to };
    let target: ResticTarget;
    let snapshots: Snapshot[];
    try {
      target = resticTarget(ctx.plan, component.id, policy.to, ctx.stateDir);
      snapshots = await listSnapshots(target, ctx.signal);
    } catch (error) {
      const code = error instanceof DrctlError ? `${error.code}: ` : '';
      facts.push({
        ...base,
        name: 'backup-age',
        ok: false,
        limit: rpo,
        message: `${code}${error instanceof Error ? error.message : String(error)}`,
      });
      continue;
    }
    const newest = snapshots.at(-1);
    if (newest === undefined) {
      facts.push({
        ...base,
        name: 'backup-age',
        ok: false,
        limit: rpo,
        message: `no restic snapshot of ${component.id} at ${policy.to} yet`,
      });
    } else {
      const age = now - Date.parse(newest.time);
      facts.push({
        ...base,
        name: 'backup-age',
        ok: age <= rpo,
        value: age,
        limit: rpo,
        message: `newest restic snapshot ${newest.short_id} is ${formatDuration(age)} old; RPO ${formatDuration(rpo)}`,
      });
    }
    const check = readCheckRecord(ctx.stateDir, target);
    const lastOk = check?.lastOk;
    const checkAge = lastOk === undefined ? undefined : now - Date.parse(lastOk);
    const failed = check !== undefined && check.ok === false;
    facts.push({
      ...base,
      name: 'backup-checked',
      ok: !failed && checkAge !== undefined && checkAge <= policy.verifyEveryMs,
      ...(checkAge === undefined ? {} : { value: checkAge }),
      limit: policy.verifyEveryMs,
      message: failed
        ? `the last restic check failed: ${check.reason ?? 'unknown'}`
        : checkAge === undefined
          ? 'the repository has never passed restic check'
          : `last successful restic check ${formatDuration(checkAge)} ago; required every ${formatDuration(policy.verifyEveryMs)}`,
    });
  }
  return facts;
}

interface CheckRecord {
  at: string;
  ok: boolean;
  subset: string;
  reason?: string;
  /** When the repository last passed. */
  lastOk?: string;
}

function checkFile(stateDir: string, target: ResticTarget): string {
  return join(stateDir, 'restic', `${target.component.id}--${target.policy.to}.check.json`);
}

function readCheckRecord(stateDir: string, target: ResticTarget): CheckRecord | undefined {
  try {
    return JSON.parse(readFileSync(checkFile(stateDir, target), 'utf8')) as CheckRecord;
  } catch {
    return undefined;
  }
}

function writeCheckRecord(stateDir: string, target: ResticTarget, record: Omit<CheckRecord, 'lastOk'>): void {
  const file = checkFile(stateDir, target);
  const previous = readCheckRecord(stateDir, target);
  const lastOk = record.ok ? record.at : previous?.lastOk;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ ...record, ...(lastOk === undefined ? {} : { lastOk }) }));
}

function sourcePath(
  ctx: ActionContext,
  component: Component,
  site: string | undefined,
  override: string | undefined,
): string {
  if (override !== undefined) return planPath(ctx.plan, override);
  const placement = findPlacement(component, site);
  if (placement?.path === undefined)
    throw new DrctlError(
      BACKUP_ERRORS.PLACEMENT_MISSING,
      `component "${component.id}" has no placement path${site === undefined ? '' : ` at site "${site}"`}`,
      {
        hint: 'add placement.<site>.path to the component, or pass the path to the action',
        location: component.at,
      },
    );
  return planPath(ctx.plan, placement.path);
}

async function chooseSnapshot(
  target: ResticTarget,
  wanted: string | undefined,
  signal: AbortSignal,
): Promise<Snapshot> {
  const snapshots = await listSnapshots(target, signal);
  const found =
    wanted === undefined || wanted === 'latest'
      ? snapshots.at(-1)
      : snapshots.find((s) => s.id.startsWith(wanted));
  if (found === undefined)
    throw new DrctlError(
      RESTIC_ERRORS.NO_SNAPSHOT,
      wanted === undefined
        ? `no restic snapshot of "${target.component.id}" at ${target.policy.to}`
        : `no restic snapshot ${wanted} of "${target.component.id}" at ${target.policy.to}`,
      {
        hint: 'list them with restic.snapshots; take one with restic.backup',
        details: { repository: target.repository, snapshots: snapshots.map((s) => s.short_id) },
      },
    );
  return found;
}

/** A restore target must be empty, or emptied on request; never silently merged into. */
function prepareTarget(executor: Executor, dir: string, force: boolean, component: string): Promise<void> {
  return emptyDirectory(executor, dir, {
    force,
    notEmpty: (entries) =>
      new DrctlError(
        BACKUP_ERRORS.RESTORE_TARGET_NOT_EMPTY,
        `restore target ${dir} of "${component}" is not empty (${entries} entries)${executor.host === undefined ? '' : ` on ${executor.where}`}`,
        {
          hint: 'restore into an empty directory, or say force: true (clear: true in a verification) to empty it first',
          details: { target: dir },
        },
      ),
  });
}

/** Every regular file under `dir` where the executor runs, by its path inside `dir`, with its size. */
async function filesUnder(executor: Executor, dir: string): Promise<Map<string, number>> {
  const { stdout } = await runChecked(executor, `find ${shellQuote(dir)} -type f -printf '%s %P\\0'`, {
    what: `listing the restored files in ${dir}`,
    outputLimit: 1024 ** 3,
  });
  const files = new Map<string, number>();
  for (const entry of stdout.split('\0')) {
    const space = entry.indexOf(' ');
    if (space > 0) files.set(entry.slice(space + 1), Number(entry.slice(0, space)));
  }
  return files;
}

/** Every file the snapshot lists (`restic ls --json`) is in the restored tree with the size it says. */
function compareWithListing(
  stdout: string,
  restored: ReadonlyMap<string, number>,
): { files: number; mismatched: string[] } {
  const mismatched: string[] = [];
  let files = 0;
  for (const node of jsonLines(stdout)) {
    if (node.struct_type !== 'node' || node.type !== 'file') continue;
    files += 1;
    // the snapshot's root is the directory backed up (`.`): its paths start with `/`
    if (restored.get(String(node.path).replace(/^\/+/, '')) !== node.size) mismatched.push(String(node.path));
  }
  return { files, mismatched };
}

function definedOnly<T extends Record<string, number | undefined>>(value: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: number;
  };
}
