/**
 * The end of a drill of the sites: which site holds the data, which acknowledged writes it lacks, the
 * evidence of the runs, and the report — redacted, stored for trends and written as JSON and HTML.
 */
import { resolve } from 'node:path';
import { Redactor, planSecrets, runView } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Component } from '../plan/model.ts';
import { providerForKind } from '../providers/index.ts';
import { measureLoss } from './canary.ts';
import type { LossMeasurement } from './canary.ts';
import { strandedWritesOf } from './data-integrity.ts';
import type { StrandedWritesFigures } from './data-integrity.ts';
import type { DrillRun } from './drill-run.ts';
import type { DrillSites } from './existing.ts';
import { rehearsalPausedMs } from './rehearsal.ts';
import { buildDrillReport } from './report.ts';
import { writeDrillReport } from './report-html.ts';
import type { DrillEvidence, DrillReport, DrillReportInput } from './report.ts';
import type { Safety } from './safety.ts';
import { drillTrend, renderTrendsHtml } from './trends.ts';

/** Where the data lives after the drill: the site that acknowledged the last write, else the router's choice. */
export async function survivingSite(
  sites: DrillSites,
  acks: readonly { site?: string; sentAt: number }[],
  faultAt: number,
): Promise<string> {
  const after = acks.filter((a) => a.sentAt >= faultAt && a.site !== undefined).at(-1);
  return (
    after?.site ??
    (await sites.door.activeSite().catch(() => undefined)) ??
    sites.workload.components[0]?.placement.find((p) => p.standby)?.site ??
    'unknown'
  );
}

/** The component holding the front door component's writes: its dependency that a provider can query. */
export function dataComponent(sites: DrillSites): Component {
  const workload = sites.workload;
  const door = workload.components.find((c) => c.id === sites.frontDoor.component);
  const candidates = workload.components.filter(
    (c) => door?.dependsOn.includes(c.id) && providerForKind(c.kind)?.query !== undefined,
  );
  const data = candidates[0];
  if (data === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_NO_DATABASE',
      `the front door component ${sites.frontDoor.component} depends on no component drctl can query, so lost writes cannot be counted`,
      {
        hint: 'add its database (kind postgres or sqlite) to depends_on',
        location: sites.frontDoor.at,
      },
    );
  }
  return data;
}

/** Which of the acknowledged canary writes (ids starting `idPrefix`) the data component at `site` lacks. */
export async function lostWrites(
  run: DrillRun,
  idPrefix: string,
  acks: Parameters<typeof measureLoss>[0],
  site: string,
): Promise<LossMeasurement> {
  const data = dataComponent(run.sites);
  const { canary } = run.sites.frontDoor;
  return measureLoss(acks, async (ids: string[]): Promise<string[]> => {
    if (ids.length === 0) return [];
    const provider = providerForKind(data.kind);
    const sql = `select id from ${canary.table} where id like '${idPrefix}-%'`;
    const rows = await provider!.query!(data, site, sql, {
      signal: AbortSignal.timeout(30_000),
      log: run.log,
      plan: run.sites.plan,
      stateDir: run.stateDir,
      evidence: () => undefined,
    });
    return rows.map((row) => String(row[0]));
  });
}

/**
 * The front door's evidence, the surviving database, the snapshots shipped, and each run the drill drove
 * (a failed failover run is a finding); with the stranded writes any run recorded.
 */
export async function gatherEvidence(
  run: DrillRun,
  since: { start: number; faultAt: number; survivor: string; failbackRunbook: string | undefined },
): Promise<{ evidence: DrillEvidence[]; stranded: StrandedWritesFigures[] }> {
  const { sites, store } = run;
  const evidence: DrillEvidence[] = [
    ...(await sites.door.evidence(since.start)),
    { name: 'surviving database', value: { component: dataComponent(sites).id, site: since.survivor } },
  ];
  if (sites.snapshots.length > 0) {
    const before = sites.snapshots.filter((s) => s.ok && s.at <= since.faultAt);
    evidence.push({
      name: 'snapshots',
      value: { shipped: sites.snapshots.filter((s) => s.ok).length, lastBeforeFault: before.at(-1) },
    });
  }
  const stranded: StrandedWritesFigures[] = [];
  for (const driver of run.started.drivers) {
    const journal = await store.readJournal(driver.runId);
    stranded.push(...strandedWritesOf(journal));
    const view = runView(journal, undefined);
    evidence.push({
      name: `run ${driver.runId}`,
      value: {
        runbook: view.runbook,
        status: view.status,
        durationMs: view.durationMs,
        steps: view.steps.map((s) => ({ id: s.id, status: s.status, actualMs: s.actualMs })),
      },
    });
    if (view.status !== 'succeeded' && view.runbook !== since.failbackRunbook) {
      run.findings.push({
        code: 'DRCTL_DRILL_RUN_FAILED',
        severity: 'error',
        message: `the ${view.runbook} run ${view.id} ended ${view.status}`,
        hint: `drctl status ${view.id} --state ${run.stateDir}`,
      });
    }
  }
  return { evidence, stranded };
}

/**
 * Builds the report (through the same redaction as the journal: it is kept and shared), adds what the
 * room did (steps chosen, pauses, notes), stores it for trends and writes its files.
 */
export async function fileReport(
  run: DrillRun,
  safety: Safety,
  input: Omit<
    DrillReportInput,
    'plan' | 'scenario' | 'workload' | 'targets' | 'events' | 'findings' | 'safety'
  >,
  stranded: readonly StrandedWritesFigures[],
): Promise<{ report: DrillReport; files: { json: string; html: string } }> {
  const { options, scenario, workload, store, controls, skip } = run;
  const report = new Redactor(planSecrets(options.plan)).value(
    buildDrillReport({
      plan: { name: options.plan.name, hash: options.plan.hash },
      scenario,
      workload,
      targets: { rtoMs: scenario.expect.rtoMs, rpoMs: scenario.expect.rpoMs },
      ...input,
      events: run.events,
      findings: run.findings,
      safety: {
        environment: scenario.environment,
        maxDurationMs: scenario.maxDurationMs,
        preflight: run.preflight,
        guards: safety.guards,
        ...(safety.aborted === undefined
          ? {}
          : {
              aborted: {
                ...safety.aborted,
                // when the last fault was lifted, for how long an abort took to undo them
                undoneAt: run.events.filter((e) => e.kind === 'fault-lifted').at(-1)?.at,
              },
            }),
      },
    }),
  );
  if (stranded.length > 0) report.dataIntegrity = { strandedWrites: [...stranded] };
  const notes = await controls.notes();
  if (skip !== undefined || controls.pauses.length > 0 || notes.length > 0) {
    report.rehearsal = {
      ...(skip === undefined || options.steps === undefined
        ? {}
        : { steps: { spec: options.steps, skipped: [...skip.keys()] } }),
      pauses: controls.pauses,
      pausedMs: Math.round(rehearsalPausedMs(controls.pauses)),
      notes,
    };
    for (const note of notes)
      report.timeline.push({
        at: note.at - Date.parse(report.startedAt),
        kind: 'note',
        detail: `${note.by}: ${note.text}`,
      });
    report.timeline.sort((a, b) => a.at - b.at);
  }
  await store.saveDrillReport({
    id: report.id,
    workload: workload.id,
    scenario: scenario.id,
    planHash: options.plan.hash,
    startedAt: new Date(report.startedAt),
    passed: report.passed,
    detectionMs: report.measured.detectionMs,
    rtoMs: report.measured.rtoMs,
    lostWrites: report.measured.lostWrites.count,
    report: report as unknown as Record<string, unknown>,
  });
  // the report shows this drill among every stored drill of its scenario
  const trend = drillTrend(
    options.plan,
    workload.id,
    scenario.id,
    await store.listDrillReports({ workload: workload.id, scenario: scenario.id, limit: 1000 }),
  );
  const files = await writeDrillReport(report, options.reportsDir ?? resolve(run.stateDir, 'reports'), {
    trends: renderTrendsHtml(trend),
  });
  return { report, files };
}
