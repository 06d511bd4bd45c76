/**
 * From action parameters to real paths: which component, which site's placement holds the data, which
 * backup policy and so which repository at which backup site. Paths in a plan are relative to the plan.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../errors.ts';
import type { BackupPolicy, Component, Placement, Plan, Retention, Workload } from '../plan/model.ts';
import { Id } from '../plan/schema.ts';
import { BACKUP_ERRORS } from './errors.ts';
import { executorOn } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import { HostRepository } from './host-repository.ts';
import type { Repository } from './manifest.ts';
import { BackupRepository } from './repository.ts';
import { defaultRetention } from '../plan/defaults.ts';

/** Parameters every backup action shares. */
export const targetParams = {
  component: Id.describe('The component whose backups this is about.'),
  site: Id.optional().describe(
    'Site whose placement holds the data (read by a backup, written by a restore). @default the primary placement',
  ),
  to: Id.optional().describe(
    "Backup site: picks the component's backup policy going there. @default the first backup policy",
  ),
  repository: z.string().optional().describe('Backup location, overriding the policy path; used as is.'),
  host: z
    .string()
    .optional()
    .describe(
      "Host (sites.<site>.hosts) holding the data, overriding the placement's host. @default the placement's host",
    ),
  repository_host: z
    .string()
    .optional()
    .describe("Host holding the repository, overriding the backup policy's host. @default the policy's host"),
};

export const RetentionParams = z.strictObject({
  daily: z.number().int().min(0).optional(),
  weekly: z.number().int().min(0).optional(),
  monthly: z.number().int().min(0).optional(),
  yearly: z.number().int().min(0).optional(),
});

export interface TargetInput {
  component: string;
  site?: string | undefined;
  to?: string | undefined;
  repository?: string | undefined;
  host?: string | undefined;
  repository_host?: string | undefined;
}

export interface ResolvedTarget {
  component: Component;
  workload: Workload;
  /** The site of the data. */
  site: string;
  placement: Placement | undefined;
  policy: BackupPolicy | undefined;
  /** Where the repository lives. */
  backupSite: string;
  repository: Repository;
  /** Where the data is: the placement's host (or the action's), else this machine. */
  data: Executor;
}

export function findComponent(plan: Plan, id: string): { component: Component; workload: Workload } {
  for (const workload of plan.workloads) {
    const component = workload.components.find((candidate) => candidate.id === id);
    if (component !== undefined) return { component, workload };
  }
  throw new DrctlError(BACKUP_ERRORS.COMPONENT_UNKNOWN, `component "${id}" is not in the plan`, {
    hint: 'Use the id of a component declared under workloads[].components[].',
    details: { component: id },
  });
}

export function planPath(plan: Plan, path: string): string {
  return isAbsolute(path) ? path : resolve(plan.baseDir, path);
}

/** A path on this machine is relative to the plan; on a host it is used as written (relative: to the login directory). */
function pathOn(plan: Plan, host: string | undefined, path: string): string {
  return host === undefined ? planPath(plan, path) : path;
}

/** The placement at a site; without a site, the primary one (not marked standby). */
export function findPlacement(component: Component, site: string | undefined): Placement | undefined {
  if (site !== undefined) return component.placement.find((placement) => placement.site === site);
  return component.placement.find((placement) => !placement.standby) ?? component.placement[0];
}

export function resolveTarget(plan: Plan, input: TargetInput, clock?: () => Date): ResolvedTarget {
  const { component, workload } = findComponent(plan, input.component);
  const placement = findPlacement(component, input.site);
  const site = input.site ?? placement?.site ?? 'unknown';
  const policy =
    input.to === undefined
      ? component.backups[0]
      : component.backups.find((candidate) => candidate.to === input.to);
  const backupSite = input.to ?? policy?.to ?? 'unknown';
  const repositoryHost = input.repository_host ?? policy?.host;
  let root: string;
  if (input.repository !== undefined) {
    root = pathOn(plan, repositoryHost, input.repository);
  } else if (policy?.path !== undefined) {
    // One repository per component under the policy path, so components sharing a path never mix.
    root = join(pathOn(plan, repositoryHost, policy.path), component.id);
  } else {
    throw new DrctlError(
      BACKUP_ERRORS.LOCATION_MISSING,
      `component "${component.id}": no backup location for site "${backupSite}"`,
      {
        hint: 'Add `path:` to the backup policy (backups[].path) or pass `repository:` to the action.',
        details: { component: component.id, to: input.to },
        ...(policy === undefined ? {} : { location: policy.at }),
      },
    );
  }
  const options = {
    subject: { component: component.id, site: backupSite },
    ...(clock === undefined ? {} : { clock }),
  };
  const repository =
    repositoryHost === undefined
      ? new BackupRepository(root, options)
      : new HostRepository(executorOn(plan, repositoryHost), root, options);
  const data = executorOn(plan, input.host ?? placement?.host);
  return { component, workload, site, placement, policy, backupSite, repository, data };
}

/** The data's path at the target site: an explicit override, else the placement's `path`. */
export function dataPath(plan: Plan, target: ResolvedTarget, override: string | undefined): string {
  const host = target.data.host?.name;
  if (override !== undefined) return pathOn(plan, host, override);
  const path = target.placement?.path;
  if (path === undefined) {
    throw new DrctlError(
      BACKUP_ERRORS.PLACEMENT_MISSING,
      `component "${target.component.id}" has no placement path at site "${target.site}"`,
      {
        hint: `Add placement.${target.site}.path to the component, or pass the path to the action.`,
        details: { component: target.component.id, site: target.site },
        location: target.component.at,
      },
    );
  }
  return pathOn(plan, host, path);
}

/** The retention to apply: the action's override over the policy's, over seed 004's default for the kind. */
export function retentionFor(
  target: ResolvedTarget,
  override: { [Period in keyof Retention]?: number | undefined } | undefined,
): Retention {
  const base = target.policy?.keep ?? defaultRetention(target.component.kind);
  return {
    daily: override?.daily ?? base.daily,
    weekly: override?.weekly ?? base.weekly,
    monthly: override?.monthly ?? base.monthly,
    yearly: override?.yearly ?? base.yearly,
  };
}
