/**
 * What the files and SQLite providers share beyond the repository: the list and prune actions, the
 * backup-freshness check, readiness facts and the evidence shapes. Each takes the provider's name, so the
 * two providers declare the same facts about themselves without branching on a kind.
 */
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import type { Component } from '../../plan/model.ts';
import { formatDuration, parseDuration } from '../../plan/duration.ts';
import { Duration } from '../../plan/schema.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type {
  ActionContext,
  HostNeed,
  PreflightCheck,
  ProviderAction,
  ProviderCheck,
  ReadinessFact,
} from '../provider.ts';
import { restoreFits } from '../../backup/preflight.ts';
import { BACKUP_ERRORS } from '../../backup/errors.ts';
import type { Manifest, PruneReport, VerifyReport } from '../../backup/index.ts';
import { RetentionParams, resolveTarget, retentionFor, targetParams } from '../../backup/resolve.ts';
import type { TargetInput } from '../../backup/resolve.ts';

export function backupEvidence(manifest: Manifest, repository: string): Record<string, unknown> {
  return {
    id: manifest.id,
    repository,
    source: manifest.source,
    site: manifest.site,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    parent: manifest.parent,
    files: manifest.stats.files,
    bytes: manifest.stats.bytes,
    copiedFiles: manifest.stats.copiedFiles,
    copiedBytes: manifest.stats.copiedBytes,
    storedBytes: manifest.stats.storedBytes ?? manifest.stats.copiedBytes,
    unchangedFiles: manifest.stats.unchangedFiles,
    skipped: manifest.stats.skipped,
    manifestChecksum: manifest.checksum,
    meta: manifest.meta,
  };
}

/** A failed verification as an error naming the first bad file, after its report became evidence. */
export function verificationError(
  report: VerifyReport,
  component: string,
  site: string,
  repository: string,
): DrctlError {
  const first = report.problems[0];
  const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more)` : '';
  return new DrctlError(
    BACKUP_ERRORS.VERIFY_FAILED,
    `component "${component}" at site "${site}": backup ${report.backup} failed verification: ${first?.path ?? '?'}: ${first?.reason ?? 'unknown'}${more}`,
    {
      hint: 'Do not trust this backup: restore an older one that verifies, take a new backup, and check the storage at the backup site.',
      details: { repository, backup: report.backup, problems: report.problems.slice(0, 20) },
    },
  );
}

function pruneSummary(report: PruneReport): string {
  const verb = report.dryRun ? 'would prune' : 'pruned';
  return `${verb} ${report.pruned.length} of ${report.decisions.length} backups, kept ${report.kept.length}; ${report.blobsRemoved} blobs (${report.bytesFreed} bytes) ${report.dryRun ? 'would be freed' : 'freed'}`;
}

export function listAction(provider: string): ProviderAction {
  return defineAction({
    description: `List the ${provider} backups of a component at its backup site, oldest first.`,
    params: z.strictObject({ ...targetParams }),
    idempotent: true,
    evidence: ['backups'],
    async run(params, ctx) {
      const target = resolveTarget(ctx.plan, params);
      const manifests = await target.repository.list();
      const backups = manifests.map((manifest) => ({
        id: manifest.id,
        startedAt: manifest.startedAt,
        files: manifest.stats.files,
        bytes: manifest.stats.bytes,
        copiedBytes: manifest.stats.copiedBytes,
      }));
      ctx.evidence('backups', {
        repository: target.repository.where,
        backups,
        damaged: target.repository.damaged,
      });
      return {
        summary: `${backups.length} backups of ${target.component.id} at ${target.backupSite}`,
        output: { backups },
      };
    },
  });
}

export function pruneAction(provider: string): ProviderAction {
  return defineAction({
    description: `Apply the retention policy to the ${provider} backups of a component: keep the newest backup of each of the newest N days, weeks, months and years; remove the rest and the blobs only they used.`,
    params: z.strictObject({
      ...targetParams,
      dry_run: z
        .boolean()
        .optional()
        .describe('Only report what would be pruned and why each backup is kept. @default false'),
      keep: RetentionParams.optional().describe(
        "Override the policy's retention. @default the policy's keep, else seed 004's table for the kind",
      ),
    }),
    idempotent: true,
    evidence: ['prune'],
    async run(params, ctx) {
      const target = resolveTarget(ctx.plan, params);
      const policy = retentionFor(target, params.keep);
      const report = await target.repository.prune(policy, { dryRun: params.dry_run === true });
      const evidence = {
        repository: target.repository.where,
        ...report,
        decisions: report.decisions.map((d) => ({
          id: d.id,
          time: d.time.toISOString(),
          keep: d.keep,
          reasons: d.reasons,
        })),
      };
      ctx.evidence('prune', evidence);
      return { summary: pruneSummary(report), output: evidence };
    },
  });
}

export function freshCheck(provider: string, kind: string): ProviderCheck {
  return defineCheck({
    description: `Passes when the newest ${provider} backup of the component is younger than max_age (default: the workload RPO).`,
    params: z.strictObject({ ...targetParams, max_age: Duration.optional() }),
    async run(params, ctx) {
      const target = resolveTarget(ctx.plan, params);
      const limit =
        params.max_age === undefined ? target.workload.rpoMs : (parseDuration(params.max_age) ?? 0);
      const newest = await target.repository.newest(kind);
      if (newest === undefined)
        return {
          ok: false,
          message: `no ${provider} backup of ${target.component.id} at ${target.backupSite}`,
        };
      const age = Date.now() - Date.parse(newest.startedAt);
      return {
        ok: age <= limit,
        message: `newest backup ${newest.id} is ${formatDuration(age)} old (limit ${formatDuration(limit)})`,
        observed: { backup: newest.id, ageMs: age, limitMs: limit },
      };
    },
  });
}

/** Newest backup age against the RPO and last passed verification against verify_every, per policy. */
export async function backupReadiness(
  component: Component,
  ctx: ActionContext,
  kind: string,
): Promise<ReadinessFact[]> {
  const facts: ReadinessFact[] = [];
  const now = Date.now();
  // policies of another engine (restic, pgBackRest) are that engine's provider's to report
  for (const policy of component.backups.filter((b) => (b.engine ?? 'drctl') === 'drctl')) {
    let target;
    try {
      target = resolveTarget(ctx.plan, { component: component.id, to: policy.to });
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
      facts.push({
        component: component.id,
        site: policy.to,
        name: 'backup-age',
        ok: false,
        message: error.message,
      });
      continue;
    }
    const rpo = target.workload.rpoMs;
    const newest = await target.repository.newest(kind);
    if (newest === undefined) {
      facts.push({
        component: component.id,
        site: policy.to,
        name: 'backup-age',
        ok: false,
        limit: rpo,
        message: `no backup at ${policy.to} yet`,
      });
    } else {
      const age = now - Date.parse(newest.startedAt);
      facts.push({
        component: component.id,
        site: policy.to,
        name: 'backup-age',
        ok: age <= rpo,
        value: age,
        limit: rpo,
        message: `newest backup is ${formatDuration(age)} old; RPO ${formatDuration(rpo)}`,
      });
    }
    const verified = await target.repository.lastVerification();
    const verifiedAge = verified === undefined ? undefined : now - Date.parse(verified.at);
    facts.push({
      component: component.id,
      site: policy.to,
      name: 'backup-verified',
      ok: verifiedAge !== undefined && verifiedAge <= policy.verifyEveryMs,
      ...(verifiedAge === undefined ? {} : { value: verifiedAge }),
      limit: policy.verifyEveryMs,
      message:
        verifiedAge === undefined
          ? 'no backup has been verified'
          : `last passed verification ${formatDuration(verifiedAge)} ago; required every ${formatDuration(policy.verifyEveryMs)}`,
    });
  }
  return facts;
}

/** Preflight of a restore from drctl's repository (files and SQLite alike): the target's disk holds the backup. */
export const restorePreflight: readonly PreflightCheck[] = [
  {
    name: 'free disk for the backup',
    kind: 'capacity',
    run: (params, ctx) => restoreFits(ctx.plan, params as TargetInput & { backup?: string; target?: string }),
  },
];

/**
 * What a backup of drctl's own repository needs on the plan's hosts: on a placement's host the programs
 * that stream its data (`tar`, and for a database `sqlite3`) and its path's disk; on a repository's host
 * the programs that keep the repository and its disk.
 */
export function repositoryHostNeeds(dataTools: readonly string[]): (component: Component) => HostNeed[] {
  return (component) => {
    const policies = component.backups.filter((b) => (b.engine ?? 'drctl') === 'drctl');
    if (policies.length === 0) return [];
    return [
      ...component.placement.flatMap((placement) =>
        placement.host === undefined
          ? []
          : [
              {
                host: placement.host,
                tools: dataTools,
                paths: placement.path === undefined ? [] : [placement.path],
              },
            ],
      ),
      ...policies.flatMap((policy) =>
        policy.host === undefined
          ? []
          : [
              {
                host: policy.host,
                tools: ['tar', 'find', 'base64'],
                paths: policy.path === undefined ? [] : [policy.path],
              },
            ],
      ),
    ];
  };
}
