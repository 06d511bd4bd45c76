/**
 * The SQLite provider: online backups of a live database into the same repository format as the files
 * provider (so retention, listing and readiness are shared), restores, verification that re-hashes the
 * backup and then opens a restored copy for `PRAGMA integrity_check` and the plan's validation queries,
 * and `query` for `sql:` checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import type { BackupPolicy, Component, Plan } from '../../plan/model.ts';
import { defineAction } from '../provider.ts';
import type { ActionContext, Isolation, Provider } from '../provider.ts';
import { BACKUP_ERRORS, describe } from '../../backup/errors.ts';
import type { Subject } from '../../backup/errors.ts';
import {
  dataPath,
  findComponent,
  findPlacement,
  planPath,
  resolveTarget,
  targetParams,
} from '../../backup/resolve.ts';
import type { ResolvedTarget } from '../../backup/resolve.ts';
import type { Manifest } from '../../backup/manifest.ts';
import {
  backupEvidence,
  backupReadiness,
  freshCheck,
  listAction,
  pruneAction,
  repositoryHostNeeds,
  restorePreflight,
  verificationError,
} from '../files/shared.ts';

const KIND = 'sqlite';

import { SQLITE_ERRORS, integrityError } from './facts.ts';
import type { DatabaseFacts } from './facts.ts';
import { backupOnHost, hostFacts } from './on-host.ts';

export { SQLITE_ERRORS };

/**
 * Copy every page in one backup step. SQLite restarts a stepped backup whenever another connection
 * writes the source, so under a continuous writer small steps may never finish; one step reads a single
 * consistent snapshot (in WAL mode the writer carries on; in rollback mode it waits for the read lock).
 */
const ALL_PAGES = 0x7fffffff;

const require = createRequire(import.meta.url);

function openDatabase(
  path: string,
  subject: Subject,
  options: { readonly?: boolean } = {},
): Database.Database {
  // better-sqlite3 loads with the first database opened: validating a plan with SQLite components needs none
  const Sqlite = require('better-sqlite3') as typeof Database;
  try {
    const db = new Sqlite(path, {
      fileMustExist: true,
      readonly: options.readonly === true,
      timeout: 10_000,
    });
    // Opening is lazy about the header; reading the schema makes "not a database" fail here.
    db.prepare('select count(*) from sqlite_master').get();
    return db;
  } catch (error) {
    throw new DrctlError(
      SQLITE_ERRORS.OPEN_FAILED,
      `${describe(subject)}: cannot open SQLite database ${path}: ${(error as Error).message}`,
      {
        hint: "Check the component's placement path at that site: it must be an existing SQLite database file.",
        details: { path },
        cause: error,
      },
    );
  }
}

function inspect(db: Database.Database): DatabaseFacts {
  const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map(
    (row) => row.integrity_check,
  );
  const tables: Record<string, number> = {};
  const names = db
    .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
    .pluck()
    .all() as string[];
  for (const name of names) {
    tables[name] = db
      .prepare(`select count(*) from "${name.replaceAll('"', '""')}"`)
      .pluck()
      .get() as number;
  }
  return {
    integrity,
    pageSize: db.pragma('page_size', { simple: true }) as number,
    pageCount: db.pragma('page_count', { simple: true }) as number,
    tables,
  };
}

/** A query passes when its first column of the first row equals `expect`, or is truthy without one. */
function runValidation(
  db: Database.Database,
  sql: string,
  expect: unknown,
): { sql: string; ok: boolean; value: unknown; error?: string } {
  try {
    const statement = db.prepare(sql);
    const rows = statement.reader ? (statement.raw().all() as unknown[][]) : [];
    const value = rows[0]?.[0];
    const ok =
      expect === undefined
        ? Boolean(value) && value !== '0' && value !== 'false'
        : String(value) === String(expect);
    return { sql, ok, value };
  } catch (error) {
    return { sql, ok: false, value: undefined, error: (error as Error).message };
  }
}

/** The plan's `sql:` checks aimed at this component: what a restored copy must also satisfy. */
function planQueries(plan: Plan, component: string): { sql: string; expect: unknown }[] {
  const queries: { sql: string; expect: unknown }[] = [];
  for (const workload of plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        const checks = [...step.validate, ...(step.wait?.until === undefined ? [] : [step.wait.until])];
        for (const check of checks) {
          if (check.sql !== undefined && check.component === component)
            queries.push({ sql: check.sql, expect: check.expect });
        }
      }
    }
  }
  return queries;
}

function placementDatabase(plan: Plan, target: ResolvedTarget, override: string | undefined): string {
  return dataPath(plan, target, override);
}

/** A WAL or journal left beside the old file would be replayed into the restored one and corrupt it. */
const SIDECARS = ['-wal', '-shm', '-journal'] as const;

async function removeSidecars(path: string): Promise<void> {
  for (const suffix of SIDECARS) await rm(`${path}${suffix}`, { force: true });
}

/** Facts of a database file here, opened read-write so closing checkpoints and removes the -wal and -shm it makes. */
function localFacts(path: string, subject: Subject): DatabaseFacts {
  const db = openDatabase(path, subject);
  try {
    return inspect(db);
  } finally {
    db.close();
  }
}

/** Run SQL on the database at a site's placement; rows as arrays of column values. */
async function queryDatabase(
  component: Component,
  site: string,
  sql: string,
  ctx: ActionContext,
): Promise<unknown[][]> {
  const placement = findPlacement(component, site);
  const subject = { component: component.id, site };
  if (placement?.path === undefined) {
    throw new DrctlError(
      BACKUP_ERRORS.PLACEMENT_MISSING,
      `${describe(subject)}: no database path in the placement`,
      {
        hint: `Add placement.${site}.path to the component.`,
        location: component.at,
      },
    );
  }
  const db = openDatabase(planPath(ctx.plan, placement.path), subject);
  try {
    const statement = db.prepare(sql);
    if (!statement.reader) {
      statement.run();
      return [];
    }
    return statement.raw().all() as unknown[][];
  } catch (error) {
    throw new DrctlError(
      SQLITE_ERRORS.QUERY_FAILED,
      `${describe(subject)}: query failed: ${(error as Error).message}`,
      {
        hint: 'Check the SQL against the schema of the database at that site.',
        details: { sql },
        cause: error,
      },
    );
  } finally {
    db.close();
  }
}

/** A backup policy of drctl's own repository format, the one at `site` first: where a copy comes from. */
function copyPolicy(component: Component, site: string): BackupPolicy | undefined {
  const own = component.backups.filter((b) => (b.engine ?? 'drctl') === 'drctl' && b.path !== undefined);
  return own.find((b) => b.to === site) ?? own[0];
}

/** Row count and a digest of every table of a database file, opened read-only. */
function tableDigests(path: string, subject: Subject): Record<string, unknown> {
  const db = openDatabase(path, subject, { readonly: true });
  try {
    const names = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
      )
      .pluck()
      .all() as string[];
    const tables: Record<string, unknown> = {};
    for (const name of names) {
      const rows = db
        .prepare(`select * from "${name.replaceAll('"', '""')}" order by rowid`)
        .raw()
        .all();
      tables[name] = {
        count: rows.length,
        sha256: createHash('sha256').update(JSON.stringify(rows)).digest('hex'),
      };
    }
    return tables;
  } finally {
    db.close();
  }
}

/** Isolated test failover: the copy is the newest backup restored into the drill's scratch directory. */
const sqliteIsolation: Isolation = {
  source(component, site) {
    const policy = copyPolicy(component, site);
    return policy === undefined
      ? { none: `${component.id} has no backup policy with a path (backups[].path) to restore a copy from` }
      : { from: `the newest backup at ${policy.to}` };
  },
  async copy(component, { site, dir, ctx }) {
    const policy = copyPolicy(component, site);
    const target = resolveTarget(ctx.plan, { component: component.id, site, to: policy?.to });
    const path = join(dir, `${component.id}.db`);
    const result = await target.repository.restoreFile(undefined, path, { site, signal: ctx.signal });
    return {
      fields: { path },
      from: `backup ${result.backup} at ${target.backupSite}`,
      dataAsOf: result.dataAsOf,
      async remove() {
        await removeSidecars(path);
        await rm(path, { force: true });
        return [`database file ${path}`];
      },
    };
  },
  async fingerprint(component, ctx) {
    const picture: Record<string, unknown> = {};
    for (const placement of component.placement) {
      if (placement.path === undefined) continue;
      const path = planPath(ctx.plan, placement.path);
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      picture[placement.site] = exists
        ? tableDigests(path, { component: component.id, site: placement.site })
        : { exists: false };
    }
    for (const policy of component.backups.filter((b) => (b.engine ?? 'drctl') === 'drctl' && b.path)) {
      const { repository } = resolveTarget(ctx.plan, { component: component.id, to: policy.to });
      picture[`backups at ${policy.to}`] = (await repository.list()).map((m) => m.id);
    }
    return picture;
  },
};

/** A database on this machine: copied with the online backup API into the repository's staging. */
async function backupHere(
  target: ResolvedTarget,
  source: string,
  subject: Subject,
  compression: 'auto' | 'max' | 'off',
  signal: AbortSignal,
): Promise<Manifest> {
  const exists = await stat(source).then(
    (info) => info.isFile(),
    () => false,
  );
  if (!exists) {
    throw new DrctlError(
      BACKUP_ERRORS.SOURCE_MISSING,
      `${describe(subject)}: database ${source} does not exist`,
      {
        hint: "Check the component's placement path at that site, or pass source explicitly.",
        details: { source },
      },
    );
  }
  return target.repository.backupProduced({
    kind: KIND,
    site: target.site,
    compression,
    signal,
    async produce(dir) {
      const db = openDatabase(source, subject);
      const copy = join(dir, basename(source));
      try {
        await db.backup(copy, { progress: () => ALL_PAGES });
      } finally {
        db.close();
      }
      const facts = localFacts(copy, subject);
      if (facts.integrity.join() !== 'ok')
        throw integrityError(subject, `the backup copy of ${source}`, facts);
      return {
        source,
        meta: {
          integrity: 'ok',
          pageSize: facts.pageSize,
          pageCount: facts.pageCount,
          tables: facts.tables,
        },
      };
    },
  });
}

export const sqliteProvider = {
  name: 'sqlite',
  description: 'SQLite online backups to another site, restore, integrity and validation checks, queries.',
  kinds: ['sqlite'],
  backup: {
    actions: { backup: 'backup', prune: 'prune', check: 'verify', restore: 'restore' },
    snapshotParam: 'backup',
  },
  actions: {
    backup: defineAction({
      description:
        "Take an online backup of the component's SQLite database (consistent while it is written) into its backup site's repository.",
      params: z.strictObject({
        ...targetParams,
        source: z.string().optional().describe('Database file, overriding the placement path.'),
      }),
      idempotent: true,
      evidence: ['backup'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const source = placementDatabase(ctx.plan, target, params.source);
        const subject = { component: target.component.id, site: target.site };
        const compression = target.policy?.compression ?? 'auto';
        const manifest =
          target.data.host === undefined
            ? await backupHere(target, source, subject, compression, ctx.signal)
            : await backupOnHost(target, source, subject, { compression, signal: ctx.signal, kind: KIND });
        const evidence = backupEvidence(manifest, target.repository.where);
        ctx.evidence('backup', evidence);
        ctx.log.info(evidence, 'sqlite backup complete');
        return {
          summary: `backed up ${source} (${manifest.stats.bytes} bytes, integrity ok) of ${target.component.id}@${target.site} to ${target.backupSite} as ${manifest.id}`,
          output: evidence,
        };
      },
    }),
    restore: defineAction({
      description:
        'Restore a backup (the newest by default) over the database file at a site, or to an explicit path; refuses an existing database unless force. Stop the application first.',
      params: z.strictObject({
        ...targetParams,
        backup: z.string().optional().describe('Backup id. @default the newest'),
        target: z.string().optional().describe('Database file to write, overriding the placement path.'),
        force: z
          .boolean()
          .optional()
          .describe('Replace an existing database (its -wal and -shm files are removed). @default false'),
      }),
      idempotent: true,
      evidence: ['restore'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const path = placementDatabase(ctx.plan, target, params.target);
        const subject = { component: target.component.id, site: target.site };
        const result = await target.repository.restoreFile(params.backup, path, {
          site: target.site,
          force: params.force === true,
          signal: ctx.signal,
          to: target.data,
          removeBeside: SIDECARS,
        });
        const facts =
          target.data.host === undefined ? localFacts(path, subject) : await hostFacts(target.data, path);
        const evidence = { ...result, integrity: facts.integrity, tables: facts.tables };
        ctx.evidence('restore', evidence);
        if (facts.integrity.join() !== 'ok')
          throw integrityError(subject, `the restored database ${path}`, facts);
        const summary = result.alreadyRestored
          ? `${path} already holds backup ${result.backup}; nothing written`
          : `restored backup ${result.backup} of ${target.component.id} to ${path} at ${target.site}; integrity ok`;
        return { summary, output: evidence };
      },
    }),
    verify: defineAction({
      description:
        "Re-hash a backup, then open a restored copy for PRAGMA integrity_check and validation queries (the action's and the plan's sql checks on this component).",
      params: z.strictObject({
        ...targetParams,
        backup: z.string().optional().describe('Backup id. @default the newest'),
        queries: z
          .array(z.string())
          .optional()
          .describe('Extra validation queries; each passes when its first value is true.'),
      }),
      idempotent: true,
      evidence: ['verification'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const { repository } = target;
        const subject = { component: target.component.id, site: target.backupSite };
        const report = await repository.verify(params.backup, { signal: ctx.signal, record: false });
        if (!report.ok) {
          await repository.recordVerification(report);
          ctx.evidence('verification', report);
          throw verificationError(report, target.component.id, target.backupSite, repository.where);
        }
        const scratch = join(tmpdir(), `drctl-sqlite-verify-${randomBytes(6).toString('hex')}.db`);
        try {
          await repository.restoreFile(report.backup, scratch, { site: target.backupSite });
          const db = openDatabase(scratch, subject);
          let facts: DatabaseFacts;
          let validations;
          try {
            facts = inspect(db);
            const queries = [
              ...(params.queries ?? []).map((sql) => ({ sql, expect: undefined })),
              ...planQueries(ctx.plan, target.component.id),
            ];
            validations = queries.map((query) => runValidation(db, query.sql, query.expect));
          } finally {
            db.close();
          }
          const integrityOk = facts.integrity.join() === 'ok';
          const failed = validations.find((validation) => !validation.ok);
          const full = {
            ...report,
            ok: integrityOk && failed === undefined,
            checks: { integrity: facts.integrity, tables: facts.tables, validations },
          };
          await repository.recordVerification(full);
          ctx.evidence('verification', full);
          if (!integrityOk) throw integrityError(subject, `backup ${report.backup}`, facts);
          if (failed !== undefined) {
            throw new DrctlError(
              SQLITE_ERRORS.VALIDATION_FAILED,
              `${describe(subject)}: backup ${report.backup} fails validation query "${failed.sql}" (got ${String(failed.value)}${failed.error === undefined ? '' : `: ${failed.error}`})`,
              {
                hint: 'The backup is intact but its data does not pass the check: look at what was backed up, or at the query.',
                details: { validations },
              },
            );
          }
          return {
            summary: `verified backup ${report.backup} of ${target.component.id} at ${target.backupSite}: hashes match, integrity ok, ${validations.length} validation queries pass`,
            output: full,
          };
        } finally {
          await removeSidecars(scratch);
          await rm(scratch, { force: true });
        }
      },
    }),
    query: defineAction({
      description: "Run SQL against the component's database at a site; rows become evidence.",
      params: z.strictObject({
        component: targetParams.component,
        site: targetParams.site,
        sql: z.string().describe('The statement to run.'),
      }),
      idempotent: false,
      evidence: ['rows'],
      async run(params, ctx) {
        const { component } = findComponent(ctx.plan, params.component);
        const site = params.site ?? findPlacement(component, undefined)?.site ?? 'unknown';
        const rows = await queryDatabase(component, site, params.sql, ctx);
        ctx.evidence('rows', rows);
        return { summary: `${rows.length} rows from ${component.id}@${site}`, output: { rows } };
      },
    }),
    prune: pruneAction('sqlite'),
    list: listAction('sqlite'),
  },
  checks: {
    'backup-fresh': freshCheck('sqlite', KIND),
  },
  query: queryDatabase,
  readiness: (component, ctx) => backupReadiness(component, ctx, KIND),
  hostNeeds: repositoryHostNeeds(['tar', 'sqlite3']),
  isolation: sqliteIsolation,
  preflight: { restore: restorePreflight },
} satisfies Provider;
