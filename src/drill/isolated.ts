/**
 * Isolated test failover (docs/drills.md "Test failover"): recover a workload into a throw-away copy and
 * prove production untouched. Nothing is injected and nothing of production is stopped, promoted or
 * routed. The data components at the recovery site are copied by their providers into a scratch site
 * (a base backup of the standby, the newest backup restored), every address of the recovery site is moved
 * to free ports, and the runbook runs on the engine against that copy: steps that would reach anything
 * outside the copy (another site, the front door, an address that is not the copy's) are skipped and
 * listed. Then the service is written to, the plan's verification queries run on the copy, the copy is
 * torn down, and production's picture (rows, replication, backups, routing) is compared with the one
 * taken before: it must be the same.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Engine, RECORD, Redactor, planSecrets, runView } from '../engine/index.ts';
import type { RunDriver } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Check, Component, Placement, Plan, Runbook, Scenario, Step, Workload } from '../plan/model.ts';
import { providerForKind, providers } from '../providers/index.ts';
import type { ActionContext, IsolatedCopy } from '../providers/index.ts';
import { supervisorFor } from '../supervise/index.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import { portFree } from '../system/probes.ts';
import { freePort } from '../system/ports.ts';
import { processAlive } from '../system/processes.ts';
import { Canary } from './canary.ts';
import { now } from './clock.ts';
import { envOf, numberOf, portOf } from './environment.ts';
import { DRILL_ACTOR } from './failback.ts';
import { escapeHtml, formatMs } from './report.ts';
import { DrillControls, newDrillId, rehearsalPausedMs, stepsNotChosen } from './rehearsal.ts';
import type { DrillNote, DrillPause } from './rehearsal.ts';
import { findScenario } from './scenario.ts';

export const ISOLATED_REPORT_FORMAT = 'drctl.isolated-drill-report/1';

export interface IsolatedDrillOptions {
  plan: Plan;
  scenario: string;
  /** State directory: the state store, the reports, and the drill's scratch directory while it runs. */
  stateDir: string;
  /** Run only these steps of the runbook: `a..b` or `a,b` (rehearsal.ts). @default every step */
  steps?: string;
  /** Wait after the copy is made, before the runbook runs, until someone continues the drill. @default false */
  pause?: boolean;
  /** How long the runbook may run on the copy. @default the scenario's RTO + 10 s, at most 2 min */
  deadlineMs?: number;
  /** @default `<stateDir>/reports` */
  reportsDir?: string;
  log?: Logger;
  signal?: AbortSignal;
  onProgress?(line: string): void;
  /** Called once the drill is registered, with its id (for `drctl drill continue|note ID`). */
  onStart?(drillId: string): void;
}

export interface IsolatedCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface IsolatedDrillReport {
  format: typeof ISOLATED_REPORT_FORMAT;
  id: string;
  plan: { name: string; hash: string };
  scenario: { id: string; description: string | undefined; runbook: string };
  workload: { id: string; name: string; tier: number; strategy: string };
  /** The site whose placements the copy stands in for. */
  site: string;
  startedAt: string;
  finishedAt: string;
  targets: { rtoMs: number; rpoMs: number };
  measured: {
    /** Drill start → the copy's service acknowledged a write; absent when it never did. */
    rtoMs?: number;
    /** How current the copy's data is: from the runbook's steps, else from the copies. */
    dataAsOf?: string;
    /** Drill start − dataAsOf: the RPO a real failover at that moment would have had. */
    dataAgeMs?: number;
    /** Time people held the drill paused; not part of the RTO. */
    pausedMs: number;
  };
  copies: { component: string; from: string; dataAsOf?: string }[];
  run?: { id: string; status: string; steps: { id: string; status: string; summary?: string }[] };
  /** Steps and checks left out, and why (not chosen, or they would reach production). */
  skipped: { step: string; check?: string; reason: string }[];
  checks: IsolatedCheck[];
  production: { unchanged: boolean; differences: string[]; before: unknown; after: unknown };
  /** Everything the drill started and made, removed at its end. */
  removed: string[];
  /** What was still there after the removal: nothing, or the drill fails. */
  leftovers: string[];
  pauses: DrillPause[];
  notes: DrillNote[];
  findings: { code: string; severity: 'error' | 'warning'; message: string; hint?: string }[];
  passed: boolean;
}

export interface IsolatedDrillOutcome {
  report: IsolatedDrillReport;
  files: { json: string; html: string };
}

/** The site a failover recovers into: where the workload's standby placements are, else its backups go. */
export function recoverySite(workload: Workload): string | undefined {
  for (const component of workload.components) {
    const standby = component.placement.find((p) => p.standby);
    if (standby !== undefined) return standby.site;
  }
  return workload.components.flatMap((c) => c.backups.map((b) => b.to)).find((to) => to !== undefined);
}

/**
 * What an isolated drill of the scenario would copy, or a positioned plan error: a workload with no
 * recovery site, no component a provider can copy, or a data component with nowhere to restore from.
 */
export function isolationPlan(
  scenario: Scenario,
  workload: Workload,
): { site: string; copies: { component: Component; from: string }[] } {
  const site = recoverySite(workload);
  if (site === undefined)
    throw new DrctlError(
      'DRCTL_DRILL_ISOLATED_NO_SOURCE',
      `scenario ${scenario.id} is an isolated drill, but workload ${workload.id} has no standby placement and no backup site to recover from`,
      {
        hint: 'mark the recovery site placement standby: true, or give a data component a backup policy (backups: [{ to: SITE, path: … }])',
        location: scenario.at,
      },
    );
  const copies: { component: Component; from: string }[] = [];
  for (const component of workload.components) {
    const isolation = providerForKind(component.kind)?.isolation;
    if (isolation === undefined || !component.placement.some((p) => p.site === site)) continue;
    const source = isolation.source(component, site);
    if ('none' in source)
      throw new DrctlError(
        'DRCTL_DRILL_ISOLATED_NO_SOURCE',
        `scenario ${scenario.id} is an isolated drill, but component ${component.id} has nowhere to restore from: ${source.none}`,
        {
          hint: `give ${component.id} a standby placement at ${site} or a backup policy, or drill it with a scenario that is not isolated`,
          location: component.at,
        },
      );
    copies.push({ component, from: source.from });
  }
  if (copies.length === 0)
    throw new DrctlError(
      'DRCTL_DRILL_ISOLATED_NO_SOURCE',
      `scenario ${scenario.id} is an isolated drill, but workload ${workload.id} has no data component at site ${site} that drctl can copy`,
      {
        hint: 'an isolated drill copies databases (postgres, sqlite) of the recovery site; see docs/drills.md "Test failover"',
        location: scenario.at,
      },
    );
  return { site, copies };
}

const LOCAL_ADDRESS = /\b(?:127\.0\.0\.1|localhost):(\d{1,5})\b/g;

export async function runIsolatedDrill(options: IsolatedDrillOptions): Promise<IsolatedDrillOutcome> {
  const log = options.log ?? pino({ level: 'silent' });
  const say = (line: string): void => options.onProgress?.(line);
  const stateDir = resolve(options.stateDir);
  const { scenario, workload } = findScenario(options.plan, options.scenario);
  const { site, copies: planned } = isolationPlan(scenario, workload);
  const runbook = workload.runbooks.find((r) => r.name === scenario.runbook);
  if (runbook === undefined)
    throw new DrctlError(
      'DRCTL_DRILL_NO_RUNBOOK',
      `scenario ${scenario.id} runs runbook ${scenario.runbook}, which workload ${workload.id} lacks`,
      { location: scenario.at },
    );
  const chosen =
    options.steps === undefined ? new Map<string, string>() : stepsNotChosen(runbook, options.steps);
  const drillId = newDrillId(scenario.id);
  const scratch = join(stateDir, 'drills', `isolated-${drillId}`);
  const started = now();
  const findings: IsolatedDrillReport['findings'] = [];
  const removed: string[] = [];
  const copies: (IsolatedCopy & { component: string })[] = [];
  const scratchPorts = new Set<number>();
  const pids = new Set<number>();
  let controls: DrillControls | undefined;
  let driver: RunDriver | undefined;
  const ctxFor = (plan: Plan, dir = stateDir): ActionContext => ({
    signal: options.signal ?? new AbortController().signal,
    log,
    plan,
    stateDir: dir,
    evidence: () => undefined,
  });

  const store: RunStore = await openStore(stateDir);
  try {
    controls = await DrillControls.open(store, { id: drillId, scenario: scenario.id, workload: workload.id });
    options.onStart?.(drillId);
    say(`isolated test failover ${drillId}: ${workload.id} recovered into a copy of site ${site}`);
    const before = await productionPicture(workload, ctxFor(options.plan));

    // ---- the copies, then every address of the recovery site moved into the scratch site
    mkdirSync(scratch, { recursive: true });
    // the plan the runbook runs on: the recovery site's placements pointing at the copies
    const copyPlan = structuredClone(options.plan);
    const copyWorkload = copyPlan.workloads.find((w) => w.id === workload.id) as Workload;
    const strings = new Map<string, string>();
    for (const { component } of planned) {
      const isolation = providerForKind(component.kind)?.isolation;
      if (isolation === undefined) continue;
      say(`copying ${component.id}@${site}…`);
      const copy = await isolation.copy(component, {
        site,
        dir: scratch,
        ctx: ctxFor(options.plan, scratch),
      });
      copies.push({ ...copy, component: component.id });
      say(
        `  ${component.id}: ${copy.from}${copy.dataAsOf === undefined ? '' : `, data as of ${copy.dataAsOf}`}`,
      );
      const placement = placementOf(copyWorkload, component.id, site);
      for (const [name, value] of Object.entries(copy.fields)) {
        const old =
          placement.fields[name] ??
          (name === 'url' ? placement.url : name === 'path' ? placement.path : undefined);
        if (typeof old === 'string' && typeof value === 'string')
          addReplacement(strings, old, value, scratchPorts);
        placement.fields[name] = value;
        if (name === 'url' && typeof value === 'string') placement.url = value;
        if (name === 'path' && typeof value === 'string') placement.path = value;
      }
    }
    const ports = new Map<number, number>();
    for (const component of copyWorkload.components) {
      if (copies.some((c) => c.component === component.id)) continue;
      const placement = component.placement.find((p) => p.site === site);
      if (placement === undefined) continue;
      // one port per placement: a proxy in front of production's service (its port and the PORT behind it)
      // has no counterpart in the copy, so both become the port the copy's service listens on
      const own = [numberOf(placement.fields.port), numberOf(envOf(placement).PORT), portOf(placement.url)];
      let port: number | undefined;
      for (const planned of own)
        if (planned !== undefined && !ports.has(planned)) ports.set(planned, (port ??= await freePort()));
    }
    for (const [from, to] of ports) {
      strings.set(`127.0.0.1:${from}`, `127.0.0.1:${to}`);
      strings.set(`localhost:${from}`, `127.0.0.1:${to}`);
      scratchPorts.add(to);
    }
    const rewrite = rewriter(strings, ports);
    for (const component of copyWorkload.components)
      for (const placement of component.placement.filter((p) => p.site === site)) rewrite(placement);
    // the copy's services reach nothing of production: an address left in their settings goes nowhere
    const nowhere = await freePort();
    const cut: string[] = [];
    for (const component of copyWorkload.components)
      for (const placement of component.placement.filter((p) => p.site === site)) {
        const env = envOf(placement);
        for (const [name, value] of Object.entries(env)) {
          if (typeof value !== 'string') continue;
          env[name] = value.replace(LOCAL_ADDRESS, (whole, port: string) => {
            if (scratchPorts.has(Number(port))) return whole;
            cut.push(`${component.id}@${site} ${name}=${whole}`);
            return `127.0.0.1:${nowhere}`;
          });
        }
      }
    const copyRunbook = copyWorkload.runbooks.find((r) => r.name === runbook.name) as Runbook;
    rewrite(copyRunbook);

    // ---- which steps run on the copy
    const skipped: IsolatedDrillReport['skipped'] = [];
    const skip = new Map(chosen);
    const otherSites = options.plan.sites.map((s) => s.id).filter((s) => s !== site);
    for (const step of copyRunbook.steps) {
      if (skip.has(step.id)) {
        skipped.push({ step: step.id, reason: skip.get(step.id) as string });
        continue;
      }
      const reason = outsideCopy(step, site, otherSites, scratchPorts);
      if (reason !== undefined) {
        skip.set(step.id, reason);
        skipped.push({ step: step.id, reason });
        continue;
      }
      step.validate = step.validate.filter((check) => {
        const why = checkOutsideCopy(check, site, otherSites, scratchPorts);
        if (why !== undefined) skipped.push({ step: step.id, check: check.name, reason: why });
        return why === undefined;
      });
    }
    for (const entry of skipped)
      say(
        `  skip ${entry.step}${entry.check === undefined ? '' : ` (check ${entry.check})`}: ${entry.reason}`,
      );
    for (const line of cut) say(`  cut from production: ${line}`);

    if (options.pause === true) {
      say(`paused before the runbook; continue with: drctl drill continue ${drillId}`);
      await controls.pause('after the copy is made, before the runbook runs', options.signal);
      say('continued');
    }
    interrupted(options.signal);

    // ---- the runbook on the copy
    const events: { at: number; step: string; status: string; summary?: string }[] = [];
    const engine = new Engine({
      store,
      providers,
      // the copy's services keep their pid files and logs in the scratch directory, removed with it
      stateDir: scratch,
      logger: log,
      pollMs: 20,
      hooks: {
        onStepWaiting: (e) => {
          // nobody is asked during an isolated drill: a step that failed and waits for a decision ends it
          if (e.for === 'decision')
            void driver?.cancel(DRILL_ACTOR, `step ${e.step.id} failed and waits for a decision`);
        },
        onStepComplete: (e) => {
          events.push({ at: now(), step: e.step.id, status: e.status, summary: e.summary });
          if (e.status === 'succeeded') say(`  ✔ ${e.step.id} ${e.summary}`);
        },
        onStepError: (e) => {
          if (e.final) say(`  ✖ ${e.step.id} ${e.code}: ${e.message}`);
        },
      },
    });
    driver = await engine.start({
      plan: copyPlan,
      runbook: runbook.name,
      workload: workload.id,
      startedBy: DRILL_ACTOR,
      trigger: {
        automatic: true,
        reason: `isolated test failover ${drillId}`,
        drill: { scenario: scenario.id, announce: false },
      },
      skip,
    });
    const deadlineMs = options.deadlineMs ?? Math.min(scenario.expect.rtoMs + 10_000, 120_000);
    const ended = await Promise.race([
      driver.done.then(() => true),
      new Promise<false>((done) => setTimeout(() => done(false), deadlineMs).unref()),
    ]);
    if (!ended) {
      await driver.cancel(DRILL_ACTOR, `the isolated drill's deadline of ${formatMs(deadlineMs)} passed`);
      await driver.done.catch(() => undefined);
    }
    const journal = await store.readJournal(driver.runId);
    const view = runView(journal, undefined);
    // what the runbook's own steps say of the data (a promotion's last replayed commit, a restore's backup)
    const stepDataAsOf = journal
      .filter((record) => record.type === RECORD.stepSucceeded)
      .map((record) => stringOr((record.data.output as Record<string, unknown> | undefined)?.dataAsOf));
    if (view.status !== 'succeeded')
      findings.push({
        code: 'DRCTL_DRILL_RUN_FAILED',
        severity: 'error',
        message: `the ${runbook.name} run ${view.id} on the copy ended ${view.status}`,
        hint: `drctl status ${view.id} --state ${stateDir}`,
      });

    // ---- the service of the copy takes a write
    let rtoMs: number | undefined;
    const door = copyWorkload.frontDoor;
    const service = door === undefined ? undefined : placementOf(copyWorkload, door.component, site);
    const servicePort =
      service === undefined ? undefined : (numberOf(service.fields.port) ?? numberOf(envOf(service).PORT));
    const checks: IsolatedCheck[] = [];
    if (door !== undefined && servicePort !== undefined && scratchPorts.has(servicePort)) {
      const canary = Canary.start({
        url: `http://127.0.0.1:${servicePort}`,
        path: door.canary.writePath,
        idPrefix: `isolated-${randomBytes(3).toString('hex')}`,
        intervalMs: 50,
      });
      const acked = await Promise.race([
        canary.waitForAcks(1).then(() => true),
        new Promise<false>((done) => setTimeout(() => done(false), 5_000).unref()),
      ]);
      const result = await canary.stop();
      const first = result.acks[0];
      if (acked && first !== undefined) rtoMs = first.ackAt - started - rehearsalPausedMs(controls.pauses);
      checks.push({
        name: `${door.component}@${site} (copy) takes a write`,
        ok: acked,
        detail: acked
          ? `write ${first?.id} acknowledged on 127.0.0.1:${servicePort}`
          : `no write acknowledged on 127.0.0.1:${servicePort}: ${result.failures.at(-1)?.reason ?? 'no answer'}`,
      });
    } else {
      findings.push({
        code: 'DRCTL_DRILL_NO_RECOVERY',
        severity: 'error',
        message: `the copy's ${door?.component ?? 'front door component'} at ${site} was not started, so the RTO is not measured`,
        hint: 'the runbook (or the steps chosen) must start the service at the recovery site',
      });
    }

    // ---- the plan's verification queries, on the copy
    for (const query of verificationQueries(copyWorkload)) {
      const component = copyWorkload.components.find((c) => c.id === query.component);
      const provider = component === undefined ? undefined : providerForKind(component.kind);
      if (component === undefined || provider?.query === undefined) continue;
      try {
        const rows = await provider.query(component, site, query.sql, ctxFor(copyPlan, scratch));
        const value = rows[0]?.[0];
        const ok = query.expect === undefined ? truthy(value) : String(value) === String(query.expect);
        checks.push({ name: `${query.component}: ${query.sql}`, ok, detail: `returned ${String(value)}` });
      } catch (error) {
        checks.push({ name: `${query.component}: ${query.sql}`, ok: false, detail: errorText(error) });
      }
    }
    for (const check of checks) say(`  ${check.ok ? '✔' : '✖'} ${check.name}: ${check.detail}`);

    // ---- tear down, then prove nothing is left and production is as it was
    driver = undefined;
    const supervisor = supervisorFor(scratch, log);
    for (const name of supervisor.list())
      for (const instance of supervisor.status(name)) if (instance.pid !== undefined) pids.add(instance.pid);
    const made = copies.map((c) => ({
      component: c.component,
      from: c.from,
      ...(c.dataAsOf === undefined ? {} : { dataAsOf: c.dataAsOf }),
    }));
    removed.push(...(await teardown(scratch, copies, log)));
    const leftovers = await leftoversOf(scratch, scratchPorts, pids);
    const after = await productionPicture(workload, ctxFor(options.plan));
    const differences = differencesOf(before, after);

    const dataAsOf = newest([...stepDataAsOf, ...made.map((c) => c.dataAsOf)]);
    const dataAgeMs =
      dataAsOf === undefined ? undefined : Math.max(0, Math.round(started - Date.parse(dataAsOf)));
    if (leftovers.length > 0)
      findings.push({
        code: 'DRCTL_DRILL_ISOLATED_LEFTOVER',
        severity: 'error',
        message: `the isolated drill left ${leftovers.join('; ')}`,
        hint: 'remove them by hand; report the drill log',
      });
    if (differences.length > 0)
      findings.push({
        code: 'DRCTL_DRILL_PRODUCTION_CHANGED',
        severity: 'error',
        message: `production changed during the isolated drill: ${differences.slice(0, 5).join('; ')}`,
        hint: 'something wrote to production while the drill ran: the drill or another client; compare the pictures in the report',
      });
    if (rtoMs !== undefined && rtoMs > scenario.expect.rtoMs)
      findings.push({
        code: 'DRCTL_DRILL_RTO_MISSED',
        severity: 'error',
        message: `the copy took writes ${formatMs(rtoMs)} after the drill started (objective ${formatMs(scenario.expect.rtoMs)})`,
      });
    if (dataAgeMs !== undefined && dataAgeMs > scenario.expect.rpoMs && scenario.expect.rpoMs > 0)
      findings.push({
        code: 'DRCTL_DRILL_RPO_MISSED',
        severity: 'warning',
        message: `the copy's data was ${formatMs(dataAgeMs)} old (objective ${formatMs(scenario.expect.rpoMs)})`,
        hint: 'with no writes in that time the data is still complete; the age is measured from the last commit the copy holds',
      });
    for (const check of checks.filter((c) => !c.ok))
      findings.push({
        code: 'DRCTL_DRILL_CHECK_FAILED',
        severity: 'error',
        message: `${check.name}: ${check.detail}`,
      });
    if (cut.length > 0)
      findings.push({
        code: 'DRCTL_DRILL_ISOLATION_CUT',
        severity: 'warning',
        message: `the copy's settings named ${cut.length} production address${cut.length === 1 ? '' : 'es'}, pointed nowhere instead: ${cut.join(', ')}`,
        hint: 'the copy ran without them; if it needs such a service, give it a placement at the recovery site',
      });

    const notes = await controls.notes();
    await controls.finish();
    const report = new Redactor(planSecrets(options.plan)).value({
      format: ISOLATED_REPORT_FORMAT,
      id: `${drillId}-${new Date(started).toISOString().replace(/[:.]/g, '-')}`,
      plan: { name: options.plan.name, hash: options.plan.hash },
      scenario: { id: scenario.id, description: scenario.description, runbook: runbook.name },
      workload: { id: workload.id, name: workload.name, tier: workload.tier, strategy: workload.strategy },
      site,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      targets: { rtoMs: scenario.expect.rtoMs, rpoMs: scenario.expect.rpoMs },
      measured: {
        ...(rtoMs === undefined ? {} : { rtoMs: Math.round(rtoMs) }),
        ...(dataAsOf === undefined ? {} : { dataAsOf }),
        ...(dataAgeMs === undefined ? {} : { dataAgeMs }),
        pausedMs: Math.round(rehearsalPausedMs(controls.pauses)),
      },
      copies: made,
      run: {
        id: view.id,
        status: view.status,
        steps: view.steps.map((s) => {
          const summary = events.find((e) => e.step === s.id)?.summary;
          return { id: s.id, status: s.status, ...(summary === undefined ? {} : { summary }) };
        }),
      },
      skipped,
      checks,
      production: { unchanged: differences.length === 0, differences, before, after },
      removed,
      leftovers,
      pauses: controls.pauses,
      notes,
      findings,
      passed: findings.every((f) => f.severity !== 'error'),
    } satisfies IsolatedDrillReport) as IsolatedDrillReport;
    const files = writeIsolatedReport(report, options.reportsDir ?? join(stateDir, 'reports'));
    say(`report ${files.html}`);
    return { report, files };
  } finally {
    if (driver !== undefined) {
      await driver.cancel(DRILL_ACTOR, 'the drill ended').catch(() => undefined);
      await driver.done.catch(() => undefined);
    }
    // on an error or Ctrl-C the copy goes too
    await teardown(scratch, copies, log).catch((error: unknown) =>
      log.warn({ err: error }, 'teardown failed'),
    );
    await controls?.finish().catch(() => undefined);
    await store.close();
  }
}

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true)
    throw new DrctlError('DRCTL_DRILL_INTERRUPTED', 'the drill was interrupted; its copy was removed', {
      exitCode: 2,
    });
}

function placementOf(workload: Workload, component: string, site: string): Placement {
  const placement = workload.components
    .find((c) => c.id === component)
    ?.placement.find((p) => p.site === site);
  if (placement === undefined)
    throw new DrctlError('DRCTL_DRILL_UNKNOWN_TARGET', `${component} has no placement at site ${site}`);
  return placement;
}

/** A changed value, and the address inside it when it is a URL, become replacements everywhere. */
function addReplacement(strings: Map<string, string>, old: string, value: string, ports: Set<number>): void {
  strings.set(old, value);
  const from = /\/\/(?:[^@/]*@)?((?:127\.0\.0\.1|localhost):\d{1,5})/.exec(old)?.[1];
  const to = /\/\/(?:[^@/]*@)?(127\.0\.0\.1:(\d{1,5}))/.exec(value);
  if (from !== undefined && to?.[1] !== undefined) {
    strings.set(from, to[1]);
    ports.add(Number(to[2]));
  }
}

/** Rewrites strings (whole values first, then addresses inside) and numeric port fields, in place. */
function rewriter(strings: ReadonlyMap<string, string>, ports: ReadonlyMap<number, number>) {
  const addresses = [...strings].filter(([from]) => /^(?:127\.0\.0\.1|localhost):\d+$/.test(from));
  const visit = (value: unknown, key: string | undefined): unknown => {
    if (typeof value === 'string') {
      const whole = strings.get(value);
      if (whole !== undefined) return whole;
      return addresses.reduce(
        (text, [from, to]) => text.replace(new RegExp(`${from.replace(/\./g, '\\.')}(?!\\d)`, 'g'), to),
        value,
      );
    }
    if (typeof value === 'number')
      return key !== undefined && /^ports?$/i.test(key) ? (ports.get(value) ?? value) : value;
    if (Array.isArray(value)) return value.map((item) => visit(item, key));
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const record = value as Record<string, unknown>;
      for (const [name, inner] of Object.entries(record))
        if (name !== 'at' && name !== 'location') record[name] = visit(inner, name);
      return record;
    }
    return value;
  };
  return (target: object): void => void visit(target, undefined);
}

/** Why a step would reach outside the copy, or undefined when everything it names is the copy. */
function outsideCopy(
  step: Step,
  site: string,
  otherSites: readonly string[],
  ports: ReadonlySet<number>,
): string | undefined {
  if (step.kind === 'approval' || step.kind === 'manual')
    return `a ${step.kind} step: people are not asked during an isolated drill`;
  if (step.kind === 'wait') {
    if (step.wait?.until === undefined) return undefined;
    return checkOutsideCopy(step.wait.until, site, otherSites, ports);
  }
  const params = step.call?.params ?? {};
  const named = namedSites(params, otherSites);
  if (named !== undefined) return `names site ${named}, outside the copy`;
  const address = foreignAddress(params, ports);
  if (address !== undefined) return `reaches ${address}, which is not part of the copy`;
  // a step naming neither the recovery site nor an address of the copy could act anywhere (a shell command)
  if (params.site !== site && !mentionsPort(params, ports))
    return `names no part of the copy (site ${site}), so it could act on production`;
  return undefined;
}

function checkOutsideCopy(
  check: Check,
  site: string,
  otherSites: readonly string[],
  ports: ReadonlySet<number>,
): string | undefined {
  const target = { ...(check.call?.params ?? {}), ...(check.http === undefined ? {} : { http: check.http }) };
  if (check.site !== undefined && check.site !== site) return `checks site ${check.site}, outside the copy`;
  const named = namedSites(target, otherSites);
  if (named !== undefined) return `checks site ${named}, outside the copy`;
  const address = foreignAddress(target, ports);
  if (address !== undefined) return `reaches ${address}, which is not part of the copy`;
  if (check.run !== undefined) return 'a shell check could act on production';
  if (check.sql !== undefined && check.site === undefined)
    return 'a query without a site could read production';
  return undefined;
}

const SITE_KEYS = new Set(['site', 'from', 'to', 'sites', 'target_site']);

function namedSites(value: unknown, otherSites: readonly string[], key?: string): string | undefined {
  if (typeof value === 'string')
    return key !== undefined && SITE_KEYS.has(key) && otherSites.includes(value) ? value : undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = namedSites(item, otherSites, key);
      if (found !== undefined) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [name, inner] of Object.entries(value)) {
      const found = namedSites(inner, otherSites, name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function foreignAddress(value: unknown, ports: ReadonlySet<number>): string | undefined {
  for (const match of JSON.stringify(value).matchAll(LOCAL_ADDRESS))
    if (!ports.has(Number(match[1]))) return match[0];
  return undefined;
}

function mentionsPort(value: unknown, ports: ReadonlySet<number>): boolean {
  return [...JSON.stringify(value).matchAll(LOCAL_ADDRESS)].some((match) => ports.has(Number(match[1])));
}

/** The `sql:` checks of the workload's runbooks: the queries the plan trusts to say the data is good. */
function verificationQueries(workload: Workload): { component: string; sql: string; expect: unknown }[] {
  const seen = new Set<string>();
  const queries: { component: string; sql: string; expect: unknown }[] = [];
  for (const runbook of workload.runbooks)
    for (const step of runbook.steps)
      for (const check of [...step.validate, ...(step.wait?.until === undefined ? [] : [step.wait.until])]) {
        if (check.sql === undefined || check.component === undefined) continue;
        const key = `${check.component}\n${check.sql}`;
        if (seen.has(key)) continue;
        seen.add(key);
        queries.push({ component: check.component, sql: check.sql, expect: check.expect });
      }
  return queries;
}

function truthy(value: unknown): boolean {
  return Boolean(value) && value !== '0' && value !== 'false' && value !== 'f';
}

function errorText(error: unknown): string {
  return error instanceof DrctlError ? `${error.code}: ${error.message}` : String(error);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function newest(times: readonly (string | undefined)[]): string | undefined {
  return times
    .filter((t): t is string => t !== undefined && !Number.isNaN(Date.parse(t)))
    .sort((a, b) => Date.parse(a) - Date.parse(b))
    .at(-1);
}

/**
 * Production as the drill found it: each data component's picture from its provider (rows, replication,
 * backups) and the front door's answer to its probe (who serves). Read only.
 */
async function productionPicture(workload: Workload, ctx: ActionContext): Promise<Record<string, unknown>> {
  const picture: Record<string, unknown> = {};
  for (const component of workload.components) {
    const isolation = providerForKind(component.kind)?.isolation;
    if (isolation !== undefined) picture[component.id] = await isolation.fingerprint(component, ctx);
  }
  const door = workload.frontDoor;
  if (door !== undefined) {
    const url = `http://${door.host}:${door.port}${door.probePath}`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const text = await response.text();
      let site: unknown;
      try {
        site = (JSON.parse(text) as { site?: unknown }).site;
      } catch {
        site = undefined;
      }
      picture.routing = { url, status: response.status, ...(site === undefined ? {} : { site }) };
    } catch (error) {
      picture.routing = { url, error: errorText(error) };
    }
  }
  return picture;
}

/** Paths where two pictures differ, e.g. `db.east.rows.public.orders`. */
function differencesOf(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (
    before !== null &&
    after !== null &&
    typeof before === 'object' &&
    typeof after === 'object' &&
    !Array.isArray(before)
  ) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) =>
      differencesOf(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        path === '' ? key : `${path}.${key}`,
      ),
    );
  }
  return [`${path || 'everything'}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`];
}

/** Stops every service the copy ran, removes every copy and the scratch directory; says what went. */
async function teardown(
  scratch: string,
  copies: (IsolatedCopy & { component: string })[],
  log: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  if (existsSync(scratch)) {
    const supervisor = supervisorFor(scratch, log);
    for (const name of supervisor.list()) {
      const result = await supervisor.stop(name, { graceMs: 2_000 });
      if (result.pids.length > 0) removed.push(`service ${name} (pid ${result.pids.join(', ')})`);
    }
    await supervisor.close();
  }
  for (const copy of copies.splice(0)) removed.push(...(await copy.remove()));
  if (existsSync(scratch)) {
    rmSync(scratch, { recursive: true, force: true });
    removed.push(`directory ${scratch}`);
  }
  return removed;
}

/** Anything of the copy still there: a process alive, a port listening, a directory. */
async function leftoversOf(
  scratch: string,
  ports: ReadonlySet<number>,
  pids: ReadonlySet<number>,
): Promise<string[]> {
  const left: string[] = [];
  for (const pid of pids) if (processAlive(pid)) left.push(`process ${pid}`);
  for (const port of ports) if (!(await portFree(port))) left.push(`a listener on 127.0.0.1:${port}`);
  if (existsSync(scratch)) left.push(`directory ${scratch}`);
  return left;
}

export function writeIsolatedReport(
  report: IsolatedDrillReport,
  dir: string,
): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${report.id}.json`);
  const html = join(dir, `${report.id}.html`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderIsolatedReportHtml(report));
  return { json, html };
}

export function renderIsolatedReportHtml(report: IsolatedDrillReport): string {
  const e = escapeHtml;
  const m = report.measured;
  const rows = (items: string[][]): string =>
    items.map((cells) => `<tr>${cells.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`).join('\n');
  const list = (items: string[], empty: string): string =>
    items.length === 0 ? `<p>${e(empty)}</p>` : `<ul>${items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test failover ${e(report.scenario.id)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}.pass{color:#176b2c}.fail{color:#a61b1b}</style></head>
<body>
<h1>Test failover: ${e(report.workload.name)} into a copy of ${e(report.site)} <span class="${report.passed ? 'pass' : 'fail'}">${report.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p>Scenario ${e(report.scenario.id)}, runbook ${e(report.scenario.runbook)}, plan ${e(report.plan.name)} (${e(report.plan.hash.slice(0, 12))}). ${e(report.startedAt)} → ${e(report.finishedAt)}.</p>
<table><tbody>
<tr><th>RTO (copy took writes)</th><td>${e(m.rtoMs === undefined ? 'not measured' : formatMs(m.rtoMs))}</td><td>objective ${e(formatMs(report.targets.rtoMs))}</td></tr>
<tr><th>Data as of</th><td>${e(m.dataAsOf ?? 'unknown')}</td><td>${e(m.dataAgeMs === undefined ? '' : `${formatMs(m.dataAgeMs)} old; RPO objective ${formatMs(report.targets.rpoMs)}`)}</td></tr>
<tr><th>Paused</th><td>${e(formatMs(m.pausedMs))}</td><td></td></tr>
<tr><th>Production</th><td class="${report.production.unchanged ? 'pass' : 'fail'}">${report.production.unchanged ? 'unchanged' : 'CHANGED'}</td><td>${e(report.production.differences.join('; '))}</td></tr>
</tbody></table>
<h2>Copies</h2><table><tbody>${rows(report.copies.map((c) => [c.component, c.from, c.dataAsOf ?? '']))}</tbody></table>
<h2>Runbook on the copy</h2><table><tbody>${rows((report.run?.steps ?? []).map((s) => [s.id, s.status, s.summary ?? '']))}</tbody></table>
<h2>Left out</h2><table><tbody>${rows(report.skipped.map((s) => [s.step, s.check ?? '', s.reason]))}</tbody></table>
<h2>Checks on the copy</h2><table><tbody>${rows(report.checks.map((c) => [c.ok ? 'pass' : 'fail', c.name, c.detail]))}</tbody></table>
<h2>Pauses and notes</h2>
${list(
  [
    ...report.pauses.map(
      (p) =>
        `${new Date(p.at).toISOString()} paused ${p.reason}; continued ${p.continuedBy === undefined ? 'never' : `by ${p.continuedBy} after ${formatMs((p.continuedAt ?? p.at) - p.at)}`}`,
    ),
    ...report.notes.map((n) => `${new Date(n.at).toISOString()} ${n.by}: ${n.text}`),
  ],
  'No pauses, no notes.',
)}
<h2>Removed</h2>${list(report.removed, 'Nothing was made.')}
<h2>Left behind</h2>${list(report.leftovers, 'Nothing.')}
<h2>Findings</h2>${list(
    report.findings.map((f) => `${f.severity} ${f.code}: ${f.message}`),
    'No findings.',
  )}
</body></html>
`;
}
