/**
 * The safety rules of drills that act on an existing environment, checked when the plan is compiled so
 * `drctl validate` refuses a scenario before anything runs: every fault within the scenario's blast radius,
 * production sites only with `allow_production`, blackout windows whose cron parses.
 */
import { Cron } from 'croner';
import type { SourceLocation } from '../errors.ts';
import type { Placement, Scenario, Site, Workload } from './model.ts';
import type { Report } from './compile-context.ts';

/** How long a drill may run when its scenario does not say (and so how long a fault may outlive drctl). */
export const DRILL_MAX_DURATION_MS = 10 * 60_000;

/** The placement a fault on `component@site` acts on. */
export function faultPlacement(
  workloads: readonly Workload[],
  component: string,
  site: string,
): Placement | undefined {
  return workloads
    .flatMap((w) => w.components)
    .find((c) => c.id === component)
    ?.placement.find((p) => p.site === site);
}

/** The host a fault on `component@site` acts through: its placement's `host`, or undefined for this machine. */
export function faultHost(
  workloads: readonly Workload[],
  component: string,
  site: string,
): string | undefined {
  const host = faultPlacement(workloads, component, site)?.fields.host;
  return typeof host === 'string' ? host : undefined;
}

export function checkBlastRadius(
  scenario: Scenario,
  sites: readonly Site[],
  workloads: readonly Workload[],
  report: Report,
): void {
  const existing = scenario.environment === 'existing';
  const radius = scenario.blastRadius;
  if (existing && radius === undefined) {
    report(
      'DRCTL_PLAN_BLAST_RADIUS_MISSING',
      `scenario ${scenario.id} acts on an existing environment but names no blast_radius`,
      scenario.at,
      'add blast_radius: { sites: [...], hosts: [...], components: [...] } listing what its faults may touch',
    );
  }
  for (const fault of scenario.faults) {
    const site = sites.find((s) => s.id === fault.site);
    if (existing && site?.production === true && scenario.allowProduction !== true) {
      report(
        'DRCTL_DRILL_PRODUCTION_REFUSED',
        `scenario ${scenario.id} would inject ${fault.kind} into ${fault.component}@${fault.site}, a production site`,
        fault.at,
        'drill a staging site, or set allow_production: true on the scenario (the drill then also needs an approver: --approved-by)',
      );
    }
    if (radius === undefined) continue;
    const host = faultHost(workloads, fault.component, fault.site);
    const outside = [
      radius.components.includes(fault.component) ? undefined : `component ${fault.component}`,
      radius.sites.includes(fault.site) ? undefined : `site ${fault.site}`,
      host === undefined || radius.hosts.includes(host) ? undefined : `host ${host}`,
    ].filter((what) => what !== undefined);
    if (outside.length > 0) {
      report(
        'DRCTL_PLAN_OUTSIDE_BLAST_RADIUS',
        `fault ${fault.kind} ${fault.component}@${fault.site} of scenario ${scenario.id} touches ${outside.join(', ')}, outside its blast radius`,
        fault.at,
        `add ${outside.join(', ')} to the scenario's blast_radius if the drill may touch it, or aim the fault elsewhere`,
      );
    }
  }
}

export function checkCron(
  expression: string,
  timezone: string | undefined,
  location: SourceLocation,
  report: Report,
): void {
  try {
    new Cron(expression, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
  } catch (error) {
    report(
      'DRCTL_PLAN_SCHEDULE_CRON',
      `the cron expression "${expression}" of a blackout does not parse: ${error instanceof Error ? error.message : String(error)}`,
      location,
      'write five fields, minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5", and an IANA time zone',
    );
  }
}
