/**
 * Shared failure domains (seed 001: "Azure-wide service disruption"; seed 002: loss of control-plane
 * access). A workload's primary and recovery sites that share a provider, a region or a named domain (a
 * power feed, an identity provider, a DNS provider) can be lost together; each tier says which it accepts.
 * Scenarios of the disasters `provider-wide` and `control-plane-access` name the steps that could not run.
 */
import type { Plan, Runbook, Site, Step, Workload } from '../../plan/model.ts';
import type { Rule } from '../context.ts';
import { plural } from '../context.ts';
import { finding } from '../findings.ts';

/** Sites where the workload serves, and the sites it recovers to (standby placements, backup targets). */
export function workloadSites(plan: Plan, workload: Workload): { primary: Site[]; recovery: Site[] } {
  const byId = new Map(plan.sites.map((s) => [s.id, s]));
  const primary = new Set<string>();
  const recovery = new Set<string>();
  for (const component of workload.components) {
    for (const p of component.placement) {
      const role = byId.get(p.site)?.role;
      if (p.standby || role === 'secondary') recovery.add(p.site);
      else primary.add(p.site);
    }
    for (const b of component.backups) recovery.add(b.to);
  }
  for (const id of primary) recovery.delete(id);
  const sites = (ids: Set<string>): Site[] =>
    [...ids].map((id) => byId.get(id)).filter((s): s is Site => s !== undefined);
  return { primary: sites(primary), recovery: sites(recovery) };
}

/** What two sites share, each as `{ kind, name }`: kind `provider`, `region` or the domain's own name. */
export function sharedDomains(a: Site, b: Site): Array<{ kind: string; name: string }> {
  const shared: Array<{ kind: string; name: string }> = [];
  if (a.provider !== undefined && a.provider === b.provider) {
    shared.push({ kind: 'provider', name: `provider ${a.provider}` });
    if (a.region !== undefined && a.region === b.region)
      shared.push({ kind: 'region', name: `region ${a.region}` });
  }
  const theirs = new Set(b.failureDomains ?? []);
  for (const d of a.failureDomains ?? []) if (theirs.has(d)) shared.push({ kind: d, name: d });
  return shared;
}

export const sharedFailureDomains: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    const accepted = new Set(context.plan.tiers[workload.tier].acceptsShared ?? []);
    if (accepted.has('*')) continue;
    const { primary, recovery } = workloadSites(context.plan, workload);
    for (const from of primary) {
      for (const to of recovery) {
        const refused = sharedDomains(from, to).filter((d) => !accepted.has(d.kind));
        if (refused.length === 0) continue;
        report(
          finding(
            'DRCTL_SHARED_FAILURE_DOMAIN',
            workload.at,
            `workload ${workload.id} (tier ${workload.tier}) recovers from ${from.id} to ${to.id}, which share ${refused.map((d) => d.name).join(', ')}: one failure there takes both`,
            `recover to a site outside ${refused.map((d) => d.name).join(', ')}, or accept it for tier ${workload.tier} with tiers: { '${workload.tier}': { accepts_shared: [${refused.map((d) => d.kind).join(', ')}] } } and the business's sign-off`,
            { workload: workload.id },
          ),
        );
      }
    }
  }
};

/** The site a step acts on, when its parameters say (`with: { site: west }`). */
function stepSite(step: Step): string | undefined {
  const site = step.with['site'];
  return typeof site === 'string' ? site : undefined;
}

/**
 * Steps of a runbook that cannot run when a provider is lost: a step needing its control plane
 * (`control_plane:`), and in a provider-wide loss also every step acting on a site of that provider.
 */
export function blockedSteps(
  plan: Plan,
  runbook: Runbook,
  provider: string,
  disaster: 'provider-wide' | 'control-plane-access',
): Step[] {
  const lostSites = new Set(plan.sites.filter((s) => s.provider === provider).map((s) => s.id));
  return runbook.steps.filter((step) => {
    if (step.controlPlane === provider) return true;
    const site = stepSite(step);
    return disaster === 'provider-wide' && site !== undefined && lostSites.has(site);
  });
}

export const providerLoss: Rule = (context, report) => {
  for (const scenario of context.plan.drills.scenarios) {
    if (scenario.disaster !== 'provider-wide' && scenario.disaster !== 'control-plane-access') continue;
    const workload = context.workloads.get(scenario.workload);
    const runbook = workload?.runbooks.find((r) => r.name === scenario.runbook);
    if (workload === undefined || runbook === undefined) continue;
    const provider =
      scenario.provider ?? workloadSites(context.plan, workload).primary.find((s) => s.provider)?.provider;
    const subject = { workload: workload.id, runbook: runbook.name };
    if (provider === undefined) {
      report(
        finding(
          'DRCTL_CONTROL_PLANE_BLOCKED',
          scenario.at,
          `scenario ${scenario.id} (${scenario.disaster}) does not say which provider is lost, and the sites of workload ${workload.id} name none`,
          "add provider: <name> to the scenario, or provider: to the workload's sites",
          subject,
        ),
      );
      continue;
    }
    const blocked = blockedSteps(context.plan, runbook, provider, scenario.disaster);
    if (blocked.length === 0) continue;
    report(
      finding(
        'DRCTL_CONTROL_PLANE_BLOCKED',
        scenario.at,
        `in scenario ${scenario.id} (${scenario.disaster} of ${provider}), ${plural(blocked.length, 'step')} of runbook ${runbook.name} cannot run: ${blocked.map((s) => s.id).join(', ')}`,
        scenario.disaster === 'control-plane-access'
          ? `give each a way that does not need ${provider}'s management API (a host reached directly, a break-glass account), or a manual fallback`
          : `recover to a site outside ${provider}, or give these steps a way that does not depend on it`,
        subject,
      ),
    );
  }
};
