/**
 * Every test that happened, from wherever it is recorded: the plan's drills.history, drill reports in
 * the store, tabletop exercises (collection `tabletops`), restore verifications (collection
 * `verifications`) and real failover or restore runs. One shape, so compliance judges them alike.
 */
import { DRILL_ACTOR } from '../drill/failback.ts';
import { TEST_KIND_OF_DRILL } from '../plan/defaults.ts';
import type { DrillType, Plan, TestKind } from '../plan/model.ts';
import type { DrillReportRecord, RunStore, StoredDocument } from '../store/store.ts';
import { TABLETOP_COLLECTION, type TabletopRecord } from '../tabletop/record.ts';

export const VERIFICATIONS_COLLECTION = 'verifications';

export type OccurrenceSource = 'plan-history' | 'drill' | 'tabletop' | 'verification' | 'run';

export interface TestOccurrence {
  kind: TestKind;
  /** The drill scenario it ran, when it was one. */
  scenario: string | undefined;
  /** Undefined for a record that covers the whole plan (a drills.history entry without a workload). */
  workload: string | undefined;
  at: Date;
  result: 'passed' | 'failed' | undefined;
  source: OccurrenceSource;
  /** The drill report, tabletop, verification or run id; the plan location for history records. */
  ref: string;
  /** Targets a drill missed, measured against its objectives. */
  missed: ('rto' | 'rpo')[];
}

export function historyOccurrences(plan: Plan): TestOccurrence[] {
  return plan.drills.history.map((h) => ({
    kind: TEST_KIND_OF_DRILL[h.type],
    scenario: h.scenario,
    workload: h.workload ?? plan.drills.scenarios.find((s) => s.id === h.scenario)?.workload,
    at: h.at,
    result: h.result,
    source: 'plan-history',
    ref: `${h.location.file}:${h.location.line}`,
    missed: [],
  }));
}

export function drillOccurrence(record: DrillReportRecord): TestOccurrence {
  const report = record.report as {
    scenario?: { type?: string };
    verdicts?: { target: string; pass: boolean }[];
  };
  const type = (report.scenario?.type ?? 'full') as DrillType;
  return {
    kind: TEST_KIND_OF_DRILL[type] ?? 'full-failover',
    scenario: record.scenario,
    workload: record.workload,
    at: record.startedAt,
    result: record.passed ? 'passed' : 'failed',
    source: 'drill',
    ref: record.id,
    missed: (report.verdicts ?? [])
      .filter((v) => !v.pass && (v.target === 'rto' || v.target === 'rpo'))
      .map((v) => v.target as 'rto' | 'rpo'),
  };
}

export function tabletopOccurrence(record: TabletopRecord): TestOccurrence {
  return {
    kind: 'tabletop',
    scenario: undefined,
    workload: record.workload,
    at: new Date(record.finishedAt),
    // a tabletop passes when it was walked to the end; its open points are findings, not a failure
    result: record.status === 'completed' ? 'passed' : 'failed',
    source: 'tabletop',
    ref: record.id,
    missed: [],
  };
}

/**
 * A restore verification as the backups side records it. Read leniently: the workload, or a component
 * to find it by; a time; ok or passed.
 */
export function verificationOccurrence(plan: Plan, doc: StoredDocument): TestOccurrence | undefined {
  const data = doc.data;
  const text = (key: string): string | undefined =>
    typeof data[key] === 'string' ? (data[key] as string) : undefined;
  const component = text('component');
  const workload =
    text('workload') ?? plan.workloads.find((w) => w.components.some((c) => c.id === component))?.id;
  if (workload === undefined) return undefined;
  const when = text('finishedAt') ?? text('verifiedAt') ?? text('at');
  const ok =
    data.ok ?? data.passed ?? (text('status') === undefined ? undefined : text('status') === 'passed');
  return {
    kind: 'backup-restore',
    scenario: undefined,
    workload,
    at: when === undefined ? doc.updatedAt : new Date(when),
    result: ok === undefined ? undefined : ok === true ? 'passed' : 'failed',
    source: 'verification',
    ref: doc.id,
    missed: [],
  };
}

/** Everything recorded for the plan: its history and what the store holds. */
export async function collectOccurrences(plan: Plan, store: RunStore): Promise<TestOccurrence[]> {
  const found = historyOccurrences(plan);
  const drills = await store.listDrillReports({ limit: 10_000 });
  const drillRuns = new Set<string>();
  for (const record of drills) {
    found.push(drillOccurrence(record));
    for (const e of (record.report as { evidence?: { name: string }[] }).evidence ?? [])
      if (e.name.startsWith('run ')) drillRuns.add(e.name.slice(4));
  }
  for (const doc of await store.listDocuments(TABLETOP_COLLECTION, { limit: 10_000 }))
    found.push(tabletopOccurrence(doc.data as unknown as TabletopRecord));
  for (const doc of await store.listDocuments(VERIFICATIONS_COLLECTION, { limit: 10_000 })) {
    const occurrence = verificationOccurrence(plan, doc);
    if (occurrence) found.push(occurrence);
  }
  // a real failover or restore that worked is the test of its kind nobody had to schedule
  for (const run of await store.listRuns({ limit: 10_000 })) {
    if (run.startedBy === DRILL_ACTOR || drillRuns.has(run.id)) continue;
    const runbook = plan.workloads
      .find((w) => w.id === run.workload)
      ?.runbooks.find((r) => r.name === run.runbook);
    const kind =
      runbook?.kind === 'failover'
        ? 'full-failover'
        : runbook?.kind === 'restore'
          ? 'backup-restore'
          : undefined;
    if (kind === undefined || (run.status !== 'succeeded' && run.status !== 'failed')) continue;
    found.push({
      kind,
      scenario: undefined,
      workload: run.workload,
      at: run.updatedAt,
      result: run.status === 'succeeded' ? 'passed' : 'failed',
      source: 'run',
      ref: run.id,
      missed: [],
    });
  }
  return found.sort((a, b) => a.at.getTime() - b.at.getTime());
}
