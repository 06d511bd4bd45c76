/**
 * The plan's drills: how often each type of drill is due, the scenarios (their workload and runbook,
 * faults on `component@site`, what they expect, their blast radius and guards), blackout windows and
 * the history of drills held. The safety rules of a scenario are compile-drills.ts.
 */
import type { SourceLocation } from '../errors.ts';
import { DRILL_SCHEDULE_DEFAULTS } from './defaults.ts';
import type { Blackout, DrillRecord, DrillType, Plan, Scenario, Site, Workload } from './model.ts';
import type { PathSegment } from './source.ts';
import { DRILL_MAX_DURATION_MS, checkBlastRadius, checkCron } from './compile-drills.ts';
import { compileProbe } from './compile-workloads.ts';
import {
  duplicates,
  ms,
  optMs,
  reportUnknown,
  type CompileContext,
  type Section,
  type Locator,
  type Reference,
} from './compile-context.ts';

type DrillsInput = NonNullable<CompileContext['files'][number]['input']['drills']>;
type ScenarioInput = NonNullable<DrillsInput['scenarios']>[number];

/** Faults that take a site away from its clients: a site-loss drill with one of them expects a failover. */
const SITE_LOSS_FAULTS: ReadonlySet<string> = new Set(['kill', 'stop', 'pause', 'blackhole', 'reset']);

export function compileDrills(
  ctx: CompileContext,
  section: Section<'drills'> | undefined,
  sites: Site[],
  workloads: Workload[],
): Plan['drills'] {
  const schedule = { ...DRILL_SCHEDULE_DEFAULTS };
  for (const [type, every] of Object.entries(section?.value.schedule ?? {})) {
    if (every !== undefined) schedule[type as DrillType] = ms(every);
  }
  const drills: Plan['drills'] = { schedule, scenarios: [], blackouts: [], history: [] };
  if (section === undefined) return drills;
  const dat: Locator = (...p) => ctx.at(section.file, 'drills', ...p);
  for (const [i, s] of (section.value.scenarios ?? []).entries())
    drills.scenarios.push(compileScenario(ctx, s, workloads, (...p) => dat('scenarios', i, ...p)));
  duplicates(drills.scenarios, 'drill scenario', ctx.report);
  for (const scenario of drills.scenarios) checkBlastRadius(scenario, sites, workloads, ctx.report);
  for (const [i, b] of (section.value.blackouts ?? []).entries()) {
    drills.blackouts.push(compileBlackout(b, dat('blackouts', i)));
    if (b.cron !== undefined) checkCron(b.cron, b.timezone, dat('blackouts', i, 'cron'), ctx.report);
  }
  for (const [i, h] of (section.value.history ?? []).entries())
    drills.history.push(
      compileHistory(ctx, h, drills.scenarios, workloads, (...p) => dat('history', i, ...p)),
    );
  return drills;
}

function compileScenario(
  ctx: CompileContext,
  s: ScenarioInput,
  workloads: Workload[],
  sat: Locator,
): Scenario {
  const workload = workloads.find((w) => w.id === s.workload);
  if (!workload)
    reportUnknown(
      'workload',
      s.workload,
      workloads.map((w) => w.id),
      sat('workload'),
      `scenario ${s.id}`,
      ctx.report,
    );
  const runbook = s.runbook ?? 'failover';
  if (workload && !workload.runbooks.some((r) => r.name === runbook)) {
    reportUnknown(
      'runbook',
      runbook,
      workload.runbooks.map((r) => r.name),
      sat(s.runbook ? 'runbook' : 'workload'),
      `scenario ${s.id}`,
      ctx.report,
    );
  }
  const faults = (s.faults ?? []).map((f, fi) =>
    compileFault(ctx, s.id, f, (...p) => sat('faults', fi, ...p)),
  );
  const scenario: Scenario = {
    id: s.id,
    description: s.description,
    disaster: s.disaster,
    type: s.type ?? 'full',
    workload: s.workload,
    runbook,
    provider: s.provider,
    faults,
    announce: s.announce ?? false,
    ...(s.allow_production === true ? { allowProduction: true } : {}),
    ...(s.recovered_at === undefined ? {} : { recoveredAt: s.recovered_at }),
    expect: {
      rtoMs: optMs(s.expect?.rto) ?? workload?.rtoMs ?? 0,
      rpoMs: optMs(s.expect?.rpo) ?? workload?.rpoMs ?? 0,
      failover:
        s.expect?.failover ??
        (s.disaster === 'site-loss' && faults.some((f) => SITE_LOSS_FAULTS.has(f.kind)) ? true : undefined),
    },
    environment: s.environment ?? 'drill',
    blastRadius: s.blast_radius && {
      sites: s.blast_radius.sites ?? [],
      hosts: s.blast_radius.hosts ?? [],
      components: s.blast_radius.components ?? [],
      at: sat('blast_radius'),
    },
    guards: (s.guards ?? []).map((g, gi) => ({
      name: g.name,
      probe: compileProbe(g.probe),
      at: sat('guards', gi),
    })),
    maxDurationMs: optMs(s.max_duration) ?? DRILL_MAX_DURATION_MS,
    at: sat(),
  };
  const radius = s.blast_radius;
  if (radius !== undefined) {
    const refs = (list: string[] | undefined, key: string, into: Reference[]): void => {
      for (const [ri, id] of (list ?? []).entries()) {
        const location = sat('blast_radius', key, ri);
        into.push({ id, location: () => location, what: `blast radius of scenario ${s.id}` });
      }
    };
    refs(radius.sites, 'sites', ctx.refs.site);
    refs(radius.components, 'components', ctx.refs.component);
    refs(radius.hosts, 'hosts', ctx.refs.host);
  }
  return scenario;
}

type FaultInput = NonNullable<ScenarioInput['faults']>[number];

function compileFault(
  ctx: CompileContext,
  scenario: string,
  f: FaultInput,
  fat: Locator,
): Scenario['faults'][number] {
  const [component = '', site = ''] = f.target.split('@');
  const location = fat('target');
  if (!f.target.includes('@'))
    ctx.report(
      'DRCTL_PLAN_FAULT_TARGET',
      `fault target "${f.target}" must be component@site`,
      location,
      'write it like db@east',
    );
  else {
    ctx.refs.component.push({
      id: component,
      location: () => location,
      what: `fault of scenario ${scenario}`,
    });
    ctx.refs.site.push({ id: site, location: () => location, what: `fault of scenario ${scenario}` });
  }
  return {
    kind: f.kind,
    component,
    site,
    atMs: optMs(f.at) ?? 0,
    durationMs: optMs(f.duration),
    latencyMs: optMs(f.latency),
    jitterMs: optMs(f.jitter),
    bandwidth: f.bandwidth,
    direction: f.direction ?? 'both',
    flag: f.flag,
    ...(f.kind === 'corrupt'
      ? { corrupt: { table: f.table ?? '', rows: f.rows ?? 10, change: f.change ?? 'delete', set: f.set } }
      : {}),
    at: fat(),
  };
}

function compileBlackout(b: NonNullable<DrillsInput['blackouts']>[number], at: SourceLocation): Blackout {
  return {
    from: b.from === undefined ? undefined : new Date(b.from),
    to: b.to === undefined ? undefined : new Date(b.to),
    cron: b.cron,
    durationMs: optMs(b.duration),
    timezone: b.timezone ?? 'UTC',
    reason: b.reason,
    at,
  };
}

function compileHistory(
  ctx: CompileContext,
  h: NonNullable<DrillsInput['history']>[number],
  scenarios: Scenario[],
  workloads: Workload[],
  hat: (...p: PathSegment[]) => SourceLocation,
): DrillRecord {
  const location = hat();
  if (h.workload && !workloads.some((w) => w.id === h.workload))
    reportUnknown(
      'workload',
      h.workload,
      workloads.map((w) => w.id),
      location,
      'drill record',
      ctx.report,
    );
  if (h.scenario && !scenarios.some((s) => s.id === h.scenario))
    reportUnknown(
      'scenario',
      h.scenario,
      scenarios.map((s) => s.id),
      location,
      'drill record',
      ctx.report,
    );
  for (const [j, id] of (h.participants ?? []).entries())
    ctx.refContact(id, () => hat('participants', j), 'participant of a drill record');
  return {
    type: h.type,
    at: new Date(h.at),
    workload: h.workload,
    scenario: h.scenario,
    result: h.result,
    note: h.note,
    participants: h.participants ?? [],
    location,
  };
}
