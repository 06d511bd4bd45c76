/**
 * Restore verifications: a plan's `verifications[]` entry restores a backup (the newest by default) into
 * a scratch directory or a named target, never the production placement, and proves it good: the
 * engine's checksums, files that must be there, queries with expected answers, an HTTP probe of a
 * service started on the restored data. Each result is a store document (collection `verifications`);
 * readiness reads the newest per verification. `scheduleJobs` turns a plan's `schedules[]` into jobs for
 * the shared scheduler.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { DrctlError } from '../errors.ts';
import type { BackupEngine, BackupSchedule, Plan, Verification } from '../plan/model.ts';
import { formatDuration } from '../plan/duration.ts';
import { findProvider, providerForKind } from '../providers/index.ts';
import type { ActionContext, BackupSupport, Provider, ReadinessFact } from '../providers/provider.ts';
import { planPath } from '../backup/resolve.ts';
import { withClient } from '../pg/client.ts';
import { stopDataDir } from '../pg/server.ts';
import type { ScheduledJob } from '../schedule/index.ts';
import type { RunStore } from '../store/store.ts';
import { freePort } from '../system/ports.ts';
import { signalGroup } from '../system/processes.ts';

export const VERIFICATIONS_COLLECTION = 'verifications';

export interface Proof {
  name: string;
  ok: boolean;
  message: string;
}

export interface VerificationResult {
  workload: string;
  verification: string;
  component: string;
  to: string | undefined;
  engine: BackupEngine;
  target: string;
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  reason?: string;
  code?: string;
  restoreMs?: number;
  proofs: Proof[];
  evidence: Record<string, unknown>;
  scheduled?: { dueAt: string; late: boolean };
}

export interface VerifyOptions {
  store: RunStore;
  stateDir: string;
  log?: Logger;
  signal?: AbortSignal;
  scheduled?: { dueAt: Date; late: boolean };
}

export function findVerification(plan: Plan, workload: string, id: string | undefined): Verification {
  const w = plan.workloads.find((candidate) => candidate.id === workload);
  if (w === undefined)
    throw new DrctlError('DRCTL_VERIFY_UNKNOWN', `workload ${workload} is not in the plan`, {
      hint: `use one of: ${plan.workloads.map((x) => x.id).join(', ')}`,
      exitCode: 2,
    });
  const all = w.verifications ?? [];
  const found = id === undefined ? all[0] : all.find((v) => v.id === id);
  if (found === undefined)
    throw new DrctlError(
      'DRCTL_VERIFY_UNKNOWN',
      id === undefined
        ? `workload ${workload} has no verifications`
        : `workload ${workload} has no verification ${id}`,
      {
        hint:
          all.length === 0
            ? 'add verifications[] to the workload'
            : `use one of: ${all.map((v) => v.id).join(', ')}`,
        exitCode: 2,
      },
    );
  return found;
}

/**
 * The provider running the backups a verification restores, and what it declares of its engine
 * (`Provider.backup`): which action backs up, prunes, checks and restores.
 */
function engineOf(
  plan: Plan,
  verification: Verification,
): { provider: Provider; engine: BackupEngine; support: BackupSupport | undefined } {
  const component = plan.workloads.flatMap((w) => w.components).find((c) => c.id === verification.component)!;
  const policy = component.backups.find((b) => b.to === verification.to) ?? component.backups[0];
  const engine = policy?.engine ?? 'drctl';
  const provider = engine === 'drctl' ? providerForKind(component.kind) : findProvider(engine);
  if (provider === undefined)
    throw new DrctlError('DRCTL_VERIFY_ENGINE', `no provider restores ${engine} backups of ${component.id}`, {
      hint: 'use engine restic, or a component kind with a backup provider (files, sqlite)',
    });
  return { provider, engine, support: provider.backup };
}

/** Runs one verification now and keeps its result in the store; a failed proof is a result, not a throw. */
export async function runVerification(
  plan: Plan,
  verification: Verification,
  options: VerifyOptions,
): Promise<VerificationResult> {
  const log = options.log ?? pino({ level: 'silent' });
  const started = new Date();
  const evidence: Record<string, unknown> = {};
  const proofs: Proof[] = [];
  const timeout = AbortSignal.timeout(verification.timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  const ctx: ActionContext = {
    signal,
    log,
    plan,
    stateDir: options.stateDir,
    evidence: (name, value) => void (evidence[name] = value),
  };
  const { provider, engine, support } = engineOf(plan, verification);
  // a scratch PostgreSQL cluster is a scratch directory with a server on it for the proofs
  const postgres = verification.restoreTo.kind === 'postgres';
  const scratch = verification.restoreTo.kind === 'scratch' || postgres;
  const target = restoreTarget(plan, verification, options.stateDir, started);
  const port = postgres ? await freePort() : undefined;
  const result: VerificationResult = {
    workload: verification.workload,
    verification: verification.id,
    component: verification.component,
    to: verification.to,
    engine,
    target,
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    passed: false,
    proofs,
    evidence,
    ...(options.scheduled === undefined
      ? {}
      : { scheduled: { dueAt: options.scheduled.dueAt.toISOString(), late: options.scheduled.late } }),
  };
  try {
    const restore = support === undefined ? undefined : provider.actions[support.actions.restore];
    if (support === undefined || restore === undefined)
      throw new DrctlError(
        'DRCTL_VERIFY_ENGINE',
        `${provider.name} has no ${support?.actions.restore ?? 'restore'} action`,
      );
    const params: Record<string, unknown> = {
      component: verification.component,
      target,
      force: verification.clear,
    };
    if (verification.to !== undefined) params.to = verification.to;
    if (verification.snapshot !== undefined) params[support.snapshotParam] = verification.snapshot;
    if (port !== undefined) params.port = port;
    const t0 = performance.now();
    const restored = await restore.run(restore.params.parse(params), ctx);
    result.restoreMs = Math.round(performance.now() - t0);
    proofs.push({ name: 'restore', ok: true, message: restored.summary });
    if (verification.prove.checksums)
      proofs.push(
        ...(await checksumProofs(provider, support.actions.check, verification, restored.output, ctx)),
      );
    for (const file of verification.prove.files)
      proofs.push({
        name: `file ${file}`,
        ok: existsSync(join(target, file)),
        message: existsSync(join(target, file)) ? `${file} is there` : `${file} is missing from the restore`,
      });
    const serverUrl =
      port === undefined
        ? undefined
        : support.scratchServerUrl?.(
            plan,
            verification.component,
            { to: verification.to, stateDir: options.stateDir },
            port,
          );
    for (const query of verification.prove.queries)
      proofs.push(
        query.database === undefined
          ? await serverQueryProof(serverUrl, query, verification.component)
          : queryProof(target, query.database, query),
      );
    if (verification.prove.http !== undefined)
      proofs.push(await httpProof(target, verification.prove.http, signal, port));
    for (const reference of verification.prove.references ?? [])
      proofs.push(
        await referenceProof(plan, verification, reference, target, options.stateDir, started, ctx),
      );
    const failed = proofs.find((p) => !p.ok);
    result.passed = failed === undefined;
    if (failed !== undefined) result.reason = `${failed.name}: ${failed.message}`;
  } catch (error) {
    result.passed = false;
    result.reason = timeout.aborted
      ? `did not finish within ${formatDuration(verification.timeoutMs)}`
      : error instanceof Error
        ? error.message
        : String(error);
    if (error instanceof DrctlError) result.code = error.code;
  } finally {
    if (postgres) await stopDataDir(target, 10_000, 'immediate').catch(() => undefined);
    if (scratch) rmSync(target, { recursive: true, force: true });
  }
  result.finishedAt = new Date().toISOString();
  await options.store.putDocument(
    VERIFICATIONS_COLLECTION,
    `${verification.workload}.${verification.id}.${result.startedAt}`,
    { ...result },
  );
  log.info(
    { verification: verification.id, passed: result.passed, reason: result.reason },
    'verification finished',
  );
  return result;
}

function restoreTarget(plan: Plan, verification: Verification, stateDir: string, at: Date): string {
  const component = plan.workloads.flatMap((w) => w.components).find((c) => c.id === verification.component)!;
  const to = verification.restoreTo;
  let target: string;
  if (to.kind === 'path') target = planPath(plan, to.path);
  else if (to.kind === 'site') {
    const path = component.placement.find((p) => p.site === to.site)?.path;
    if (path === undefined)
      throw new DrctlError(
        'DRCTL_VERIFY_TARGET',
        `component ${component.id} has no placement path at ${to.site}`,
      );
    target = planPath(plan, path);
  } else target = join(resolve(stateDir), 'verify', verification.id, at.toISOString().replace(/[:.]/g, '-'));
  // the one rule a verification never breaks: production data is not written
  for (const placement of component.placement)
    if (!placement.standby && placement.path !== undefined && planPath(plan, placement.path) === target)
      throw new DrctlError(
        'DRCTL_VERIFY_PRODUCTION',
        `verification ${verification.id} would restore over the production placement of ${component.id} at ${placement.site}`,
        {
          hint: 'restore into a scratch directory or a standby placement',
        },
      );
  return target;
}

async function checksumProofs(
  provider: Provider,
  checkName: string,
  verification: Verification,
  restored: Record<string, unknown> | undefined,
  ctx: ActionContext,
): Promise<Proof[]> {
  const proofs: Proof[] = [];
  const manifest = restored?.manifest as { files: number; mismatched: string[] } | undefined;
  if (manifest !== undefined)
    proofs.push({
      name: 'manifest',
      ok: manifest.mismatched.length === 0 && restored?.verified !== false,
      message:
        manifest.mismatched.length === 0
          ? `all ${manifest.files} files match the snapshot's listing and were verified after restore`
          : `${manifest.mismatched.length} files differ from the snapshot: ${manifest.mismatched.slice(0, 5).join(', ')}`,
    });
  const check = provider.actions[checkName];
  if (check !== undefined) {
    const params: Record<string, unknown> = { component: verification.component };
    if (verification.to !== undefined) params.to = verification.to;
    try {
      const done = await check.run(check.params.parse(params), ctx);
      proofs.push({ name: 'checksums', ok: true, message: done.summary });
    } catch (error) {
      proofs.push({
        name: 'checksums',
        ok: false,
        message: error instanceof DrctlError ? `${error.code}: ${error.message}` : String(error),
      });
    }
  }
  return proofs;
}

type Reference = NonNullable<Verification['prove']['references']>[number];

/**
 * A reference between two stores (seed 003: a row pointing at a blob that was never backed up): the paths
 * a query on the restored database lists must all be in the newest backup of the files component, restored
 * beside it into a scratch directory. Missing ones are dangling; the proof counts and names them.
 */
async function referenceProof(
  plan: Plan,
  verification: Verification,
  reference: Reference,
  target: string,
  stateDir: string,
  at: Date,
  ctx: ActionContext,
): Promise<Proof> {
  const name = `references ${verification.component} → ${reference.files}`;
  const files = plan.workloads.flatMap((w) => w.components).find((c) => c.id === reference.files);
  if (files === undefined)
    return {
      name,
      ok: false,
      message: `the plan has no component ${reference.files} to check references in`,
    };
  let paths: string[];
  try {
    // a SQLite restore writes one file (the target itself); other engines restore a directory
    const file = statSync(target).isFile() ? target : join(target, reference.database);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      paths = (db.prepare(reference.sql).raw().all() as unknown[][]).map((row) => String(row[0] ?? ''));
    } finally {
      db.close();
    }
  } catch (error) {
    return {
      name,
      ok: false,
      message: `the reference query failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const { provider, support } = engineOf(plan, { ...verification, component: files.id, to: undefined });
  const restore = support === undefined ? undefined : provider.actions[support.actions.restore];
  if (restore === undefined)
    return { name, ok: false, message: `${provider.name} cannot restore ${files.id}` };
  const scratch = join(
    resolve(stateDir),
    'verify',
    verification.id,
    `${at.toISOString().replace(/[:.]/g, '-')}-${files.id}`,
  );
  try {
    await restore.run(restore.params.parse({ component: files.id, target: scratch }), ctx);
    const dangling = paths.filter(
      (path) => path === '' || !existsSync(join(scratch, path.replace(/^\/+/, ''))),
    );
    ctx.evidence(`references ${reference.files}`, {
      component: verification.component,
      files: files.id,
      referenced: paths.length,
      dangling: dangling.length,
      missing: dangling.slice(0, 100),
    });
    return {
      name,
      ok: dangling.length === 0,
      message:
        dangling.length === 0
          ? `all ${paths.length} paths ${verification.component} references are in the restored ${files.id}`
          : `${dangling.length} of ${paths.length} paths ${verification.component} references are missing from the restored ${files.id} (dangling): ${dangling.slice(0, 5).join(', ')}${dangling.length > 5 ? ', …' : ''}`,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

type Query = Verification['prove']['queries'][number];

/** A query on a SQLite file inside the restored directory. */
function queryProof(target: string, database: string, query: Query): Proof {
  try {
    const db = new Database(join(target, database), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare(query.sql).raw().get() as unknown[] | undefined;
      return answerProof(query, row?.[0]);
    } finally {
      db.close();
    }
  } catch (error) {
    return failedQuery(query, error);
  }
}

/** A query on the scratch PostgreSQL cluster the backup was restored to. */
async function serverQueryProof(url: string | undefined, query: Query, component: string): Promise<Proof> {
  // the plan refuses such a query without a postgres target; kept for a plan built in code
  if (url === undefined)
    return failedQuery(query, 'a query without database needs restore_to: { postgres: true }');
  try {
    const row = await withClient({ component, site: 'scratch restore' }, url, async (client) => {
      const answer = await client.query<unknown[]>({ text: query.sql, rowMode: 'array' });
      return answer.rows[0];
    });
    return answerProof(query, row?.[0]);
  } catch (error) {
    return failedQuery(query, error);
  }
}

function answerProof(query: Query, value: unknown): Proof {
  const ok = JSON.stringify(value) === JSON.stringify(query.expect) || String(value) === String(query.expect);
  return {
    name: `query ${query.sql}`,
    ok,
    message: ok
      ? `answered ${JSON.stringify(value)}`
      : `answered ${JSON.stringify(value)}, expected ${JSON.stringify(query.expect)}`,
  };
}

function failedQuery(query: Query, error: unknown): Proof {
  return {
    name: `query ${query.sql}`,
    ok: false,
    message: error instanceof Error ? error.message : String(error),
  };
}

async function httpProof(
  target: string,
  http: NonNullable<Verification['prove']['http']>,
  signal: AbortSignal,
  pgPort: number | undefined,
): Promise<Proof> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}${http.path}`;
  const child = spawn('sh', ['-c', http.start], {
    cwd: target,
    env: {
      ...process.env,
      RESTORE_DIR: target,
      PORT: String(port),
      // a service on the restored database reaches the scratch cluster like libpq's tools do
      ...(pgPort === undefined ? {} : { PGHOST: '127.0.0.1', PGPORT: String(pgPort) }),
    },
    detached: true,
    stdio: 'ignore',
  });
  const name = `http ${http.path}`;
  const deadline = Date.now() + http.readyWithinMs;
  let last = 'no answer';
  try {
    while (Date.now() < deadline && !signal.aborted) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        const body = await response.text();
        if (
          response.status === http.status &&
          (http.bodyContains === undefined || body.includes(http.bodyContains))
        )
          return {
            name,
            ok: true,
            message: `${url} answered ${response.status}${http.bodyContains === undefined ? '' : ` with "${http.bodyContains}"`}`,
          };
        last = `answered ${response.status}${http.bodyContains !== undefined && !body.includes(http.bodyContains) ? ` without "${http.bodyContains}"` : ''}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { name, ok: false, message: `${url} ${last} within ${formatDuration(http.readyWithinMs)}` };
  } finally {
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
  }
}

/** The newest result of each verification of the plan. */
export async function latestResults(store: RunStore, plan: Plan): Promise<Map<string, VerificationResult>> {
  const latest = new Map<string, VerificationResult>();
  for (const doc of await store.listDocuments(VERIFICATIONS_COLLECTION, { limit: 500 })) {
    const result = doc.data as unknown as VerificationResult;
    const key = `${result.workload}.${result.verification}`;
    const seen = latest.get(key);
    if (seen === undefined || seen.startedAt < result.startedAt) latest.set(key, result);
  }
  const known = new Set(plan.workloads.flatMap((w) => (w.verifications ?? []).map((v) => `${w.id}.${v.id}`)));
  for (const key of latest.keys()) if (!known.has(key)) latest.delete(key);
  return latest;
}

/** "Last verified good" per verification against verify_every, and the measured restore time against the RTO. */
export async function verificationFacts(
  store: RunStore,
  plan: Plan,
  now = Date.now(),
): Promise<ReadinessFact[]> {
  const latest = await latestResults(store, plan);
  const facts: ReadinessFact[] = [];
  for (const workload of plan.workloads)
    for (const v of workload.verifications ?? []) {
      const result = latest.get(`${workload.id}.${v.id}`);
      const base = { component: v.component, site: v.to, limit: v.verifyEveryMs };
      if (result === undefined) {
        facts.push({
          ...base,
          name: 'verified-good',
          ok: false,
          message: `verification ${v.id} has never run`,
        });
        continue;
      }
      const age = now - Date.parse(result.finishedAt);
      facts.push({
        ...base,
        name: 'verified-good',
        ok: result.passed && age <= v.verifyEveryMs,
        value: age,
        message: result.passed
          ? `verification ${v.id}: last verified good ${formatDuration(age)} ago; required every ${formatDuration(v.verifyEveryMs)}`
          : `verification ${v.id} failed ${formatDuration(age)} ago: ${result.reason ?? 'unknown'}`,
      });
      if (result.restoreMs !== undefined)
        facts.push({
          component: v.component,
          site: v.to,
          name: 'restore-time',
          ok: result.restoreMs <= workload.rtoMs,
          value: result.restoreMs,
          limit: workload.rtoMs,
          message: `verification ${v.id} restored in ${formatDuration(result.restoreMs)}; RTO ${formatDuration(workload.rtoMs)}`,
        });
    }
  return facts;
}

/** The plan's schedules as jobs for the shared scheduler: backups, prunes and checks call the engine's actions. */
export function scheduleJobs(plan: Plan, options: Omit<VerifyOptions, 'scheduled'>): ScheduledJob[] {
  const log = options.log ?? pino({ level: 'silent' });
  return plan.workloads.flatMap((w) =>
    (w.schedules ?? []).map((schedule): ScheduledJob => ({
      spec: { id: `${w.id}.${schedule.id}`, ...specOf(schedule) },
      run: async (occurrence) => {
        if (schedule.task === 'verify') {
          const result = await runVerification(plan, findVerification(plan, w.id, schedule.target), {
            ...options,
            scheduled: occurrence,
          });
          if (!result.passed)
            throw new DrctlError(
              'DRCTL_VERIFY_FAILED',
              `verification ${schedule.target} failed: ${result.reason ?? ''}`,
            );
          return;
        }
        const fake: Verification = {
          id: schedule.id,
          workload: w.id,
          component: schedule.target,
          to: schedule.to,
        } as Verification;
        const { provider, support } = engineOf(plan, fake);
        const action = support === undefined ? undefined : provider.actions[support.actions[schedule.task]];
        if (support === undefined || action === undefined)
          throw new DrctlError('DRCTL_VERIFY_ENGINE', `${provider.name} cannot ${schedule.task}`);
        const params: Record<string, unknown> = { component: schedule.target };
        if (schedule.to !== undefined) params.to = schedule.to;
        // full/diff/incr for an engine with kinds of backup; the others have one
        if (schedule.type !== undefined && support.typeParam !== undefined && schedule.task === 'backup')
          params[support.typeParam] = schedule.type;
        const ctx: ActionContext = {
          signal: options.signal ?? new AbortController().signal,
          log,
          plan,
          stateDir: options.stateDir,
          evidence: () => undefined,
        };
        const done = await action.run(action.params.parse(params), ctx);
        log.info({ schedule: schedule.id, late: occurrence.late }, done.summary);
      },
    })),
  );
}

function specOf(schedule: BackupSchedule): { cron?: string; timezone?: string; everyMs?: number } {
  if (schedule.cron !== undefined) return { cron: schedule.cron, timezone: schedule.timezone ?? 'UTC' };
  return { everyMs: schedule.everyMs ?? 86_400_000 };
}
