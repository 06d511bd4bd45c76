/**
 * Looking things up in a compiled plan, in one place: a workload, a component, a placement, a runbook,
 * and the `${NAME}` references a plan's URLs take from the environment. Free of zod, for the engine and
 * the providers alike.
 */
import { UsageError } from '../errors.ts';
import type { Component, Plan, Placement, Runbook, Workload } from './model.ts';

export function findWorkload(plan: Plan, id: string): Workload | undefined {
  return plan.workloads.find((w) => w.id === id);
}

export function findComponent(plan: Plan, id: string): Component | undefined {
  for (const workload of plan.workloads) {
    const component = workload.components.find((c) => c.id === id);
    if (component) return component;
  }
  return undefined;
}

export function findPlacement(plan: Plan, componentId: string, site: string): Placement | undefined {
  return findComponent(plan, componentId)?.placement.find((p) => p.site === site);
}

/**
 * A runbook by `workload/name`, or by name (and workload when the name is not unique); a usage error
 * naming the plan's runbooks when there is none or several.
 */
export function findRunbook(plan: Plan, ref: string, workloadOption?: string): Runbook {
  // `workload/name` is how drctl prints runbooks everywhere, so it is accepted wherever a name is
  const [qualifier, bare] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
  const name = bare ?? ref;
  const workload = workloadOption ?? qualifier;
  const matches = plan.workloads
    .filter((candidate) => workload === undefined || candidate.id === workload)
    .flatMap((candidate) => candidate.runbooks.filter((runbook) => runbook.name === name));
  const [only, ...others] = matches;
  if (only === undefined) {
    const known = plan.workloads.flatMap((candidate) =>
      candidate.runbooks.map((runbook) => `${candidate.id}/${runbook.name}`),
    );
    throw new UsageError(
      'DRCTL_RUN_RUNBOOK_NOT_FOUND',
      `no runbook ${name}${workload ? ` in workload ${workload}` : ''} in plan ${plan.files[0] ?? plan.name}`,
      { hint: known.length > 0 ? `runbooks in this plan: ${known.join(', ')}` : 'the plan has no runbooks' },
    );
  }
  if (others.length > 0) {
    throw new UsageError('DRCTL_RUN_RUNBOOK_AMBIGUOUS', `several workloads have a runbook named ${name}`, {
      hint: `add --workload ${[only, ...others].map((runbook) => runbook.workload).join(' or ')}`,
    });
  }
  return only;
}

/**
 * `${NAME}` in a URL comes from the environment (URL-encoded), so passwords stay out of plan files;
 * `missing(name)` makes the error for a variable that is not set.
 */
export function expandEnv(text: string, missing: (name: string) => Error): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw missing(name);
    return encodeURIComponent(value);
  });
}
