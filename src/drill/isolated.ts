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
 *
 * The phases share one `IsolatedRun`: the copy made and the steps chosen (isolated-copy.ts), the runbook,
 * a write and the verification queries on the copy, the copy removed (isolated-measure.ts), then the
 * findings and the report (here).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Redactor, planSecrets } from '../engine/index.ts';
import type { RunDriver } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Component, Plan, Runbook, Scenario, Workload } from '../plan/model.ts';
import { providerForKind } from '../providers/index.ts';
import type { ActionContext, IsolatedCopy } from '../providers/index.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import { now } from './clock.ts';
import { makeCopies, stepsOnCopy } from './isolated-copy.ts';
import type { TheCopy } from './isolated-copy.ts';
import {
  newest,
  productionPicture,
  removeCopy,
  runOnCopy,
  teardown,
  verifyCopy,
  writeToCopy,
} from './isolated-measure.ts';
import type { CopyRemoved, RunOnCopy } from './isolated-measure.ts';
import { formatMs } from './report.ts';
import { escapeHtml } from './report-html.ts';
import { DrillControls, newDrillId, rehearsalPausedMs, stepsNotChosen } from './rehearsal.ts';
import type { DrillNote, DrillPause } from './rehearsal.ts';
import { DRILL_ACTOR } from './failback.ts';
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

/** What the phases of an isolated drill share. */
export interface IsolatedRun {
  readonly options: IsolatedDrillOptions;
  readonly log: Logger;
  readonly stateDir: string;
  readonly scenario: Scenario;
  readonly workload: Workload;
  /** The recovery site the copy stands in for. */
  readonly site: string;
  readonly runbook: Runbook;
  readonly drillId: string;
  /** The copy's directory: its data, its services' pid files and logs; removed with it. */
  readonly scratch: string;
  readonly startedAt: number;
  readonly store: RunStore;
  readonly controls: DrillControls;
  readonly findings: IsolatedDrillReport['findings'];
  /** The copies made so far; removing them empties it. */
  readonly copies: (IsolatedCopy & { component: string })[];
  /** The ports the copy listens on: an address with one of them is part of the copy. */
  readonly scratchPorts: Set<number>;
  /** The runbook's run on the copy while it goes; cancelled if the drill ends first. */
  driver: RunDriver | undefined;
  say(line: string): void;
  ctxFor(plan: Plan, dir?: string): ActionContext;
}

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
  const startedAt = now();
  const copies: IsolatedRun['copies'] = [];
  let controls: DrillControls | undefined;
  let run: IsolatedRun | undefined;
  const store: RunStore = await openStore(stateDir);
  try {
    controls = await DrillControls.open(store, { id: drillId, scenario: scenario.id, workload: workload.id });
    run = {
      ...{
        options,
        log,
        stateDir,
        scenario,
        workload,
        site,
        runbook,
        drillId,
        scratch,
        store,
        controls,
        copies,
      },
      startedAt,
      findings: [],
      scratchPorts: new Set(),
      driver: undefined,
      say,
      ctxFor: (plan, dir = stateDir) => ({
        signal: options.signal ?? new AbortController().signal,
        log,
        plan,
        stateDir: dir,
        evidence: () => undefined,
      }),
    };
    options.onStart?.(drillId);
    say(`isolated test failover ${drillId}: ${workload.id} recovered into a copy of site ${site}`);
    const before = await productionPicture(workload, run.ctxFor(options.plan));
    const copy = await makeCopies(run, planned);
    const { skip, skipped } = stepsOnCopy(run, copy, chosen);
    if (options.pause === true) {
      say(`paused before the runbook; continue with: drctl drill continue ${drillId}`);
      await controls.pause('after the copy is made, before the runbook runs', options.signal);
      say('continued');
    }
    interrupted(options.signal);
    const ran = await runOnCopy(run, copy, skip);
    const written = await writeToCopy(run, copy);
    const checks = [...written.checks, ...(await verifyCopy(run, copy))];
    for (const check of checks) say(`  ${check.ok ? '✔' : '✖'} ${check.name}: ${check.detail}`);
    const gone = await removeCopy(run, before);
    const report = await isolatedReport(run, {
      copy,
      skipped,
      ran,
      rtoMs: written.rtoMs,
      checks,
      before,
      gone,
    });
    const files = writeIsolatedReport(report, options.reportsDir ?? join(stateDir, 'reports'));
    say(`report ${files.html}`);
    return { report, files };
  } finally {
    const driver = run?.driver;
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

/** What the phases found, for the findings and the report. */
interface IsolatedMeasures {
  copy: TheCopy;
  skipped: IsolatedDrillReport['skipped'];
  ran: RunOnCopy;
  rtoMs: number | undefined;
  checks: IsolatedCheck[];
  before: Record<string, unknown>;
  gone: CopyRemoved;
}

/** The findings: leftovers, production changed, objectives missed, checks failed, addresses cut. */
function judge(run: IsolatedRun, m: IsolatedMeasures, dataAgeMs: number | undefined): void {
  const { scenario, findings } = run;
  const { leftovers, differences } = m.gone;
  const cut = m.copy.cut;
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
  if (m.rtoMs !== undefined && m.rtoMs > scenario.expect.rtoMs)
    findings.push({
      code: 'DRCTL_DRILL_RTO_MISSED',
      severity: 'error',
      message: `the copy took writes ${formatMs(m.rtoMs)} after the drill started (objective ${formatMs(scenario.expect.rtoMs)})`,
    });
  if (dataAgeMs !== undefined && dataAgeMs > scenario.expect.rpoMs && scenario.expect.rpoMs > 0)
    findings.push({
      code: 'DRCTL_DRILL_RPO_MISSED',
      severity: 'warning',
      message: `the copy's data was ${formatMs(dataAgeMs)} old (objective ${formatMs(scenario.expect.rpoMs)})`,
      hint: 'with no writes in that time the data is still complete; the age is measured from the last commit the copy holds',
    });
  for (const check of m.checks.filter((c) => !c.ok))
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
}

/** The report, through the same redaction as the journal; the drill's registration ends here. */
async function isolatedReport(run: IsolatedRun, m: IsolatedMeasures): Promise<IsolatedDrillReport> {
  const { options, scenario, workload, controls, startedAt } = run;
  const { view } = m.ran;
  const dataAsOf = newest([...m.ran.stepDataAsOf, ...m.gone.made.map((c) => c.dataAsOf)]);
  const dataAgeMs =
    dataAsOf === undefined ? undefined : Math.max(0, Math.round(startedAt - Date.parse(dataAsOf)));
  judge(run, m, dataAgeMs);
  const notes = await controls.notes();
  await controls.finish();
  return new Redactor(planSecrets(options.plan)).value({
    format: ISOLATED_REPORT_FORMAT,
    id: `${run.drillId}-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}`,
    plan: { name: options.plan.name, hash: options.plan.hash },
    scenario: { id: scenario.id, description: scenario.description, runbook: run.runbook.name },
    workload: { id: workload.id, name: workload.name, tier: workload.tier, strategy: workload.strategy },
    site: run.site,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    targets: { rtoMs: scenario.expect.rtoMs, rpoMs: scenario.expect.rpoMs },
    measured: {
      ...(m.rtoMs === undefined ? {} : { rtoMs: Math.round(m.rtoMs) }),
      ...(dataAsOf === undefined ? {} : { dataAsOf }),
      ...(dataAgeMs === undefined ? {} : { dataAgeMs }),
      pausedMs: Math.round(rehearsalPausedMs(controls.pauses)),
    },
    copies: m.gone.made,
    run: {
      id: view.id,
      status: view.status,
      steps: view.steps.map((s) => {
        const summary = m.ran.summaries.get(s.id);
        return { id: s.id, status: s.status, ...(summary === undefined ? {} : { summary }) };
      }),
    },
    skipped: m.skipped,
    checks: m.checks,
    production: {
      unchanged: m.gone.differences.length === 0,
      differences: m.gone.differences,
      before: m.before,
      after: m.gone.after,
    },
    removed: m.gone.removed,
    leftovers: m.gone.leftovers,
    pauses: controls.pauses,
    notes,
    findings: run.findings,
    passed: run.findings.every((f) => f.severity !== 'error'),
  } satisfies IsolatedDrillReport) as IsolatedDrillReport;
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
