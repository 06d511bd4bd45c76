/**
 * Compiling a workload's backup schedules and restore verifications, and checking the backup engines'
 * settings: cron expressions that parse in an explicit time zone, references to components, policies and
 * verifications of the same workload, and verifications that can never restore over production.
 */
import type { SourceLocation } from '../errors.ts';
import { scheduleProblem } from '../schedule/index.ts';
import { VERIFY_EVERY_DEFAULT_MS } from './defaults.ts';
import { parseDuration } from './duration.ts';
import type { BackupSchedule, Component, Verification } from './model.ts';
import type { WorkloadInput } from './schema.ts';
import { BACKUP_ENGINE_NEEDS, BACKUP_ENGINES, SCHEDULE_TASKS } from './terms.ts';
import type { Locator, Report } from './compile-context.ts';
import type { PathSegment } from './source.ts';

const VERIFICATION_TIMEOUT_DEFAULT_MS = 30 * 60_000;
const HTTP_READY_DEFAULT_MS = 10_000;

const optMs = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : parseDuration(text);

/** Problems with the engine fields of each backup policy: what `BACKUP_ENGINE_NEEDS` says each engine needs. */
export function checkBackupEngines(components: Component[], at: Locator, report: Report): void {
  components.forEach((component, ci) =>
    component.backups.forEach((policy, bi) => {
      const where = (...p: PathSegment[]): SourceLocation => at('components', ci, 'backups', bi, ...p);
      const needs = BACKUP_ENGINE_NEEDS[policy.engine ?? 'drctl'];
      const backup = `${needs.label} backup of ${component.id}`;
      if (needs.repository !== undefined && policy.repository === undefined && policy.path === undefined)
        report(
          'DRCTL_PLAN_MISSING',
          `${backup} to ${policy.to} ${needs.repository.missing}`,
          where(),
          needs.repository.hint,
        );
      if (
        needs.password !== undefined &&
        policy.passwordEnv === undefined &&
        policy.passwordFile === undefined
      )
        report(
          'DRCTL_PLAN_MISSING',
          `${backup} to ${policy.to} names no password`,
          where(),
          needs.password.hint,
        );
      const backsUp = needs.kinds === undefined || needs.kinds.only.includes(component.kind);
      if (!backsUp)
        report(
          'DRCTL_PLAN_VALUE',
          `${needs.label} backs up ${needs.kinds?.what}; ${component.id} is of kind ${component.kind}`,
          where('engine'),
          needs.kinds?.hint,
        );
      if (needs.placementFields === undefined || !backsUp) return;
      const server = component.placement.find((p) => !p.standby) ?? component.placement[0];
      const missing = needs.placementFields.fields.filter((field) => {
        const value = server?.fields[field];
        return typeof value !== 'string' || value === '';
      });
      if (server !== undefined && missing.length > 0)
        report(
          'DRCTL_PLAN_MISSING',
          `${backup} needs ${missing.join(' and ')} in its placement at ${server.site}`,
          server.at,
          needs.placementFields.hint,
        );
    }),
  );
}

/** The engines whose restores a verification can start as a scratch server. */
const SCRATCH_SERVER_ENGINES = BACKUP_ENGINES.filter((engine) => BACKUP_ENGINE_NEEDS[engine].scratchServer);

export function compileVerifications(
  input: WorkloadInput,
  components: Component[],
  at: Locator,
  report: Report,
): Verification[] {
  return (input.verifications ?? []).map((v, i): Verification => {
    const where = (...p: PathSegment[]): SourceLocation => at('verifications', i, ...p);
    const component = components.find((c) => c.id === v.component);
    if (component === undefined)
      report(
        'DRCTL_PLAN_UNKNOWN_REF',
        `verification ${v.id} names component ${v.component}, which is not in workload ${input.id}`,
        where('component'),
      );
    const policy = v.to === undefined ? component?.backups[0] : component?.backups.find((b) => b.to === v.to);
    if (component !== undefined && policy === undefined)
      report(
        'DRCTL_PLAN_UNKNOWN_REF',
        v.to === undefined
          ? `verification ${v.id}: component ${component.id} has no backups to verify`
          : `verification ${v.id}: component ${component.id} has no backup policy to ${v.to}`,
        where(v.to === undefined ? 'component' : 'to'),
        `use one of: ${component.backups.map((b) => b.to).join(', ') || 'add backups[] to the component'}`,
      );
    const r = v.restore_to ?? {};
    const kinds = [r.path, r.site, r.postgres].filter((x) => x !== undefined && x !== false);
    if (kinds.length > 1)
      report(
        'DRCTL_PLAN_VALUE',
        `verification ${v.id}: restore_to names more than one target`,
        where('restore_to'),
        'give one of path, site or postgres',
      );
    if (r.site !== undefined) {
      const placement = component?.placement.find((p) => p.site === r.site);
      if (placement !== undefined && !placement.standby)
        report(
          'DRCTL_PLAN_VALUE',
          `verification ${v.id} would restore over the production placement of ${v.component} at ${r.site}`,
          where('restore_to', 'site'),
          'restore into a scratch directory, or into a standby placement',
        );
    }
    if (
      r.postgres === true &&
      policy !== undefined &&
      !SCRATCH_SERVER_ENGINES.includes(policy.engine ?? 'drctl')
    )
      report(
        'DRCTL_PLAN_VALUE',
        `verification ${v.id}: a scratch PostgreSQL cluster is restored from ${SCRATCH_SERVER_ENGINES.map((e) => BACKUP_ENGINE_NEEDS[e].label).join(' or ')} backups; the backup of ${v.component} to ${policy.to} uses ${policy.engine ?? 'drctl'}`,
        where('restore_to', 'postgres'),
        `give the policy engine: ${SCRATCH_SERVER_ENGINES.join(' or ')}, or restore into a scratch directory`,
      );
    (v.prove?.queries ?? []).forEach((q, j) => {
      if (q.database === undefined && r.postgres !== true)
        report(
          'DRCTL_PLAN_MISSING',
          `verification ${v.id}: query "${q.sql}" names no database, and there is no scratch PostgreSQL cluster to run it on`,
          where('prove', 'queries', j),
          'give database: (a SQLite file inside the restore), or restore_to: { postgres: true }',
        );
    });
    const restoreTo: Verification['restoreTo'] =
      r.path !== undefined
        ? { kind: 'path', path: r.path }
        : r.site !== undefined
          ? { kind: 'site', site: r.site }
          : r.postgres === true
            ? { kind: 'postgres' }
            : { kind: 'scratch' };
    const http = v.prove?.http;
    return {
      id: v.id,
      workload: input.id,
      component: v.component,
      to: v.to ?? policy?.to,
      snapshot: v.snapshot === 'latest' ? undefined : v.snapshot,
      restoreTo,
      clear: v.clear ?? false,
      prove: {
        checksums: v.prove?.checksums ?? true,
        files: v.prove?.files ?? [],
        references: (v.prove?.references ?? []).map((r) => ({
          sql: r.sql,
          database: r.database,
          files: r.files,
        })),
        queries: (v.prove?.queries ?? []).map((q) => ({
          sql: q.sql,
          database: q.database,
          expect: q.expect,
        })),
        http:
          http === undefined
            ? undefined
            : {
                start: http.start,
                path: http.path ?? '/',
                status: http.status ?? 200,
                bodyContains: http.body_contains,
                readyWithinMs: optMs(http.ready_within) ?? HTTP_READY_DEFAULT_MS,
              },
      },
      timeoutMs: optMs(v.timeout) ?? VERIFICATION_TIMEOUT_DEFAULT_MS,
      evidence: v.evidence ?? [],
      verifyEveryMs: optMs(v.verify_every) ?? policy?.verifyEveryMs ?? VERIFY_EVERY_DEFAULT_MS,
      at: where(),
    };
  });
}

export function compileSchedules(
  input: WorkloadInput,
  components: Component[],
  verifications: Verification[],
  at: Locator,
  report: Report,
): BackupSchedule[] {
  return (input.schedules ?? []).map((s, i): BackupSchedule => {
    const where = (...p: PathSegment[]): SourceLocation => at('schedules', i, ...p);
    const everyMs = optMs(s.every);
    if ((s.cron === undefined) === (everyMs === undefined))
      report('DRCTL_PLAN_VALUE', `schedule ${s.id} needs exactly one of cron or every`, where());
    if (s.cron !== undefined && s.timezone === undefined)
      report(
        'DRCTL_PLAN_MISSING',
        `schedule ${s.id} has a cron expression but no time zone`,
        where('cron'),
        'add `timezone:` with an IANA name such as Europe/Berlin or UTC',
      );
    if (s.cron !== undefined) {
      const problem = scheduleProblem({ cron: s.cron, timezone: s.timezone ?? 'UTC' });
      if (problem !== undefined)
        report(
          'DRCTL_PLAN_VALUE',
          `schedule ${s.id}: ${problem}`,
          where(problem.includes('time zone') ? 'timezone' : 'cron'),
          'five fields (minute hour day month weekday), or six with seconds first, e.g. "0 2 * * *"',
        );
    }
    const task = SCHEDULE_TASKS.find((t) => s[t] !== undefined) ?? 'backup';
    const target = s[task] ?? '';
    if (task === 'verify' && !verifications.some((v) => v.id === target))
      report(
        'DRCTL_PLAN_UNKNOWN_REF',
        `schedule ${s.id} runs verification ${target}, which workload ${input.id} does not define`,
        where('verify'),
        `use one of: ${verifications.map((v) => v.id).join(', ') || 'add verifications[]'}`,
      );
    if (task !== 'verify') {
      const component = components.find((c) => c.id === target);
      if (component === undefined)
        report(
          'DRCTL_PLAN_UNKNOWN_REF',
          `schedule ${s.id} names component ${target}, which is not in workload ${input.id}`,
          where(task),
        );
      else if (!component.backups.some((b) => s.to === undefined || b.to === s.to))
        report(
          'DRCTL_PLAN_UNKNOWN_REF',
          `schedule ${s.id}: component ${target} has no backup policy${s.to === undefined ? '' : ` to ${s.to}`}`,
          where(s.to === undefined ? task : 'to'),
        );
    }
    return {
      id: s.id,
      workload: input.id,
      cron: s.cron,
      timezone: s.timezone,
      everyMs,
      task,
      target,
      to: s.to,
      type: s.type,
      at: where(),
    };
  });
}
