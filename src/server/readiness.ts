/**
 * Readiness as the server shows it: the monitor's `checkReadiness` run in the background every
 * `readinessEveryMs` (probes and provider checks take seconds; a page must not wait for them), kept as
 * the latest report per plan, and summed up per workload with the newest drill and the open findings.
 */
import { analyzePlan } from '../analysis/index.ts';
import { checkReadiness, observedDelays } from '../monitor/index.ts';
import type { ReadinessReport } from '../monitor/index.ts';
import type { Plan } from '../plan/index.ts';
import type { ReadinessFact } from '../providers/index.ts';
import type { DrillReportRecord } from '../store/index.ts';
import type { CoreContext } from './core.ts';

/** green: every promise holds; amber: nothing broken, but not proven (never drilled, warnings); red: a promise is broken. */
export type Light = 'green' | 'amber' | 'red';

export interface WorkloadReadiness {
  id: string;
  name: string;
  plan: string;
  tier: number;
  strategy: string;
  rtoMs: number;
  rpoMs: number;
  light: Light;
  /** Why it is not green, one sentence each. */
  reasons: string[];
  facts: ReadinessFact[];
  lastDrill:
    | {
        id: string;
        scenario: string;
        startedAt: string;
        passed: boolean;
        rtoMs: number | undefined;
        lostWrites: number;
        rpoMs: number | undefined;
      }
    | undefined;
  findings: { errors: number; warnings: number };
}

export interface ReadinessView {
  checkedAt: string | undefined;
  ok: boolean;
  workloads: WorkloadReadiness[];
}

export class ReadinessCache {
  readonly #ctx: Pick<CoreContext, 'plans' | 'store' | 'options' | 'providers' | 'logger'>;
  readonly #reports = new Map<string, ReadinessReport>();
  #refreshing: Promise<void> | undefined;
  #view: { at: number; value: ReadinessView } | undefined;
  readonly #listeners: ((plan: Plan, report: ReadinessReport) => Promise<void>)[] = [];

  /** Called with every new report (paging reads them); a listener that fails is logged, not retried. */
  onChecked(listener: (plan: Plan, report: ReadinessReport) => Promise<void>): void {
    this.#listeners.push(listener);
  }

  constructor(ctx: Pick<CoreContext, 'plans' | 'store' | 'options' | 'providers' | 'logger'>) {
    this.#ctx = ctx;
  }

  report(plan: Plan): ReadinessReport | undefined {
    const report = this.#reports.get(plan.name);
    return report?.hash === plan.hash ? report : undefined;
  }

  /** Checks every plan now (one check at a time; callers during a check wait for it). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        for (const plan of this.#ctx.plans.list()) {
          const report = await checkReadiness(plan, {
            stateDir: this.#ctx.options.state,
            // the shared store holds restore verifications' results, whichever instance ran them
            store: this.#ctx.store,
            providers: this.#ctx.providers,
            log: this.#ctx.logger.child({ part: 'readiness' }),
          });
          this.#reports.set(plan.name, report);
          for (const listener of this.#listeners)
            await listener(plan, report).catch((error: unknown) =>
              this.#ctx.logger.warn({ err: error, plan: plan.name }, 'acting on the readiness report failed'),
            );
        }
        this.#view = undefined;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** Settles when no check is in flight. */
  async idle(): Promise<void> {
    await this.#refreshing?.catch(() => undefined);
  }

  /** The per-workload summary, rebuilt at most once a second (drill reports and findings change rarely). */
  async view(): Promise<ReadinessView> {
    if (this.#view !== undefined && Date.now() - this.#view.at < 1000) return this.#view.value;
    const drills = await this.#ctx.store.listDrillReports({ limit: 500 });
    const workloads: WorkloadReadiness[] = [];
    let checkedAt: string | undefined;
    for (const plan of this.#ctx.plans.list()) {
      const report = this.report(plan);
      if (report !== undefined && (checkedAt === undefined || report.checkedAt < checkedAt))
        checkedAt = report.checkedAt;
      // the TTLs the servers hand out now, not only the plan's, judge the DNS switches
      const findings = analyzePlan(plan, { observedDelays: observedDelays(report?.facts ?? []) }).findings;
      for (const workload of plan.workloads) {
        workloads.push(summarize(plan, workload.id, report, drills, findings));
      }
    }
    const value = { checkedAt, ok: workloads.every((w) => w.light !== 'red'), workloads };
    this.#view = { at: Date.now(), value };
    return value;
  }
}

function summarize(
  plan: Plan,
  id: string,
  report: ReadinessReport | undefined,
  drills: DrillReportRecord[],
  findings: ReturnType<typeof analyzePlan>['findings'],
): WorkloadReadiness {
  const workload = plan.workloads.find((candidate) => candidate.id === id)!;
  const components = new Set(workload.components.map((component) => component.id));
  const facts = report?.facts.filter((fact) => components.has(fact.component)) ?? [];
  const drill = drills.find((candidate) => candidate.workload === id);
  const mine = findings.filter((finding) => finding.subject.workload === id);
  const errors = mine.filter((finding) => finding.severity === 'error').length;
  const warnings = mine.filter((finding) => finding.severity === 'warning').length;
  const reasons: string[] = [];
  let light: Light = 'green';
  for (const fact of facts.filter((candidate) => !candidate.ok)) {
    light = 'red';
    reasons.push(`${fact.component}${fact.site ? ` at ${fact.site}` : ''}: ${fact.message}`);
  }
  if (drill !== undefined && !drill.passed) {
    light = 'red';
    reasons.push(`the last drill (${drill.scenario}, ${drill.startedAt.toISOString()}) missed its targets`);
  }
  if (errors > 0) {
    light = 'red';
    reasons.push(`${errors} analysis error(s) in the plan`);
  }
  if (light !== 'red') {
    if (report === undefined) reasons.push('readiness not checked yet');
    if (drill === undefined) reasons.push('never drilled');
    if (warnings > 0) reasons.push(`${warnings} analysis warning(s)`);
    if (reasons.length > 0) light = 'amber';
  }
  const measured = drill?.report.measured as { lostWrites?: { spanMs?: number } } | undefined;
  return {
    id,
    name: workload.name,
    plan: plan.name,
    tier: workload.tier,
    strategy: workload.strategy,
    rtoMs: workload.rtoMs,
    rpoMs: workload.rpoMs,
    light,
    reasons,
    facts,
    lastDrill:
      drill === undefined
        ? undefined
        : {
            id: drill.id,
            scenario: drill.scenario,
            startedAt: drill.startedAt.toISOString(),
            passed: drill.passed,
            rtoMs: drill.rtoMs,
            lostWrites: drill.lostWrites,
            rpoMs: measured?.lostWrites?.spanMs,
          },
    findings: { errors, warnings },
  };
}
