/**
 * Compiling validated plan files into the model: sections of several files merged, durations turned
 * into milliseconds, defaults applied, and every reference checked (unknown ids, duplicates, cycles).
 * Problems are collected, never thrown, so a user sees all of them at once.
 */
import type { PlanProblem, SourceLocation } from '../errors.ts';
import {
  CADENCE_DEFAULTS,
  HOST_CONNECT_TIMEOUT_MS,
  CHANNEL_DEFAULTS,
  CONSOLE_URL_DEFAULT,
  DRILL_SCHEDULE_DEFAULTS,
  PROBE_DEFAULTS,
  REVIEW_INTERVAL_DEFAULT_MS,
  STEP_DEFAULTS,
  TEST_KIND_OF_DRILL,
  TEST_SCHEDULE_BY_TIER,
  TIER_DEFAULTS,
  VERIFY_EVERY_DEFAULT_MS,
  defaultRetention,
} from './defaults.ts';
import { resolve } from 'node:path';
import { Cron } from 'croner';
import { parseDuration } from './duration.ts';
import type {
  Blackout,
  Check,
  Component,
  MessageChannel,
  Contact,
  DrillRecord,
  DrillType,
  FrontDoor,
  Plan,
  Probe,
  ProviderCall,
  RequiredTest,
  Retention,
  Runbook,
  RunbookKind,
  Scenario,
  Site,
  Step,
  StepKind,
  TestKind,
  TierLevel,
  TierPolicy,
  Workload,
} from './model.ts';
import type {
  ChannelInput,
  CheckInput,
  ComponentInput,
  PlanFileInput,
  StepInput,
  WorkloadInput,
} from './schema.ts';
import { MESSAGE_FIELDS, RUNBOOK_KINDS, RUN_SHORTHAND, STATUS_PAGE_CHANNEL, TEST_KINDS } from './terms.ts';
import { locate, locateText, problem, type PathSegment, type SourceFile } from './source.ts';
import { closest } from './closest.ts';
import { providerCall } from './calls.ts';
import { findCycle } from './cycle.ts';
import { checkBackupEngines, compileSchedules, compileVerifications } from './compile-schedules.ts';
import { compileCosts } from './compile-costs.ts';
import { DRILL_MAX_DURATION_MS, checkBlastRadius, checkCron } from './compile-drills.ts';
import { compileAvailability } from './people.ts';

export interface LoadedFile {
  source: SourceFile;
  input: PlanFileInput;
}

interface CompileMeta {
  hash: string;
  baseDir: string;
  files: string[];
}

// Durations were validated by the schema, so parsing cannot fail here.
const ms = (text: string): number => parseDuration(text)!;
const optMs = (text: string | undefined): number | undefined => (text === undefined ? undefined : ms(text));

/** A {{field}} placeholder in a template; spaces inside the braces are allowed. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** Faults that take a site away from its clients: a site-loss drill with one of them expects a failover. */
const SITE_LOSS_FAULTS: ReadonlySet<string> = new Set(['kill', 'stop', 'pause', 'blackhole', 'reset']);

export function compilePlan(files: LoadedFile[], meta: CompileMeta): { plan: Plan; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  const root = files[0]!;
  const at = (file: LoadedFile, ...path: PathSegment[]): SourceLocation => locate(file.source, path);
  const report = (code: string, message: string, location: SourceLocation, hint?: string): void => {
    problems.push(problem(code, message, location, hint));
  };

  /** A section written as one object may appear in one file only. */
  const single = <K extends keyof PlanFileInput>(
    key: K,
  ): { value: NonNullable<PlanFileInput[K]>; file: LoadedFile } | undefined => {
    const holders = files.filter((f) => f.input[key] !== undefined);
    for (const extra of holders.slice(1)) {
      report(
        'DRCTL_PLAN_DUPLICATE',
        `section ${String(key)} is also defined in ${holders[0]!.source.file}`,
        at(extra, key),
        'define each of these sections in one file only',
      );
    }
    const first = holders[0];
    return first ? { value: first.input[key]!, file: first } : undefined;
  };

  // ---- sites
  const sites: Site[] = [];
  for (const file of files) {
    for (const [id, site] of Object.entries(file.input.sites ?? {})) {
      const location = locate(file.source, ['sites', id], { key: true });
      if (sites.some((s) => s.id === id))
        report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `site ${id} is defined twice`,
          location,
          'give each site one definition',
        );
      else
        sites.push({
          id,
          role: site.role,
          description: site.description,
          location: site.location,
          ...(site.production === true ? { production: true } : {}),
          ...(site.alerts === undefined ? {} : { alerts: site.alerts }),
          hosts: Object.entries(site.hosts ?? {}).map(([hostId, host]) => ({
            id: hostId,
            site: id,
            address: host.address,
            user: host.user,
            port: host.port,
            identityFile:
              host.identity_file === undefined ? undefined : resolve(meta.baseDir, host.identity_file),
            passphraseEnv: host.passphrase_env,
            jump: host.jump,
            knownHostsFile:
              host.known_hosts === undefined ? undefined : resolve(meta.baseDir, host.known_hosts),
            connectTimeoutMs: optMs(host.connect_timeout) ?? HOST_CONNECT_TIMEOUT_MS,
            stateDir: host.state_dir ?? '.drctl',
            at: locate(file.source, ['sites', id, 'hosts', hostId], { key: true }),
          })),
          provider: site.provider,
          region: site.region,
          failureDomains: site.failure_domains ?? [],
          at: location,
        });
    }
  }
  const siteIds = sites.map((s) => s.id);
  // failover moves a primary's workloads to a secondary: with two primaries nobody knows which one moves
  for (const extra of sites.filter((s) => s.role === 'primary').slice(1))
    report(
      'DRCTL_PLAN_SITE_ROLE',
      `site ${extra.id} is a second primary site (${sites.find((s) => s.role === 'primary')!.id} is the first)`,
      extra.at,
      'give one primary site; make the others secondary or backup',
    );
  const hosts = sites.flatMap((s) => s.hosts);
  const hostIds = hosts.map((h) => h.id);
  duplicates(hosts, 'host', report);
  const hostRefs: Reference[] = hosts.flatMap((h) =>
    h.jump === undefined ? [] : [{ id: h.jump, location: () => h.at, what: `jump of host ${h.id}` }],
  );

  // ---- tiers
  const tiers = structuredClone(TIER_DEFAULTS) as Record<TierLevel, TierPolicy>;
  const tierSection = single('tiers');
  if (tierSection) {
    for (const [key, override] of Object.entries(tierSection.value)) {
      const level = Number(key) as TierLevel;
      const location = at(tierSection.file, 'tiers', key);
      tiers[level] = {
        tier: level,
        name: override.name ?? tiers[level].name,
        slo: override.slo ?? tiers[level].slo,
        rtoMs: optMs(override.rto) ?? tiers[level].rtoMs,
        rpoMs: optMs(override.rpo) ?? tiers[level].rpoMs,
        acceptsShared: override.accepts_shared ?? tiers[level].acceptsShared,
        source: `${location.file}:${location.line}`,
      };
    }
  }

  // ---- contacts
  const contacts: Contact[] = [];
  const contactRefs: Reference[] = [];
  const refContact = (id: string | undefined, location: () => SourceLocation, what: string): void => {
    if (id !== undefined) contactRefs.push({ id, location, what });
  };
  for (const file of files) {
    for (const [index, contact] of (file.input.contacts ?? []).entries()) {
      const location = at(file, 'contacts', index);
      if (contacts.some((c) => c.id === contact.id)) {
        report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `contact ${contact.id} is defined twice`,
          location,
          'give each contact a unique id',
        );
        continue;
      }
      contacts.push({
        id: contact.id,
        name: contact.name,
        role: contact.role,
        email: contact.email,
        phone: contact.phone,
        backup: contact.backup,
        escalation: contact.escalation ?? [],
        roles: contact.roles ?? [],
        ...compileAvailability(contact),
        at: location,
      });
      refContact(
        contact.backup,
        () => at(file, 'contacts', index, 'backup'),
        `backup of contact ${contact.id}`,
      );
      for (const [i, id] of (contact.escalation ?? []).entries())
        refContact(
          id,
          () => at(file, 'contacts', index, 'escalation', i),
          `escalation of contact ${contact.id}`,
        );
    }
  }

  // ---- activation
  const activationSection = single('activation');
  const activation = activationSection && {
    criteria: activationSection.value.criteria,
    approvers: activationSection.value.approvers,
    quorum: activationSection.value.quorum ?? 1,
    declareWithinMs: optMs(activationSection.value.declare_within),
    at: at(activationSection.file, 'activation'),
  };
  if (activationSection && activation) {
    activation.approvers.forEach((id, i) =>
      refContact(id, () => at(activationSection.file, 'activation', 'approvers', i), 'activation approver'),
    );
    if (activation.quorum > activation.approvers.length) {
      report(
        'DRCTL_PLAN_QUORUM',
        `activation quorum ${activation.quorum} is more than its ${activation.approvers.length} approvers`,
        at(activationSection.file, 'activation', 'quorum'),
        'lower the quorum or add approvers',
      );
    }
  }

  // ---- executors
  const executorsSection = single('executors');
  const executors = executorsSection && {
    teams: executorsSection.value.teams ?? {},
    sites: executorsSection.value.sites ?? {},
    at: at(executorsSection.file, 'executors'),
  };

  // ---- communications
  const commsSection = single('communications');
  const cadence = commsSection?.value.cadence;
  const cat = (...p: PathSegment[]): SourceLocation => at(commsSection!.file, 'communications', ...p);
  const channels = (commsSection?.value.channels ?? []).map((c, i) =>
    compileChannel(c, (...p) => cat('channels', i, ...p), report),
  );
  duplicates(channels, 'channel', report);
  const communications: Plan['communications'] = {
    statusPageWithinMs: optMs(cadence?.status_page_within) ?? CADENCE_DEFAULTS.statusPageWithinMs,
    updatesEveryMs: optMs(cadence?.updates_every) ?? CADENCE_DEFAULTS.updatesEveryMs,
    rootCauseWithinMs: optMs(cadence?.root_cause_within) ?? CADENCE_DEFAULTS.rootCauseWithinMs,
    consoleUrl: commsSection?.value.console_url ?? CONSOLE_URL_DEFAULT,
    channels,
    templates: (commsSection?.value.templates ?? []).map((t, i) => ({
      id: t.id,
      on: t.on,
      channel: t.channel,
      to: t.to ?? [],
      subject: t.subject,
      body: t.body,
      at: cat('templates', i),
    })),
  };
  duplicates(communications.templates, 'communication template', report);
  const channelIds = [...channels.map((c) => c.id), STATUS_PAGE_CHANNEL];
  for (const [i, template] of (commsSection?.value.templates ?? []).entries()) {
    if (!channelIds.includes(template.channel))
      reportUnknown(
        'channel',
        template.channel,
        channelIds,
        cat('templates', i, 'channel'),
        `template ${template.id}`,
        report,
      );
    for (const key of ['subject', 'body'] as const) {
      const text = template[key];
      if (text === undefined) continue;
      for (const match of text.matchAll(PLACEHOLDER)) {
        const field = match[1]!;
        if (Object.hasOwn(MESSAGE_FIELDS, field)) continue;
        // {{timestamp}} read as "data current to" during a disaster, a false statement: it was the send time
        const suggestion =
          field === 'timestamp' ? 'sent_at}} or {{data_as_of' : closest(field, Object.keys(MESSAGE_FIELDS));
        report(
          'DRCTL_PLAN_TEMPLATE_FIELD',
          `template ${template.id} names the field {{${field}}}, which messages do not have${suggestion ? `; did you mean {{${suggestion}}}?` : ''}`,
          locateText(commsSection!.file.source, ['communications', 'templates', i, key], match[0]),
          `use one of: ${Object.keys(MESSAGE_FIELDS).join(', ')} (docs/communications.md)`,
        );
      }
    }
  }

  // ---- workloads and components
  const workloads: Workload[] = [];
  const workloadIds = new Set<string>();
  const componentRefs: Reference[] = [];
  const siteRefs: Reference[] = [];
  if (executorsSection)
    for (const site of Object.keys(executorsSection.value.sites ?? {}))
      siteRefs.push({
        id: site,
        location: () => locate(executorsSection.file.source, ['executors', 'sites', site], { key: true }),
        what: 'executors of a site',
      });
  // test schedules name scenarios, which are compiled after the workloads
  const testInputs: {
    workload: Workload;
    input: WorkloadInput['tests'];
    file: LoadedFile;
    path: PathSegment[];
  }[] = [];
  for (const file of files) {
    for (const [index, input] of (file.input.workloads ?? []).entries()) {
      const path: PathSegment[] = ['workloads', index];
      if (workloadIds.has(input.id)) {
        report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `workload ${input.id} is defined twice`,
          at(file, ...path),
          'give each workload a unique id',
        );
        continue;
      }
      const workload = compileWorkload(input, tiers, (...p) => at(file, ...path, ...p), report);
      workloads.push(workload);
      workloadIds.add(workload.id);
      testInputs.push({ workload, input: input.tests, file, path });
      refContact(input.owner, () => at(file, ...path, 'owner'), `owner of workload ${input.id}`);
      refContact(
        input.signoff?.by,
        () => at(file, ...path, 'signoff', 'by'),
        `sign-off of workload ${input.id}`,
      );
      for (const [fi, flow] of (input.flows ?? []).entries()) {
        for (const key of ['depends_on', 'survives'] as const)
          flow[key]?.forEach((id, i) =>
            componentRefs.push({
              id,
              location: () => at(file, ...path, 'flows', fi, key, i),
              what: `${key === 'survives' ? 'survives' : 'dependency'} of flow ${flow.name}`,
            }),
          );
      }
      for (const [ci, component] of (input.components ?? []).entries()) {
        const cat = (...p: PathSegment[]): SourceLocation => at(file, ...path, 'components', ci, ...p);
        component.depends_on?.forEach((id, i) =>
          componentRefs.push({
            id,
            location: () => cat('depends_on', i),
            what: `dependency of component ${component.id}`,
          }),
        );
        component.references?.forEach((id, i) =>
          componentRefs.push({
            id,
            location: () => cat('references', i),
            what: `reference of component ${component.id}`,
          }),
        );
        for (const [site, placement] of Object.entries(component.placement ?? {})) {
          if (typeof placement.host === 'string')
            hostRefs.push({
              id: placement.host,
              location: () => locate(file.source, [...path, 'components', ci, 'placement', site, 'host']),
              what: `placement of component ${component.id} at ${site}`,
            });
          siteRefs.push({
            id: site,
            location: () =>
              locate(file.source, [...path, 'components', ci, 'placement', site], { key: true }),
            what: `placement of component ${component.id}`,
          });
        }
        if (component.replication?.from)
          siteRefs.push({
            id: component.replication.from,
            location: () => cat('replication', 'from'),
            what: `replication of ${component.id}`,
          });
        if (component.replication?.to)
          siteRefs.push({
            id: component.replication.to,
            location: () => cat('replication', 'to'),
            what: `replication of ${component.id}`,
          });
        component.backups?.forEach((b, i) =>
          siteRefs.push({
            id: b.to,
            location: () => cat('backups', i, 'to'),
            what: `backup of component ${component.id}`,
          }),
        );
      }
      for (const runbook of workload.runbooks) {
        for (const step of runbook.steps) {
          refContact(step.owner, () => step.at, `owner of step ${step.id}`);
          refContact(step.escalateTo, () => step.at, `escalation of step ${step.id}`);
          for (const params of [step.with, step.undo?.with, ...step.validate.map((c) => c.with)])
            if (typeof params?.host === 'string')
              hostRefs.push({ id: params.host, location: () => step.at, what: `step ${step.id}` });
          step.approval?.by.forEach((id) => refContact(id, () => step.at, `approver of step ${step.id}`));
          for (const check of [...step.validate, ...(step.wait?.until ? [step.wait.until] : [])]) {
            if (check.component)
              componentRefs.push({
                id: check.component,
                location: () => check.at,
                what: `check of step ${step.id}`,
              });
            if (check.site)
              siteRefs.push({ id: check.site, location: () => check.at, what: `check of step ${step.id}` });
          }
          if (step.onFailure === 'escalate' && !step.escalateTo && !step.owner) {
            report(
              'DRCTL_PLAN_ESCALATION_MISSING',
              `step ${step.id} escalates on failure but names no one`,
              step.at,
              'add escalate_to: <contact id>',
            );
          }
        }
      }
    }
  }
  const components = workloads.flatMap((w) => w.components);
  duplicates(components, 'component', report);
  const componentIds = components.map((c) => c.id);

  // ---- drills
  const drillsSection = single('drills');
  const schedule = { ...DRILL_SCHEDULE_DEFAULTS };
  for (const [type, every] of Object.entries(drillsSection?.value.schedule ?? {})) {
    if (every !== undefined) schedule[type as DrillType] = ms(every);
  }
  const scenarios: Scenario[] = [];
  const blackouts: Blackout[] = [];
  const history: DrillRecord[] = [];
  if (drillsSection) {
    const dat = (...p: PathSegment[]): SourceLocation => at(drillsSection.file, 'drills', ...p);
    for (const [i, s] of (drillsSection.value.scenarios ?? []).entries()) {
      const workload = workloads.find((w) => w.id === s.workload);
      if (!workload)
        reportUnknown(
          'workload',
          s.workload,
          workloads.map((w) => w.id),
          dat('scenarios', i, 'workload'),
          `scenario ${s.id}`,
          report,
        );
      const runbook = s.runbook ?? 'failover';
      if (workload && !workload.runbooks.some((r) => r.name === runbook)) {
        reportUnknown(
          'runbook',
          runbook,
          workload.runbooks.map((r) => r.name),
          dat('scenarios', i, s.runbook ? 'runbook' : 'workload'),
          `scenario ${s.id}`,
          report,
        );
      }
      const faults = (s.faults ?? []).map((f, fi) => {
        const [component = '', site = ''] = f.target.split('@');
        const location = dat('scenarios', i, 'faults', fi, 'target');
        if (!f.target.includes('@'))
          report(
            'DRCTL_PLAN_FAULT_TARGET',
            `fault target "${f.target}" must be component@site`,
            location,
            'write it like db@east',
          );
        else {
          componentRefs.push({ id: component, location: () => location, what: `fault of scenario ${s.id}` });
          siteRefs.push({ id: site, location: () => location, what: `fault of scenario ${s.id}` });
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
            ? {
                corrupt: {
                  table: f.table ?? '',
                  rows: f.rows ?? 10,
                  change: f.change ?? 'delete',
                  set: f.set,
                },
              }
            : {}),
          at: dat('scenarios', i, 'faults', fi),
        };
      });
      scenarios.push({
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
            (s.disaster === 'site-loss' && faults.some((f) => SITE_LOSS_FAULTS.has(f.kind))
              ? true
              : undefined),
        },
        environment: s.environment ?? 'drill',
        blastRadius: s.blast_radius && {
          sites: s.blast_radius.sites ?? [],
          hosts: s.blast_radius.hosts ?? [],
          components: s.blast_radius.components ?? [],
          at: dat('scenarios', i, 'blast_radius'),
        },
        guards: (s.guards ?? []).map((g, gi) => ({
          name: g.name,
          probe: compileProbe(g.probe),
          at: dat('scenarios', i, 'guards', gi),
        })),
        maxDurationMs: optMs(s.max_duration) ?? DRILL_MAX_DURATION_MS,
        at: dat('scenarios', i),
      });
      const radius = s.blast_radius;
      if (radius !== undefined) {
        const refs = (list: string[] | undefined, key: string, into: Reference[]): void => {
          for (const [ri, id] of (list ?? []).entries()) {
            const location = dat('scenarios', i, 'blast_radius', key, ri);
            into.push({ id, location: () => location, what: `blast radius of scenario ${s.id}` });
          }
        };
        refs(radius.sites, 'sites', siteRefs);
        refs(radius.components, 'components', componentRefs);
        refs(radius.hosts, 'hosts', hostRefs);
      }
    }
    duplicates(scenarios, 'drill scenario', report);
    for (const scenario of scenarios) checkBlastRadius(scenario, sites, workloads, report);
    for (const [i, b] of (drillsSection.value.blackouts ?? []).entries()) {
      blackouts.push({
        from: b.from === undefined ? undefined : new Date(b.from),
        to: b.to === undefined ? undefined : new Date(b.to),
        cron: b.cron,
        durationMs: optMs(b.duration),
        timezone: b.timezone ?? 'UTC',
        reason: b.reason,
        at: dat('blackouts', i),
      });
      if (b.cron !== undefined) checkCron(b.cron, b.timezone, dat('blackouts', i, 'cron'), report);
    }
    for (const [i, h] of (drillsSection.value.history ?? []).entries()) {
      const location = dat('history', i);
      if (h.workload && !workloads.some((w) => w.id === h.workload))
        reportUnknown(
          'workload',
          h.workload,
          workloads.map((w) => w.id),
          location,
          'drill record',
          report,
        );
      if (h.scenario && !scenarios.some((s) => s.id === h.scenario))
        reportUnknown(
          'scenario',
          h.scenario,
          scenarios.map((s) => s.id),
          location,
          'drill record',
          report,
        );
      for (const [j, id] of (h.participants ?? []).entries())
        refContact(id, () => dat('history', i, 'participants', j), 'participant of a drill record');
      history.push({
        type: h.type,
        at: new Date(h.at),
        workload: h.workload,
        scenario: h.scenario,
        result: h.result,
        note: h.note,
        participants: h.participants ?? [],
        location,
      });
    }
  }

  const planSchedule = new Map<TestKind, { everyMs: number; at: SourceLocation }>();
  for (const [type, every] of Object.entries(drillsSection?.value.schedule ?? {}))
    if (every !== undefined)
      planSchedule.set(TEST_KIND_OF_DRILL[type as DrillType], {
        everyMs: ms(every),
        at: at(drillsSection!.file, 'drills', 'schedule', type),
      });
  for (const { workload, input, file, path } of testInputs) {
    const locator: Locator = (...p) => at(file, ...path, 'tests', ...p);
    const keyAt = (key: string): SourceLocation =>
      locate(file.source, [...path, 'tests', 'schedule', key], { key: true });
    workload.tests = {
      unattended: input?.unattended ?? false,
      required: compileTests(workload, input, scenarios, planSchedule, locator, keyAt, report),
    };
  }

  const reviewSection = single('review');
  if (reviewSection)
    refContact(reviewSection.value.by, () => at(reviewSection.file, 'review', 'by'), 'plan review');

  // ---- references, now that everything is known
  const contactIds = contacts.map((c) => c.id);
  const known = { contact: new Set(contactIds), component: new Set(componentIds), site: new Set(siteIds) };
  for (const ref of contactRefs)
    if (!known.contact.has(ref.id))
      reportUnknown('contact', ref.id, contactIds, ref.location(), ref.what, report);
  for (const ref of componentRefs)
    if (!known.component.has(ref.id))
      reportUnknown('component', ref.id, componentIds, ref.location(), ref.what, report);
  for (const ref of siteRefs)
    if (!known.site.has(ref.id)) reportUnknown('site', ref.id, siteIds, ref.location(), ref.what, report);
  for (const ref of hostRefs)
    if (!hostIds.includes(ref.id)) reportUnknown('host', ref.id, hostIds, ref.location(), ref.what, report);
  const workloadList = workloads.map((w) => w.id);
  for (const file of files)
    for (const [index, contact] of (file.input.contacts ?? []).entries())
      for (const [i, id] of (contact.workloads ?? []).entries())
        if (!workloadIds.has(id))
          reportUnknown(
            'workload',
            id,
            workloadList,
            at(file, 'contacts', index, 'workloads', i),
            `contact ${contact.id}`,
            report,
          );

  // ---- cycles
  const byComponent = new Map(components.map((c) => [c.id, c]));
  const componentCycle = findCycle(
    componentIds,
    (id) => byComponent.get(id)?.dependsOn.filter((d) => byComponent.has(d)) ?? [],
  );
  if (componentCycle) {
    report(
      'DRCTL_PLAN_CYCLE',
      `components depend on each other in a cycle: ${componentCycle.join(' → ')}`,
      byComponent.get(componentCycle[0]!)!.at,
      'remove one depends_on so the dependencies form a tree',
    );
  }

  const costsSection = single('costs');
  const review = reviewSection?.value;
  const plan: Plan = {
    version: 1,
    name: single('name')?.value ?? defaultName(root.source.file),
    description: single('description')?.value,
    hash: meta.hash,
    files: meta.files,
    baseDir: meta.baseDir,
    review: {
      intervalMs: optMs(review?.interval) ?? REVIEW_INTERVAL_DEFAULT_MS,
      last: review?.last === undefined ? undefined : new Date(review.last),
      by: review?.by,
      at: reviewSection ? at(reviewSection.file, 'review') : at(root),
    },
    sites,
    tiers,
    contacts,
    activation,
    ...(executors === undefined ? {} : { executors }),
    communications,
    secrets: { env: single('secrets')?.value.env ?? [], file: single('secrets')?.value.file },
    workloads,
    drills: { schedule, scenarios, blackouts, history },
    costs: costsSection && compileCosts(costsSection.value, at(costsSection.file, 'costs')),
    at: at(root),
  };
  return { plan, problems };
}

/**
 * The tests a workload must have: seed 004's schedule for its tier (the kinds that apply to it), the plan's
 * drills.schedule over that, and the workload's own tests.schedule over both.
 */
function compileTests(
  workload: Workload,
  input: WorkloadInput['tests'],
  scenarios: Scenario[],
  planSchedule: Map<TestKind, { everyMs: number; at: SourceLocation }>,
  at: Locator,
  keyAt: (key: string) => SourceLocation,
  report: Report,
): RequiredTest[] {
  const hasFailover = workload.runbooks.some((r) => r.kind === 'failover');
  const applies: Record<TestKind, boolean> = {
    tabletop: workload.runbooks.length > 0,
    'partial-failover': hasFailover,
    'full-failover': hasFailover,
    'backup-restore':
      workload.components.some((c) => c.backups.length > 0) ||
      workload.runbooks.some((r) => r.kind === 'restore'),
  };
  const own = scenarios.filter((s) => s.workload === workload.id);
  const required = new Map<string, RequiredTest>();
  const tierDefaults = TEST_SCHEDULE_BY_TIER[workload.tier];
  for (const kind of TEST_KINDS) {
    if (!applies[kind]) continue;
    const fromPlan = planSchedule.get(kind);
    const everyMs = fromPlan?.everyMs ?? tierDefaults[kind];
    if (everyMs === undefined) continue;
    required.set(kind, {
      id: kind,
      kind,
      // the workload's first scenario of that kind is what an automated test runs
      scenario: own.find((s) => TEST_KIND_OF_DRILL[s.type] === kind)?.id,
      everyMs,
      cron: undefined,
      timezone: undefined,
      source: fromPlan ? 'plan' : 'tier',
      at: fromPlan?.at ?? workload.at,
    });
  }
  for (const [key, value] of Object.entries(input?.schedule ?? {})) {
    const spec = typeof value === 'string' ? { every: value } : value;
    const location = keyAt(key);
    const isKind = (TEST_KINDS as readonly string[]).includes(key);
    const named = own.find((s) => s.id === key);
    if (!isKind && named === undefined) {
      reportUnknown(
        'test kind or drill scenario',
        key,
        [...TEST_KINDS, ...own.map((s) => s.id)],
        location,
        `the test schedule of workload ${workload.id}`,
        report,
      );
      continue;
    }
    const scenarioId = named?.id ?? spec.scenario;
    if (spec.scenario !== undefined && !own.some((s) => s.id === spec.scenario)) {
      reportUnknown(
        'drill scenario',
        spec.scenario,
        own.map((s) => s.id),
        at('schedule', key, 'scenario'),
        `the ${key} test of workload ${workload.id}`,
        report,
      );
    }
    if ((spec.every === undefined) === (spec.cron === undefined)) {
      report(
        'DRCTL_PLAN_SCHEDULE_WHEN',
        `the ${key} test of workload ${workload.id} needs exactly one of every or cron`,
        location,
        'write every: 91d, or cron: "0 2 * * 6"',
      );
      continue;
    }
    // an interval of zero never comes; the schema refuses it (DRCTL_PLAN_VALUE) before this runs
    const everyMs = optMs(spec.every);
    if (spec.cron !== undefined) {
      try {
        new Cron(spec.cron, { paused: true, ...(spec.timezone ? { timezone: spec.timezone } : {}) });
      } catch (error) {
        report(
          'DRCTL_PLAN_SCHEDULE_CRON',
          `the cron expression "${spec.cron}" of the ${key} test of workload ${workload.id} does not parse: ${error instanceof Error ? error.message : String(error)}`,
          at('schedule', key, spec.timezone && validCron(spec.cron) ? 'timezone' : 'cron'),
          'write five fields, minute hour day-of-month month day-of-week, e.g. "0 2 * * 6", and an IANA time zone',
        );
        continue;
      }
    }
    required.set(key, {
      id: key,
      kind: named ? TEST_KIND_OF_DRILL[named.type] : (key as TestKind),
      scenario: scenarioId,
      everyMs,
      cron: spec.cron,
      timezone: spec.timezone,
      source: 'workload',
      at: location,
    });
  }
  return [...required.values()];
}

function validCron(expression: string): boolean {
  try {
    new Cron(expression, { paused: true });
    return true;
  } catch {
    return false;
  }
}

/** A reference to check once every id is known; its position is computed only if it is broken. */
interface Reference {
  id: string;
  location: () => SourceLocation;
  what: string;
}

type Report = (code: string, message: string, location: SourceLocation, hint?: string) => void;
type Locator = (...path: PathSegment[]) => SourceLocation;

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
  const runbooks = Object.entries(input.runbooks ?? {}).map(([name, runbook]): Runbook => {
    const kind: RunbookKind =
      runbook.kind ??
      ((RUNBOOK_KINDS as readonly string[]).includes(name) ? (name as RunbookKind) : 'custom');
    const rat = (...p: PathSegment[]): SourceLocation => at('runbooks', name, ...p);
    const steps = runbook.steps.map((step, i) => compileStep(step, (...p) => rat('steps', i, ...p), report));
    checkSteps(steps, name, input.id, report);
    return {
      workload: input.id,
      name,
      kind,
      description: runbook.description,
      prerequisites: runbook.prerequisites ?? [],
      postRequisites: runbook.post_requisites ?? [],
      steps,
      at: rat(),
    };
  });
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

/** What each channel type needs: a webhook a URL, an e-mail a host and a sender, a command its program. */
function compileChannel(input: ChannelInput, at: Locator, report: Report): MessageChannel {
  const need = (ok: boolean, what: string, key: string, hint: string): void => {
    if (!ok) report('DRCTL_PLAN_CHANNEL', `channel ${input.id} (${input.type}) needs ${what}`, at(key), hint);
  };
  if (input.type === 'webhook')
    need(
      (input.url === undefined) !== (input.url_env === undefined),
      'exactly one of url or url_env',
      'type',
      'write url: http://127.0.0.1:9000/hook, or url_env: NAME to keep a token out of the plan',
    );
  if (input.type === 'email') {
    need(input.host !== undefined, 'a host', 'type', 'write host: 127.0.0.1 (the SMTP server)');
    need(input.from !== undefined, 'a from address', 'type', 'write from: drctl@example.com');
  }
  if (input.type === 'command')
    need(input.command !== undefined, 'a command', 'type', 'write command: ./page-on-call.sh');
  const port = input.port ?? CHANNEL_DEFAULTS.smtpPort;
  return {
    id: input.id,
    type: input.type,
    description: input.description,
    shape: input.shape ?? 'slack',
    url: input.url,
    urlEnv: input.url_env,
    host: input.host,
    port,
    secure: input.secure ?? port === 465,
    user: input.user,
    passwordEnv: input.password_env,
    from: input.from,
    to: input.to ?? [],
    command: input.command,
    timeoutMs: optMs(input.timeout) ?? CHANNEL_DEFAULTS.timeoutMs,
    retry: {
      attempts: input.retry?.attempts ?? CHANNEL_DEFAULTS.attempts,
      backoffMs: optMs(input.retry?.backoff) ?? CHANNEL_DEFAULTS.backoffMs,
      maxBackoffMs: optMs(input.retry?.max_backoff) ?? CHANNEL_DEFAULTS.maxBackoffMs,
    },
    test: input.test ?? false,
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

const STEP_KINDS: Array<[keyof StepInput, StepKind]> = [
  ['run', 'shell'],
  ['action', 'action'],
  ['manual', 'manual'],
  ['approval', 'approval'],
  ['wait', 'wait'],
];

function compileStep(input: StepInput, at: Locator, report: Report): Step {
  const present = STEP_KINDS.filter(([key]) => input[key] !== undefined);
  let kind: StepKind = present[0]?.[1] ?? 'check';
  if (present.length > 1) {
    report(
      'DRCTL_PLAN_STEP_KIND',
      `step ${input.id} has ${present.map(([k]) => k).join(' and ')}; a step does exactly one thing`,
      at(present[1]![0]),
      'split it into several steps joined by needs',
    );
  } else if (present.length === 0 && (input.validate ?? []).length === 0) {
    report(
      'DRCTL_PLAN_STEP_EMPTY',
      `step ${input.id} does nothing`,
      at(),
      'give it one of run, action, manual, approval, wait, or validate checks',
    );
    kind = 'manual';
  }
  if (input.wait && input.wait.for === undefined && input.wait.until === undefined) {
    report(
      'DRCTL_PLAN_STEP_WAIT',
      `step ${input.id} waits for nothing`,
      at('wait'),
      'give wait a duration (for: 30s) or a check (until: ...)',
    );
  }
  const retries = typeof input.retries === 'number' ? { attempts: input.retries } : input.retries;
  return {
    id: input.id,
    name: input.name ?? input.id,
    description: input.description,
    kind,
    needs: input.needs ?? [],
    prerequisite: input.prerequisite,
    owner: input.owner,
    expectedMs: optMs(input.expected) ?? STEP_DEFAULTS.expectedMs,
    contingencyMs: optMs(input.contingency) ?? STEP_DEFAULTS.contingencyMs,
    timeoutMs: optMs(input.timeout),
    retries: {
      attempts: retries?.attempts ?? 0,
      backoffMs:
        optMs(retries && 'backoff' in retries ? retries.backoff : undefined) ?? STEP_DEFAULTS.backoffMs,
      maxBackoffMs:
        optMs(retries && 'max_backoff' in retries ? retries.max_backoff : undefined) ??
        STEP_DEFAULTS.maxBackoffMs,
    },
    idempotent: input.idempotent ?? false,
    run: input.run,
    action: input.action,
    call:
      kind === 'shell' && input.run !== undefined
        ? runCall(input.run, input.with ?? {}, 'action')
        : kind === 'action' && input.action !== undefined
          ? providerCall(input.action, input.with ?? {})
          : undefined,
    with: input.with ?? {},
    manual: input.manual,
    approval: input.approval && {
      by: input.approval.by ?? [],
      role: input.approval.role,
      quorum: input.approval.quorum ?? 1,
      fourEyes: input.approval.four_eyes ?? true,
    },
    wait: input.wait && {
      forMs: optMs(input.wait.for),
      until: input.wait.until && compileCheck(input.wait.until, (...p) => at('wait', 'until', ...p)),
      everyMs: optMs(input.wait.every) ?? STEP_DEFAULTS.waitEveryMs,
      deadlineMs: optMs(input.wait.deadline),
    },
    validate: (input.validate ?? []).map((c, i) => compileCheck(c, (...p) => at('validate', i, ...p))),
    evidence: input.evidence ?? [],
    onFailure: input.on_failure ?? 'abort',
    escalateTo: input.escalate_to,
    controlPlane: input.control_plane,
    undo: input.undo && {
      call: callOf(input.undo, input.undo.with ?? {}),
      run: input.undo.run,
      action: input.undo.action,
      with: input.undo.with ?? {},
      description: input.undo.description,
    },
    at: at(),
  };
}

function compileCheck(input: CheckInput, at: Locator): Check {
  const http = typeof input.http === 'string' ? { url: input.http } : input.http;
  const name =
    input.name ?? input.run ?? (http ? `GET ${http.url}` : undefined) ?? input.sql ?? input.check ?? 'check';
  return {
    name,
    run: input.run,
    http: http && {
      url: http.url,
      method: ('method' in http ? http.method : undefined) ?? 'GET',
      status: ('status' in http ? http.status : undefined) ?? 200,
      bodyContains: 'body_contains' in http ? http.body_contains : undefined,
      json: 'json' in http ? http.json : undefined,
      latencyMs: optMs('latency' in http ? http.latency : undefined),
    },
    sql: input.sql,
    check: input.check,
    component: input.component,
    site: input.site,
    with: input.with ?? {},
    call:
      input.run !== undefined
        ? runCall(input.run, {}, 'check')
        : input.check === undefined
          ? undefined
          : providerCall(input.check, {
              ...input.with,
              ...(input.component ? { component: input.component } : {}),
              ...(input.site ? { site: input.site } : {}),
            }),
    expect: input.expect,
    timeoutMs: optMs(input.timeout) ?? STEP_DEFAULTS.checkTimeoutMs,
    evidence: input.evidence,
    at: at(),
  };
}

/** What `run:` stands for, in a step (`kind: 'action'`) or a check (`kind: 'check'`): the schema's shorthand. */
function runCall(command: string, params: Record<string, unknown>, kind: 'action' | 'check'): ProviderCall {
  return {
    provider: RUN_SHORTHAND.provider,
    name: RUN_SHORTHAND[kind],
    params: { [RUN_SHORTHAND.param]: command, ...params },
  };
}

/** The call of an undo's `run:` or `action:`, whichever is given. */
function callOf(
  given: { run?: string | undefined; action?: string | undefined },
  params: Record<string, unknown>,
): ProviderCall | undefined {
  if (given.run !== undefined) return runCall(given.run, params, 'action');
  return given.action === undefined ? undefined : providerCall(given.action, params);
}

/** Step ids unique in their runbook, `needs` naming known steps, and no cycle through `needs`. */
function checkSteps(steps: Step[], runbook: string, workload: string, report: Report): void {
  duplicates(steps, `step of runbook ${workload}/${runbook}`, report);
  const ids = steps.map((s) => s.id);
  for (const step of steps) {
    for (const need of step.needs) {
      if (need === step.id)
        report('DRCTL_PLAN_CYCLE', `step ${step.id} needs itself`, step.at, 'remove it from its own needs');
      else if (!ids.includes(need))
        reportUnknown('step', need, ids, step.at, `needs of step ${step.id}`, report);
    }
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const cycle = findCycle(ids, (id) => (byId.get(id)?.needs ?? []).filter((n) => byId.has(n) && n !== id));
  if (cycle) {
    report(
      'DRCTL_PLAN_CYCLE',
      `steps of runbook ${workload}/${runbook} need each other in a cycle: ${cycle.join(' → ')}`,
      byId.get(cycle[0]!)!.at,
      'remove one of the needs so the steps can run in an order',
    );
  }
}

type ProbeInput = NonNullable<ComponentInput['probe']>;

function compileProbe(input: ProbeInput): Probe {
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

function duplicates(items: Array<{ id: string; at: SourceLocation }>, what: string, report: Report): void {
  const seen = new Map<string, SourceLocation>();
  for (const item of items) {
    const first = seen.get(item.id);
    if (first)
      report(
        'DRCTL_PLAN_DUPLICATE_ID',
        `${what} ${item.id} is defined twice (first at ${first.file}:${first.line})`,
        item.at,
        'give each one a unique id',
      );
    else seen.set(item.id, item.at);
  }
}

function reportUnknown(
  what: string,
  id: string,
  known: string[],
  location: SourceLocation,
  context: string,
  report: Report,
): void {
  const suggestion = closest(id, known);
  report(
    'DRCTL_PLAN_UNKNOWN_REF',
    `${context} names ${what} "${id}", which is not defined${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
    location,
    suggestion
      ? `write ${suggestion}`
      : known.length > 0
        ? `use one of: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''}`
        : `define the ${what} first`,
  );
}

function defaultName(file: string): string {
  const base = file.split(/[\\/]/);
  const name = base[base.length - 1] ?? 'plan';
  const parent = base[base.length - 2];
  return name.replace(/\.ya?ml$/, '') === 'plan' && parent ? parent : name.replace(/\.ya?ml$/, '');
}
