/**
 * Rules about runbooks and their steps: a recovery runbook for every workload and a failback for every
 * failover (seed 002), recovery in dependency order (seed 000), validation and evidence on every step
 * that changes something, and step parameters naming things that exist. (Escalation without a target
 * is a plan error the loader reports.)
 */
import type { Rule } from '../context.ts';
import { stepComponent } from '../context.ts';
import { finding } from '../findings.ts';
import { ancestors } from '../graph.ts';

export const recoveryRunbooks: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    const kinds = new Set(workload.runbooks.map((r) => r.kind));
    const needed = workload.strategy === 'backup-restore' ? ['restore', 'failover'] : ['failover'];
    if (!needed.some((k) => kinds.has(k as never))) {
      report(
        finding(
          'DRCTL_RECOVERY_RUNBOOK_MISSING',
          workload.at,
          `workload ${workload.id} (${workload.strategy}) has no ${needed[0]} runbook`,
          `add runbooks: { ${needed[0]}: { steps: [...] } } with the steps that bring it back`,
          { workload: workload.id },
        ),
      );
    }
    const failover = workload.runbooks.find((r) => r.kind === 'failover');
    if (failover !== undefined && !kinds.has('failback')) {
      report(
        finding(
          'DRCTL_FAILBACK_MISSING',
          failover.at,
          `workload ${workload.id} has a failover runbook but no failback runbook`,
          'add runbooks: { failback: { steps: [...] } }: sync data back, validate, then move traffic home (seed 002: plan and test failback too)',
          { workload: workload.id, runbook: failover.name },
        ),
      );
    }
  }
};

/** Steps that change something (shell, action, manual) must say how their success is seen. */
export const stepsVerified: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        if (step.kind !== 'shell' && step.kind !== 'action' && step.kind !== 'manual') continue;
        if (step.validate.length > 0 || step.evidence.length > 0) continue;
        report(
          finding(
            'DRCTL_STEP_UNVERIFIED',
            step.at,
            `step ${step.id} of runbook ${runbook.name} (workload ${workload.id}) has no validation and no evidence`,
            'add validate: [...] checks, or evidence: [...] a person must attach, so the run proves the step worked',
            { workload: workload.id, runbook: runbook.name, step: step.id },
          ),
        );
      }
    }
  }
};

/**
 * Seed 000: recover foundations first, then follow the workflows. A step acting on a component must
 * come after (through `needs`) every step of the same runbook acting on a component it depends on at
 * the same site (steps that name no site are taken to act on every site).
 */
export const recoveryOrder: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const runbook of workload.runbooks) {
      const acting = runbook.steps
        .map((step) => ({ step, component: stepComponent(step) }))
        .filter((x): x is { step: (typeof x)['step']; component: string } => x.component !== undefined);
      if (acting.length < 2) continue;
      const before = ancestors(runbook.steps);
      const stepsOn = new Map<string, string[]>();
      for (const { step, component } of acting)
        stepsOn.set(component, [...(stepsOn.get(component) ?? []), step.id]);
      const siteOf = new Map(
        runbook.steps.map((s) => [s.id, typeof s.with['site'] === 'string' ? s.with['site'] : undefined]),
      );
      // a dependency is per site: the service at east needs the database at east, not the one being rebuilt at west
      const sameSite = (a: string, b: string): boolean =>
        siteOf.get(a) === undefined || siteOf.get(b) === undefined || siteOf.get(a) === siteOf.get(b);
      for (const { step, component } of acting) {
        const deps = context.components.get(component)?.dependsOn ?? [];
        for (const dep of deps) {
          const early = (stepsOn.get(dep) ?? []).filter(
            (id) => !before.get(step.id)?.has(id) && id !== step.id && sameSite(id, step.id),
          );
          if (early.length === 0) continue;
          report(
            finding(
              'DRCTL_RECOVERY_ORDER',
              step.at,
              `step ${step.id} acts on ${component}, which depends on ${dep}, but does not wait for ${early.join(', ')} that acts on ${dep}`,
              `add ${early.join(', ')} to the needs of ${step.id} so that ${dep} is back first`,
              { workload: workload.id, runbook: runbook.name, step: step.id, component },
            ),
          );
        }
      }
    }
  }
};

/** `with: { component, site }` is provider-specific, so the loader cannot check it; it almost always names plan things. */
export const stepTargets: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        const component = stepComponent(step);
        const site = step.with['site'];
        const unknown: string[] = [];
        if (component !== undefined && !context.components.has(component))
          unknown.push(`component ${component}`);
        if (typeof site === 'string' && !context.sites.has(site)) unknown.push(`site ${site}`);
        if (unknown.length === 0) continue;
        report(
          finding(
            'DRCTL_STEP_UNKNOWN_TARGET',
            step.at,
            `step ${step.id} of runbook ${runbook.name} acts on ${unknown.join(' and ')}, which the plan does not define`,
            `use one of the plan's ${component !== undefined && !context.components.has(component) ? 'component' : 'site'} ids`,
            { workload: workload.id, runbook: runbook.name, step: step.id },
          ),
        );
      }
    }
  }
};
