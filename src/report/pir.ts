/**
 * The post-incident review, drafted from a real (non-drill) run's journal: the timeline, what was detected
 * when, every decision and who took it, the measured recovery time against the RTO, the steps slower than
 * expected, failed steps and contingencies used, then the sections people write: root cause (seed 004:
 * published within 72 hours) and lessons learned, with action items that name the plan change.
 */
import { recoveryPoint } from '../analysis/index.ts';
import { DRILL_ACTOR } from '../drill/failback.ts';
import { dataIntegrityLines, strandedWritesOf } from '../drill/data-integrity.ts';
import { RECORD, runView, type RunView, type SiteView } from '../engine/index.ts';
import type { RunCreatedData } from '../engine/journal.ts';
import { UsageError, formatLocation } from '../errors.ts';
import { CADENCE_DEFAULTS } from '../plan/defaults.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Plan, Step, Workload } from '../plan/model.ts';
import { CHILD_SEPARATOR } from '../plan/site.ts';
import type { ChainReport } from '../store/chain.ts';
import { verifyChain } from '../store/chain.ts';
import type { JournalRecord, RunRecord, RunStore } from '../store/store.ts';
import type { ReportDocument, ReportSection } from './document.ts';
import { PROMISE_TEXT, communicationPromises, type Incident } from '../status/index.ts';

export interface PirInput {
  run: RunRecord;
  records: readonly JournalRecord[];
  /** The plan the run was started from, when it can still be loaded: targets and step locations. */
  plan: Plan | undefined;
  /** When the draft is made. @default now */
  now?: Date;
  /** The run's incident on the status page, when it had one: the communication promises are judged on it. */
  incident?: Incident | undefined;
}

/** A run a drill started is reviewed in its drill report, not here. */
export async function assertRealRun(store: RunStore, run: RunRecord): Promise<void> {
  const drillRun =
    run.startedBy === DRILL_ACTOR ||
    (await store.listDrillReports({ workload: run.workload, limit: 10_000 })).some((d) =>
      ((d.report as { evidence?: { name: string }[] }).evidence ?? []).some(
        (e) => e.name === `run ${run.id}`,
      ),
    );
  if (drillRun)
    throw new UsageError('DRCTL_PIR_DRILL_RUN', `run ${run.id} was started by a drill`, {
      hint: 'a drill has its report (drctl drill writes it); a post-incident review is for a real failover or restore',
    });
}

const time = (date: Date | string | undefined): string =>
  date === undefined
    ? '—'
    : new Date(date)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
const ms = (value: number | undefined): string => (value === undefined ? '—' : formatDuration(value));

/** What each journal record type says in the timeline; evidence and checks are shown per step instead. */
const TIMELINE: Record<string, (r: JournalRecord) => string> = {
  [RECORD.runCreated]: (r) => {
    const created = r.data as unknown as RunCreatedData;
    return created.trigger
      ? `run started (${created.trigger.automatic ? 'automatic' : 'manual'}): ${created.trigger.reason}`
      : `run started by ${created.startedBy}`;
  },
  [RECORD.stepStarted]: (r) => `started (attempt ${String(r.data.attempt ?? 1)})`,
  [RECORD.stepWaiting]: (r) => `waiting for ${String(r.data.for)}`,
  [RECORD.stepSucceeded]: (r) => `succeeded${r.data.summary ? `: ${String(r.data.summary)}` : ''}`,
  [RECORD.stepFailed]: (r) => `failed: ${String(r.data.code)} ${String(r.data.message)}`,
  [RECORD.stepInterrupted]: () => 'interrupted (the driver stopped mid-step)',
  [RECORD.stepSkipped]: () => 'skipped',
  [RECORD.stepCancelled]: () => 'cancelled',
  [RECORD.approvalGranted]: () => 'approved',
  [RECORD.approvalRejected]: () => 'rejected',
  [RECORD.stepConfirmed]: () => 'confirmed done',
  [RECORD.decision]: (r) => `decided: ${String(r.data.choice)}`,
  [RECORD.cancelRequested]: (r) => `cancel requested${r.data.reason ? `: ${String(r.data.reason)}` : ''}`,
  [RECORD.rollbackStarted]: () => 'rollback started',
  [RECORD.undoSucceeded]: () => 'undone',
  [RECORD.undoFailed]: (r) => `undo failed${r.data.message ? `: ${String(r.data.message)}` : ''}`,
  [RECORD.runFinished]: (r) =>
    `run finished ${String(r.data.status)}${r.data.reason ? `: ${String(r.data.reason)}` : ''}`,
};

const DECISIONS = new Set<string>([
  RECORD.approvalGranted,
  RECORD.approvalRejected,
  RECORD.stepConfirmed,
  RECORD.decision,
  RECORD.cancelRequested,
]);

function objectivesSection(workload: Workload | undefined, durationMs: number): ReportSection {
  const rtoMs = workload?.rtoMs;
  const rpoMs = workload?.rpoMs;
  const points = (workload?.components ?? []).map((c) => ({ id: c.id, point: recoveryPoint(c) }));
  const worst = points.filter((p) => Number.isFinite(p.point.ms)).sort((a, b) => b.point.ms - a.point.ms)[0];
  return {
    id: 'objectives',
    title: 'Recovery objectives',
    blocks: [
      {
        kind: 'table',
        head: ['Objective', 'Target', 'Measured', 'Result', 'How it was measured'],
        rows: [
          [
            'RTO',
            ms(rtoMs),
            ms(durationMs),
            rtoMs === undefined ? '—' : durationMs <= rtoMs ? 'pass' : 'missed',
            'run start → run end; add the time between the incident and the start of the run',
          ],
          [
            'RPO',
            ms(rpoMs),
            worst === undefined ? 'not measured' : `up to ${ms(worst.point.ms)} (predicted)`,
            rpoMs === undefined || worst === undefined ? '—' : worst.point.ms <= rpoMs ? 'pass' : 'missed',
            worst === undefined
              ? 'no component of the workload copies data'
              : `${worst.id}: ${worst.point.source}; write the data actually lost here`,
          ],
        ],
      },
    ],
  };
}

const verdict = (fits: boolean | undefined, status?: string): string =>
  fits === undefined ? (status ?? 'not back') : fits ? 'pass' : 'missed';

/** A site run's objectives: each workload, then each tier, then the whole site, against its RTO. */
function siteSection(site: SiteView): ReportSection {
  const { met, missed, notRecovered, open } = site.withinRto;
  return {
    id: 'objectives',
    title: `Recovery of site ${site.site}`,
    blocks: [
      {
        kind: 'p',
        text: `Times are from the start of the run; add the time between the incident and the start. Declared after ${ms(site.declaredAfterMs)}; every workload back after ${ms(site.recoveredAfterMs)}. ${met} of ${site.children.length} workloads back within their RTO, ${missed} late, ${notRecovered} not recovered${open > 0 ? `, ${open} still under way` : ''}.`,
      },
      {
        kind: 'table',
        head: ['Workload', 'Tier', 'After', 'State', 'RTO', 'Back after', 'Result'],
        rows: site.children.map((c) => [
          c.workload,
          String(c.tier),
          c.after.join(', ') || '—',
          c.status,
          ms(c.rtoMs),
          ms(c.recoveredAfterMs),
          verdict(c.fits, c.status),
        ]),
      },
      {
        kind: 'table',
        head: ['Tier', 'Workloads', 'RTO (tightest)', 'Last back after', 'Result'],
        rows: [
          ...site.tiers.map((t) => [
            `tier ${t.tier}`,
            t.workloads.join(', '),
            ms(t.rtoMs),
            ms(t.recoveredAfterMs),
            verdict(t.fits),
          ]),
          [
            `site ${site.site}`,
            String(site.children.length),
            '—',
            ms(site.recoveredAfterMs),
            site.recoveredAfterMs === undefined ? 'not all back' : missed > 0 ? 'late' : 'pass',
          ],
        ],
      },
    ],
  };
}

export interface PirDraft {
  view: RunView;
  chain: ChainReport;
  document: ReportDocument;
}

/** What the sections of a review share: the run as its journal tells it, and the plan's part in it. */
interface Review {
  readonly input: PirInput;
  readonly view: RunView;
  readonly chain: ChainReport;
  readonly records: PirInput['records'];
  readonly created: RunCreatedData;
  readonly workload: Workload | undefined;
  readonly now: Date;
  /** The plan's step of a run's step (a site run's `<workload>.<step>` of that workload's runbook). */
  planStep(id: string): Step | undefined;
  /** Where a step is written in the plan, for an action item. */
  stepAt(id: string): string;
}

export function draftPir(input: PirInput): PirDraft {
  const { run, records, plan } = input;
  const now = input.now ?? new Date();
  const view = runView(records);
  if (view.finishedAt === undefined)
    throw new UsageError('DRCTL_PIR_RUN_UNFINISHED', `run ${run.id} has not finished (${view.status})`, {
      hint: 'a review is drafted once the run ended; follow it with drctl status RUN',
    });
  const chain = verifyChain(run, records);
  const created = records[0]!.data as unknown as RunCreatedData;
  const workload = plan?.workloads.find((w) => w.id === view.workload);
  const runbook = workload?.runbooks.find((r) => r.name === view.runbook);
  const planStep = (id: string): Step | undefined => {
    if (view.site === undefined) return runbook?.steps.find((s) => s.id === id);
    // a site run's step is `<workload>.<step>` of that workload's failover runbook
    const child = view.site.children.find((c) => c.steps.includes(id));
    const childRunbook = plan?.workloads
      .find((w) => w.id === child?.workload)
      ?.runbooks.find((r) => r.name === child?.runbook);
    return childRunbook?.steps.find((s) => `${child?.workload}${CHILD_SEPARATOR}${s.id}` === id);
  };
  const review: Review = {
    ...{ input, view, chain, records, created, workload, now, planStep },
    stepAt: (id) => {
      const step = planStep(id);
      return step === undefined
        ? `step ${id} of runbook ${view.workload}/${view.runbook}`
        : `${formatLocation(step.at)} (step ${id})`;
    },
  };
  const slow = view.steps.filter((s) => (s.overrunMs ?? 0) > 0);
  const failed = failedSteps(review);
  const integrity = dataIntegritySection(review);
  const sections: ReportSection[] = [
    summarySection(review),
    detectionSection(review),
    timelineSection(review),
    ...(integrity === undefined ? [] : [integrity]),
    decisionsSection(review),
    view.site === undefined ? objectivesSection(workload, view.durationMs) : siteSection(view.site),
    slowStepsSection(slow),
    failuresSection(review, failed),
    communicationsSection(review),
    rootCauseSection(review),
    lessonsSection(review, slow, failed.steps),
  ];
  return {
    view,
    chain,
    document: {
      title: `Post-incident review: ${view.workload}/${view.runbook} run ${view.id}`,
      meta: [
        `Draft made ${time(now)} from the run's journal; complete the root cause and lessons learned.`,
        `Plan ${plan?.name ?? 'not loaded'} version ${view.planHash.slice(0, 12)}${plan && plan.hash !== view.planHash ? ` (the plan has changed since: now ${plan.hash.slice(0, 12)})` : ''}`,
      ],
      sections,
      footer: `drctl post-incident review · run ${view.id} · journal head ${run.headHash.slice(0, 16)}`,
    },
  };
}

function summarySection(review: Review): ReportSection {
  const { view, workload, chain } = review;
  return {
    id: 'summary',
    title: 'Summary',
    blocks: [
      {
        kind: 'table',
        head: ['Workload', 'Runbook', 'Status', 'Started by', 'Started', 'Finished', 'Duration'],
        rows: [
          [
            workload
              ? `${workload.name} (tier ${workload.tier}, ${workload.strategy})`
              : view.site
                ? `site ${view.site.site} lost: ${view.site.children.map((c) => c.workload).join(', ')}`
                : view.workload,
            view.runbook,
            view.status,
            view.startedBy,
            time(view.startedAt),
            time(view.finishedAt),
            ms(view.durationMs),
          ],
        ],
      },
      {
        kind: 'p',
        text: `Audit log: ${chain.ok ? `intact (${chain.records} records, head ${chain.headHash.slice(0, 16)})` : `BROKEN at record ${chain.problem?.seq ?? '?'}: ${chain.problem?.reason ?? ''}`}.`,
      },
    ],
  };
}

function detectionSection(review: Review): ReportSection {
  const { view, created } = review;
  const activation = view.steps.find((s) => created.activation !== undefined && s.kind === 'approval');
  return {
    id: 'detection',
    title: 'Detection and activation',
    blocks: [
      {
        kind: 'list',
        items: [
          created.trigger
            ? `${time(view.startedAt)}: ${created.trigger.automatic ? 'drctl started the run on its own' : 'the monitor asked for a declaration'}: ${created.trigger.reason}`
            : `${time(view.startedAt)}: ${view.startedBy} started the run by hand; write down when and how the incident was first noticed.`,
          ...(created.activation && activation
            ? [
                `DR declared by ${activation.approvedBy.join(', ') || 'nobody'} at ${time(activation.finishedAt)} (quorum ${created.activation.quorum} of ${created.activation.approvers.join(', ')}), ${ms(activation.actualMs)} after the start`,
              ]
            : []),
        ],
      },
    ],
  };
}

function timelineSection(review: Review): ReportSection {
  const { records, view } = review;
  const t0 = new Date(view.startedAt).getTime();
  return {
    id: 'timeline',
    title: 'Timeline',
    blocks: [
      {
        kind: 'table',
        head: ['Time (UTC)', 'After start', 'Step', 'What happened', 'Who'],
        rows: records
          .filter((r) => TIMELINE[r.type] !== undefined)
          .map((r) => [
            time(r.at),
            `+${formatDuration(r.at.getTime() - t0)}`,
            r.step ?? '',
            TIMELINE[r.type]!(r),
            r.actor,
          ]),
      },
    ],
  };
}

/** Data never lost silently: writes stranded on a former primary, and what a reconciliation replayed. */
function dataIntegritySection(review: Review): ReportSection | undefined {
  const { records } = review;
  const stranded = strandedWritesOf(records);
  const reconciled = records.filter((r) => r.type === RECORD.evidence && r.data.name === 'reconcile');
  if (stranded.length === 0 && reconciled.length === 0) return undefined;
  return {
    id: 'data-integrity',
    title: 'Data integrity',
    blocks: [
      {
        kind: 'list',
        items: [
          ...dataIntegrityLines({ strandedWrites: stranded }),
          ...reconciled.map((r) => {
            const value = r.data.value as {
              applied?: number;
              refused?: unknown[];
              dryRun?: boolean;
              file?: string;
            };
            return `Reconciliation (step ${r.step ?? '?'}): ${value.dryRun === true ? 'dry run, ' : ''}${value.applied ?? 0} rows replayed, ${value.refused?.length ?? 0} refused as changed on both sides${value.file === undefined ? '' : ` (${value.file})`}`;
          }),
        ],
      },
    ],
  };
}

function decisionsSection(review: Review): ReportSection {
  const { records } = review;
  const decisions = records.filter((r) => DECISIONS.has(r.type));
  return {
    id: 'decisions',
    title: 'Decisions and who took them',
    blocks:
      decisions.length === 0
        ? [{ kind: 'p', text: 'No person decided anything during the run: every step was automated.' }]
        : [
            {
              kind: 'table',
              head: ['Time (UTC)', 'Who', 'Step', 'Decision'],
              rows: decisions.map((r) => [time(r.at), r.actor, r.step ?? '', TIMELINE[r.type]!(r)]),
            },
          ],
  };
}

function slowStepsSection(slow: RunView['steps']): ReportSection {
  return {
    id: 'slow-steps',
    title: 'Steps slower than expected',
    blocks:
      slow.length === 0
        ? [{ kind: 'p', text: 'Every step finished within its expected time plus contingency.' }]
        : [
            {
              kind: 'table',
              head: ['Step', 'Expected', 'Contingency', 'Took', 'Over by'],
              rows: slow.map((s) => [
                s.id,
                ms(s.expectedMs),
                ms(s.contingencyMs),
                ms(s.actualMs),
                ms(s.overrunMs),
              ]),
            },
          ],
  };
}

/** Steps that failed, or failed an attempt a retry made good (gone from the step's state; the journal has it). */
function failedSteps(review: Review): { steps: RunView['steps']; failures: Map<string, string[]> } {
  const { records, view } = review;
  const failures = new Map<string, string[]>();
  for (const r of records)
    if (r.type === RECORD.stepFailed && r.step !== undefined)
      failures.set(r.step, [
        ...(failures.get(r.step) ?? []),
        `attempt ${String(r.data.attempt)}: ${String(r.data.code)} ${String(r.data.message)}`,
      ]);
  return { steps: view.steps.filter((s) => failures.has(s.id) || s.status === 'failed'), failures };
}

function failuresSection(
  review: Review,
  { steps: failed, failures }: { steps: RunView['steps']; failures: Map<string, string[]> },
): ReportSection {
  const { view, planStep } = review;
  const contingency = view.steps.filter(
    (s) =>
      s.actualMs !== undefined &&
      s.actualMs > s.expectedMs &&
      (s.overrunMs ?? 0) === 0 &&
      s.contingencyMs > 0,
  );
  return {
    id: 'failures',
    title: 'Failed steps and contingencies used',
    blocks: [
      failed.length === 0
        ? { kind: 'p', text: 'No step failed or needed another attempt.' }
        : {
            kind: 'table',
            head: ['Step', 'Status', 'Attempts', 'Error', 'On failure'],
            rows: failed.map((s) => [
              s.id,
              s.status,
              String(s.attempts),
              (failures.get(s.id) ?? []).join('; '),
              planStep(s.id)?.onFailure ?? '',
            ]),
          },
      contingency.length === 0
        ? { kind: 'p', text: 'No step used its contingency time.' }
        : {
            kind: 'list',
            items: contingency.map(
              (s) =>
                `${s.id} used ${ms((s.actualMs ?? 0) - s.expectedMs)} of its ${ms(s.contingencyMs)} contingency`,
            ),
          },
    ],
  };
}

function communicationsSection(review: Review): ReportSection {
  const { input, now } = review;
  const plan = input.plan;
  const cadence = plan?.communications ?? CADENCE_DEFAULTS;
  return {
    id: 'communications',
    title: 'Communication promises',
    blocks:
      input.incident === undefined
        ? [
            {
              kind: 'p',
              text: 'The run opened no incident on the status page: nothing was promised or kept.',
            },
          ]
        : [
            {
              kind: 'table',
              head: ['Promise (seed 004)', 'Limit', 'Seen', 'Kept'],
              rows: communicationPromises(input.incident, cadence, now).map((p) => [
                PROMISE_TEXT[p.promise],
                ms(p.limitMs),
                p.observedMs === undefined ? 'not yet' : ms(p.observedMs),
                p.status,
              ]),
            },
          ],
  };
}

function rootCauseSection(review: Review): ReportSection {
  const { input, view } = review;
  const finished = new Date(view.finishedAt ?? view.startedAt);
  const rootCauseBy = new Date(
    finished.getTime() + (input.plan?.communications.rootCauseWithinMs ?? CADENCE_DEFAULTS.rootCauseWithinMs),
  );
  return {
    id: 'root-cause',
    title: 'Root cause',
    blocks: [
      {
        kind: 'p',
        text: `To be published by ${time(rootCauseBy)} (within ${formatDuration(rootCauseBy.getTime() - finished.getTime())} of recovery, seed 004).`,
      },
      { kind: 'list', items: ['What failed:', 'Why it failed:', 'Why it was not caught earlier:'] },
    ],
  };
}

/** Lessons learned: an action item for each slow or failed step, each late or blocked workload, a missed RTO. */
function lessonsSection(review: Review, slow: RunView['steps'], failed: RunView['steps']): ReportSection {
  const { input, view, workload, records, stepAt } = review;
  const plan = input.plan;
  const rtoMs = workload?.rtoMs;
  const firstCode = (id: string): string | undefined =>
    records.find((r) => r.type === RECORD.stepFailed && r.step === id)?.data.code as string | undefined;
  const actions: string[][] = [
    ...slow.map((s) => [
      `Re-estimate or speed up ${s.id}: expected ${ms(s.expectedMs)}, took ${ms(s.actualMs)}`,
      '',
      `expected of ${stepAt(s.id)}`,
    ]),
    ...failed.map((s) => [`Make ${s.id} reliable: ${firstCode(s.id) ?? s.status}`, '', stepAt(s.id)]),
  ];
  for (const child of view.site?.children ?? []) {
    const owner = plan?.workloads.find((w) => w.id === child.workload);
    const where = owner ? `${formatLocation(owner.at)} (workload ${owner.id})` : `workload ${child.workload}`;
    if (child.fits === false)
      actions.push([
        `${child.workload} was back after ${ms(child.recoveredAfterMs)}, past its RTO of ${ms(child.rtoMs)}: automate, parallelise, add executors, or agree a longer RTO`,
        owner?.owner ?? '',
        where,
      ]);
    else if (child.status === 'blocked')
      actions.push([
        `${child.workload} never started: it waits for ${child.after.join(', ')}; recover it by hand and review that dependency`,
        owner?.owner ?? '',
        where,
      ]);
  }
  if (rtoMs !== undefined && view.durationMs > rtoMs)
    actions.push([
      `The run took longer than the RTO of ${ms(rtoMs)}: automate, parallelise, or agree a longer RTO`,
      workload?.owner ?? '',
      workload ? `${formatLocation(workload.at)} (workload ${workload.id})` : '',
    ]);
  return {
    id: 'lessons',
    title: 'Lessons learned',
    blocks: [
      { kind: 'list', items: ['What went well:', 'What went badly:', 'Where we were lucky:'] },
      {
        kind: 'table',
        head: ['Action item', 'Owner', 'Plan change'],
        rows: actions.length === 0 ? [['', '', '']] : actions,
      },
    ],
  };
}
