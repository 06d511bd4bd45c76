/**
 * Workloads and their components: objectives from the tier unless the plan says otherwise, flows,
 * the front door, placements, replication, backups (with the retention their kind gets by default),
 * runbooks (compile-steps.ts) and schedules (compile-schedules.ts). What they name (contacts,
 * components, sites, hosts) is collected for the reference check.
 */
import type { SourceLocation } from '../errors.ts';
import { PROBE_DEFAULTS, VERIFY_EVERY_DEFAULT_MS, defaultRetention } from './defaults.ts';
import type { Component, FrontDoor, Probe, Retention, TierLevel, TierPolicy, Workload } from './model.ts';
import type { ComponentInput, WorkloadInput } from './schema.ts';
import { locate, type PathSegment } from './source.ts';
import { checkBackupEngines, compileSchedules, compileVerifications } from './compile-schedules.ts';
import { compileRunbooks } from './compile-steps.ts';
import {
  ms,
  optMs,
  reportUnknown,
  type CompileContext,
  type LoadedFile,
  type Locator,
  type Report,
} from './compile-context.ts';

/** A workload with where its `tests:` were written: test schedules name scenarios, compiled later. */
export interface WorkloadTestsInput {
  workload: Workload;
  input: WorkloadInput['tests'];
  file: LoadedFile;
  path: PathSegment[];
}

export function compileWorkloads(
  ctx: CompileContext,
  tiers: Record<TierLevel, TierPolicy>,
): { workloads: Workload[]; tests: WorkloadTestsInput[] } {
  const workloads: Workload[] = [];
  const tests: WorkloadTestsInput[] = [];
  const ids = new Set<string>();
  for (const file of ctx.files) {
    for (const [index, input] of (file.input.workloads ?? []).entries()) {
      const path: PathSegment[] = ['workloads', index];
      const at: Locator = (...p) => ctx.at(file, ...path, ...p);
      if (ids.has(input.id)) {
        ctx.report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `workload ${input.id} is defined twice`,
          at(),
          'give each workload a unique id',
        );
        continue;
      }
      const workload = compileWorkload(input, tiers, at, ctx.report);
      workloads.push(workload);
      ids.add(workload.id);
      tests.push({ workload, input: input.tests, file, path });
      ctx.refContact(input.owner, () => at('owner'), `owner of workload ${input.id}`);
      ctx.refContact(input.signoff?.by, () => at('signoff', 'by'), `sign-off of workload ${input.id}`);
      for (const [fi, flow] of (input.flows ?? []).entries()) {
        for (const key of ['depends_on', 'survives'] as const)
          flow[key]?.forEach((id, i) =>
            ctx.refs.component.push({
              id,
              location: () => at('flows', fi, key, i),
              what: `${key === 'survives' ? 'survives' : 'dependency'} of flow ${flow.name}`,
            }),
          );
      }
      for (const [ci, component] of (input.components ?? []).entries())
        componentRefs(ctx, component, file, [...path, 'components', ci]);
      stepRefs(ctx, workload);
    }
  }
  return { workloads, tests };
}

/** What a component names: other components, the sites and hosts it is placed on, replicated and backed up to. */
function componentRefs(
  ctx: CompileContext,
  component: ComponentInput,
  file: LoadedFile,
  path: PathSegment[],
): void {
  const { refs } = ctx;
  const cat = (...p: PathSegment[]): SourceLocation => ctx.at(file, ...path, ...p);
  component.depends_on?.forEach((id, i) =>
    refs.component.push({
      id,
      location: () => cat('depends_on', i),
      what: `dependency of component ${component.id}`,
    }),
  );
  component.references?.forEach((id, i) =>
    refs.component.push({
      id,
      location: () => cat('references', i),
      what: `reference of component ${component.id}`,
    }),
  );
  for (const [site, placement] of Object.entries(component.placement ?? {})) {
    if (typeof placement.host === 'string')
      refs.host.push({
        id: placement.host,
        location: () => locate(file.source, [...path, 'placement', site, 'host']),
        what: `placement of component ${component.id} at ${site}`,
      });
    refs.site.push({
      id: site,
      location: () => locate(file.source, [...path, 'placement', site], { key: true }),
      what: `placement of component ${component.id}`,
    });
  }
  if (component.replication?.from)
    refs.site.push({
      id: component.replication.from,
      location: () => cat('replication', 'from'),
      what: `replication of ${component.id}`,
    });
  if (component.replication?.to)
    refs.site.push({
      id: component.replication.to,
      location: () => cat('replication', 'to'),
      what: `replication of ${component.id}`,
    });
  component.backups?.forEach((b, i) => {
    refs.site.push({
      id: b.to,
      location: () => cat('backups', i, 'to'),
      what: `backup of component ${component.id}`,
    });
    if (b.host !== undefined)
      refs.host.push({
        id: b.host,
        location: () => cat('backups', i, 'host'),
        what: `backup of component ${component.id}`,
      });
  });
}

/** What the steps of a workload's runbooks name: owners, approvers, hosts, the components and sites checked. */
function stepRefs(ctx: CompileContext, workload: Workload): void {
  const { refs, refContact } = ctx;
  for (const runbook of workload.runbooks) {
    for (const step of runbook.steps) {
      refContact(step.owner, () => step.at, `owner of step ${step.id}`);
      refContact(step.escalateTo, () => step.at, `escalation of step ${step.id}`);
      for (const params of [step.with, step.undo?.with, ...step.validate.map((c) => c.with)])
        for (const key of ['host', 'repository_host'])
          if (typeof params?.[key] === 'string')
            refs.host.push({ id: params[key], location: () => step.at, what: `step ${step.id}` });
      step.approval?.by.forEach((id) => refContact(id, () => step.at, `approver of step ${step.id}`));
      for (const check of [...step.validate, ...(step.wait?.until ? [step.wait.until] : [])]) {
        if (check.component)
          refs.component.push({
            id: check.component,
            location: () => check.at,
            what: `check of step ${step.id}`,
          });
        if (check.site)
          refs.site.push({ id: check.site, location: () => check.at, what: `check of step ${step.id}` });
      }
      if (step.onFailure === 'escalate' && !step.escalateTo && !step.owner) {
        ctx.report(
          'DRCTL_PLAN_ESCALATION_MISSING',
          `step ${step.id} escalates on failure but names no one`,
          step.at,
          'add escalate_to: <contact id>',
        );
      }
    }
  }
}

function compileWorkload(
  input: WorkloadInput,
  tiers: Record<TierLevel, TierPolicy>,
  at: Locator,
  report: Report,
): Workload {
  const tier = tiers[input.tier];
  const probeIntervals = (input.components ?? []).flatMap((c) =>
    c.probe
      ? [
          (optMs(c.probe.interval) ?? PROBE_DEFAULTS.intervalMs) *
            (c.probe.failures ?? PROBE_DEFAULTS.failures),
        ]
      : [],
  );
  const components = (input.components ?? []).map((c, i) =>
    compileComponent(c, input, (...p) => at('components', i, ...p)),
  );
  checkBackupEngines(components, at, report);
  const verifications = compileVerifications(input, components, at, report);
  const runbooks = compileRunbooks(input, at, report);
  return {
    id: input.id,
    name: input.name ?? input.id,
    description: input.description,
    tier: input.tier,
    strategy: input.strategy,
    owner: input.owner,
    team: input.team ?? input.id,
    ...(input.alerts === undefined ? {} : { alerts: input.alerts }),
    rtoMs: optMs(input.rto) ?? tier.rtoMs,
    rpoMs: optMs(input.rpo) ?? tier.rpoMs,
    objectivesFrom: { rto: input.rto ? 'plan' : 'tier', rpo: input.rpo ? 'plan' : 'tier' },
    flows: (input.flows ?? []).map((f) => ({
      name: f.name,
      users: f.users,
      impact: f.impact,
      degraded: f.degraded,
      downtimeCost: f.downtime_cost,
      dependsOn: f.depends_on ?? components.map((c) => c.id),
      survives: f.survives ?? [],
    })),
    signoff: input.signoff && {
      by: input.signoff.by,
      at: new Date(input.signoff.at),
      note: input.signoff.note,
    },
    automaticFailover:
      input.failover?.automatic ??
      (input.tier <= 1 && (input.strategy === 'hot-standby' || input.strategy === 'active-active')),
    detectAfterMs:
      optMs(input.failover?.detect_after) ??
      (probeIntervals.length > 0 ? Math.max(...probeIntervals) : 15_000),
    frontDoor: compileFrontDoor(input, components, at, report),
    components,
    runbooks,
    schedules: compileSchedules(input, components, verifications, at, report),
    verifications,
    at: at(),
  };
}

function compileFrontDoor(
  input: WorkloadInput,
  components: Component[],
  at: Locator,
  report: Report,
): FrontDoor | undefined {
  const door = input.front_door;
  if (door === undefined) return undefined;
  const split = door.listen.lastIndexOf(':');
  const port = Number(door.listen.slice(split + 1));
  if (!components.some((c) => c.id === door.component)) {
    reportUnknown(
      'component',
      door.component,
      components.map((c) => c.id),
      at('front_door', 'component'),
      `the front door of workload ${input.id}`,
      report,
    );
  }
  const adminSplit = door.admin?.lastIndexOf(':') ?? -1;
  return {
    kind: door.kind ?? 'traffic-router',
    admin:
      door.admin === undefined
        ? undefined
        : { host: door.admin.slice(0, adminSplit), port: Number(door.admin.slice(adminSplit + 1)) },
    fields: { ...door },
    host: door.listen.slice(0, split),
    port,
    component: door.component,
    probePath: door.probe ?? '/health',
    intervalMs: optMs(door.interval) ?? 1_000,
    timeoutMs: optMs(door.timeout) ?? 500,
    failures: door.failures ?? 3,
    successes: door.successes ?? 2,
    canary: {
      writePath: door.canary?.write ?? '/orders',
      readPath: door.canary?.read ?? '/catalog',
      table: door.canary?.table ?? 'orders',
    },
    at: at('front_door'),
  };
}

function compileComponent(input: ComponentInput, workload: WorkloadInput, at: Locator): Component {
  const placement = Object.entries(input.placement ?? {}).map(([site, fields]) => ({
    site,
    standby: fields.standby ?? false,
    url: fields.url,
    path: fields.path,
    command: fields.command,
    host: fields.host,
    fields: fields as Record<string, unknown>,
    at: at('placement', site),
  }));
  const probe = input.probe && compileProbe(input.probe);
  const replication = input.replication && {
    mode: input.replication.mode,
    from: input.replication.from,
    to: input.replication.to ?? placement.find((p) => p.standby)?.site,
    everyMs: optMs(input.replication.every),
    maxLagMs: optMs(input.replication.max_lag),
    at: at('replication'),
  };
  return {
    id: input.id,
    workload: workload.id,
    name: input.name ?? input.id,
    kind: input.kind,
    description: input.description,
    tier: input.tier ?? workload.tier,
    strategy: input.strategy ?? workload.strategy,
    placement,
    dependsOn: input.depends_on ?? [],
    references: input.references ?? [],
    probe,
    replication,
    backups: (input.backups ?? []).map((b, i) => ({
      everyMs: ms(b.every),
      type: b.type ?? 'full',
      to: b.to,
      path: b.path,
      host: b.host,
      media: b.media ?? 'disk',
      keep: withRetention(defaultRetention(input.kind), b.keep),
      verifyEveryMs: optMs(b.verify_every) ?? VERIFY_EVERY_DEFAULT_MS,
      immutable: b.immutable ?? false,
      engine: b.engine ?? 'drctl',
      compression: b.compression ?? 'auto',
      repository: b.repository,
      passwordEnv: b.password_env,
      passwordFile: b.password_file,
      stanza: b.stanza,
      at: at('backups', i),
    })),
    recoveryMs: optMs(input.recovery),
    sizeGb: input.size_gb,
    at: at(),
  };
}

function withRetention(
  base: Retention,
  keep: Partial<Record<keyof Retention, number | undefined>> | undefined,
): Retention {
  return {
    daily: keep?.daily ?? base.daily,
    weekly: keep?.weekly ?? base.weekly,
    monthly: keep?.monthly ?? base.monthly,
    yearly: keep?.yearly ?? base.yearly,
  };
}
type ProbeInput = NonNullable<ComponentInput['probe']>;

export function compileProbe(input: ProbeInput): Probe {
  return {
    url: input.url,
    tcp: input.tcp,
    run: input.run,
    expectStatus: input.expect_status ?? PROBE_DEFAULTS.expectStatus,
    intervalMs: optMs(input.interval) ?? PROBE_DEFAULTS.intervalMs,
    timeoutMs: optMs(input.timeout) ?? PROBE_DEFAULTS.timeoutMs,
    failures: input.failures ?? PROBE_DEFAULTS.failures,
    successes: input.successes ?? PROBE_DEFAULTS.successes,
  };
}
