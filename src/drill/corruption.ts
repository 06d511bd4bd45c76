/**
 * A corruption drill: bad writes that replication copies at once, so failing over does not help. On the
 * workload as it runs (no environment is brought up), a canary writes rows to the component through its
 * provider's `query`; the scenario's `corrupt` fault damages N rows of a table through the provider's
 * `corrupt` action, which journals the bad transaction; the runbook's `sql:` validations, run against the
 * damaged site every 50 ms, detect it; the canary stops (the application is taken off the damaged data) and
 * the scenario's runbook (restore-to-before) runs; the validations must then pass where the data was
 * restored. Measured: time to detect, RTO (damage → restored data that passes its validations), and the
 * good writes lost between the restore point and the end (rows and seconds). See docs/data-integrity.md.
 */
import { resolve } from 'node:path';
import { pino } from 'pino';
import { runCheck } from '../engine/checks.ts';
import { Engine } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Check, Component, Fault, Plan, Scenario, Workload } from '../plan/model.ts';
import { providerForKind, providers } from '../providers/index.ts';
import type { ActionContext, Provider } from '../providers/provider.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import type { CanaryAck, CanaryFailure, CanaryResult, LossMeasurement } from './canary.ts';
import { failureReason, now, sleep } from './clock.ts';
import { DRILL_ACTOR } from './failback.ts';
import { buildDrillReport, formatMs } from './report.ts';
import { writeDrillReport } from './report-html.ts';
import type { DrillEventInput, DrillEvidence, DrillFinding, Verdict } from './report.ts';
import type { CorruptionFigures } from './data-integrity.ts';
import type { DrillOptions, DrillOutcome } from './runner.ts';

/** The canary's table in the damaged database; created for the drill and dropped after it. */
export const CANARY_TABLE = 'drctl_drill_canary';

/** Faults that damage data rather than a site: the drill goes through this runner. */
export function damagesData(scenario: Scenario): boolean {
  return scenario.faults.some((fault) => fault.corrupt !== undefined);
}

/** What a corruption drill needs from the plan, or a plan error positioned on the fault. */
function prepare(
  plan: Plan,
  scenario: Scenario,
  workload: Workload,
): { fault: CorruptFault; component: Component; provider: Provider } {
  const fault = scenario.faults.find((candidate) => candidate.corrupt !== undefined);
  const component = workload.components.find((candidate) => candidate.id === fault?.component);
  if (fault?.corrupt === undefined || component === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_UNKNOWN_TARGET',
      `scenario ${scenario.id} has no corrupt fault on a component of ${workload.id}`,
      {
        location: scenario.at,
      },
    );
  }
  const provider = providerForKind(component.kind);
  if (provider?.actions.corrupt === undefined || provider.query === undefined || fault.corrupt.table === '') {
    throw new DrctlError(
      'DRCTL_DRILL_FAULT_UNSUPPORTED',
      `a drill cannot corrupt ${component.id}@${fault.site}: ${fault.corrupt.table === '' ? 'the fault names no table' : `its provider (${component.kind}) has no corrupt action or no queries`}`,
      {
        hint: 'a corrupt fault names a table (table: orders) of a database component, e.g. kind postgres',
        location: fault.at,
      },
    );
  }
  const site = plan.sites.find((candidate) => candidate.id === fault.site);
  if (site?.production === true && scenario.allowProduction !== true) {
    throw new DrctlError(
      'DRCTL_DRILL_PRODUCTION_REFUSED',
      `scenario ${scenario.id} would damage data of ${component.id} at ${fault.site}, a production site`,
      {
        hint: 'run it against a copy, or set allow_production: true on the scenario if that is truly meant',
        location: fault.at,
      },
    );
  }
  return { fault: { ...fault, corrupt: fault.corrupt }, component, provider };
}

/** The runbook's `sql:` validations: what tells good data from bad in this plan. */
function validations(plan: Plan, scenario: Scenario, component: Component): Check[] {
  const runbook = plan.workloads
    .find((workload) => workload.id === scenario.workload)
    ?.runbooks.find((candidate) => candidate.name === scenario.runbook);
  return (runbook?.steps ?? [])
    .flatMap((step) => step.validate)
    .filter((check) => check.sql !== undefined && (check.component ?? component.id) === component.id);
}

/** What the phases of a corruption drill share. */
interface CorruptionRun {
  readonly options: DrillOptions;
  readonly scenario: Scenario;
  readonly workload: Workload;
  readonly plan: Plan;
  readonly stateDir: string;
  readonly fault: CorruptFault;
  readonly component: Component;
  readonly provider: Provider;
  /** Where the data is restored: the scenario's recovered_at, else the damaged site. */
  readonly recoveredAt: string;
  readonly signal: AbortSignal;
  readonly ctx: ActionContext;
  readonly store: RunStore;
  readonly evidence: DrillEvidence[];
  readonly events: DrillEventInput[];
  readonly findings: DrillFinding[];
  say(line: string): void;
  event(kind: DrillEventInput['kind'], detail: string, step?: string): void;
  query(site: string, sql: string): Promise<unknown[][]>;
  /** Whether the runbook's validations pass at the site, and if not the first that fails. */
  passes(site: string): Promise<{ ok: boolean; message: string }>;
}

type CorruptFault = Fault & { corrupt: NonNullable<Fault['corrupt']> };

export async function runCorruptionDrill(
  options: DrillOptions,
  scenario: Scenario,
  workload: Workload,
): Promise<DrillOutcome> {
  const log = options.log ?? pino({ level: 'silent' });
  const stateDir = resolve(options.stateDir);
  const plan = options.plan;
  const { fault, component, provider } = prepare(plan, scenario, workload);
  const checks = validations(plan, scenario, component);
  if (checks.length === 0) {
    throw new DrctlError(
      'DRCTL_DRILL_NO_VALIDATION',
      `runbook ${scenario.runbook} has no sql: validation of ${component.id}, so a corruption drill cannot detect the damage`,
      {
        hint: `add validate: [{ sql: "select count(*) >= 100 from ${fault.corrupt.table}" }] (a query that is true only for good data) to a step of ${scenario.runbook}`,
        location: scenario.at,
      },
    );
  }
  const signal = options.signal ?? new AbortController().signal;
  const evidence: DrillEvidence[] = [];
  const ctx: ActionContext = {
    signal,
    log,
    plan,
    stateDir,
    evidence: (name, value) => evidence.push({ name, value }),
  };
  const events: DrillEventInput[] = [];
  const store = await openStore(stateDir);
  const run: CorruptionRun = {
    ...{ options, scenario, workload, plan, stateDir, fault, component, provider, signal, ctx, store },
    ...{ recoveredAt: scenario.recoveredAt ?? fault.site, evidence, events, findings: [] },
    say: (line) => options.onProgress?.(line),
    event: (kind, detail, step) =>
      void events.push({ at: now(), kind, detail, ...(step === undefined ? {} : { step }) }),
    query: (site, sql) => provider.query!(component, site, sql, ctx),
    passes: async (site) => {
      for (const check of checks) {
        const outcome = await runCheck({ ...check, component: component.id, site }, { providers, plan, ctx });
        if (!outcome.ok) return { ok: false, message: `${outcome.name}: ${outcome.message}` };
      }
      return { ok: true, message: `${checks.length} validations pass` };
    },
  };
  try {
    const startedAt = now();
    const canary = await startSqlCanary(run);
    await sleep(Math.max(0, startedAt + fault.atMs - now()), signal);
    const damage = await injectCorruption(run);
    const deadline =
      damage.faultAt + (options.deadlineMs ?? Math.min(scenario.expect.rtoMs + 10_000, 120_000));
    const detected = await awaitDetection(run, deadline);
    await canary.stop();
    const restore =
      detected === undefined
        ? notDetected(run, damage.summary)
        : await restoreToBefore(run, deadline, damage, detected);
    const loss = await goodWritesKept(run, canary.acks, restore.restoredAt);
    const finishedAt = now();
    for (const site of new Set([fault.site, run.recoveredAt]))
      await run.query(site, `drop table if exists ${CANARY_TABLE}`).catch(() => undefined);
    const figures = corruptionFigures(run, damage, detected, restore, loss);
    const report = buildDrillReport({
      plan: { name: plan.name, hash: plan.hash },
      scenario,
      workload,
      startedAt,
      finishedAt,
      faultAt: damage.corruptedAt,
      ...(detected === undefined ? {} : { detectedAt: detected.at }),
      events,
      canary: canary.result(startedAt, detected?.at ?? finishedAt),
      loss,
      evidence,
      findings: run.findings,
    });
    // a corruption drill's outage is the time the data was wrong, not failed writes: judge that
    report.measured.rtoMs = figures.rtoMs;
    report.verdicts = corruptionVerdicts(report.targets, figures);
    report.passed = report.verdicts.every((verdict) => verdict.pass) && run.findings.length === 0;
    report.dataIntegrity = { corruption: figures };
    await store.saveDrillReport({
      id: report.id,
      workload: workload.id,
      scenario: scenario.id,
      planHash: plan.hash,
      startedAt: new Date(report.startedAt),
      passed: report.passed,
      detectionMs: report.measured.detectionMs,
      rtoMs: report.measured.rtoMs,
      lostWrites: loss.count,
      report: report as unknown as Record<string, unknown>,
    });
    const files = await writeDrillReport(report, options.reportsDir ?? resolve(stateDir, 'reports'));
    return { report, files, environment: undefined };
  } finally {
    await store.close();
  }
}

/** The canary of a corruption drill: rows inserted through the provider's queries, not an HTTP service. */
interface SqlCanary {
  readonly acks: CanaryAck[];
  stop(): Promise<void>;
  result(startedAt: number, stoppedAt: number): CanaryResult;
}

/**
 * Checks the data is good before any fault, creates the canary's table and writes a row every interval
 * until stopped; returns once the steady state's writes are acknowledged.
 */
async function startSqlCanary(run: CorruptionRun): Promise<SqlCanary> {
  const { options, fault, component, signal } = run;
  run.event(
    'drill-started',
    `canary writing to ${component.id}@${fault.site} every ${options.canaryIntervalMs ?? 10} ms`,
  );
  const before = await run.passes(fault.site);
  if (!before.ok) {
    throw new DrctlError(
      'DRCTL_DRILL_NOT_STEADY',
      `the validations fail before any fault: ${before.message}`,
      {
        hint: 'a corruption drill starts from good data; fix the data or the validation first',
        location: run.scenario.at,
      },
    );
  }
  await run.query(
    fault.site,
    `create table if not exists ${CANARY_TABLE} (id bigserial primary key, at timestamptz not null default clock_timestamp())`,
  );
  const intervalMs = options.canaryIntervalMs ?? 10;
  const acks: CanaryAck[] = [];
  const failures: CanaryFailure[] = [];
  let seq = 0;
  let writing = true;
  const writer = (async () => {
    while (writing && !signal.aborted) {
      const sentAt = now();
      const mine = (seq += 1);
      try {
        const [row] = await run.query(
          fault.site,
          `insert into ${CANARY_TABLE} default values returning id::text`,
        );
        acks.push({ seq: mine, id: String(row?.[0]), sentAt, ackAt: now(), status: 200 });
      } catch (error) {
        failures.push({ seq: mine, id: '', sentAt, at: now(), reason: failureReason(error) });
      }
      await sleep(Math.max(0, sentAt + intervalMs - now()));
    }
  })();
  const warmup = options.warmupWrites ?? 50;
  while (acks.length < warmup && !signal.aborted) await sleep(intervalMs);
  return {
    acks,
    stop: async () => {
      writing = false;
      await writer;
    },
    result: (startedAt, stoppedAt) => ({
      url: `sql: ${component.id}@${fault.site}`,
      intervalMs,
      timeoutMs: 0,
      idPrefix: '',
      startedAt,
      stoppedAt,
      sent: seq,
      skipped: 0,
      acks,
      failures,
    }),
  };
}

/** The damage done: what the provider's corrupt action reports, and when. */
interface Damage {
  summary: string;
  output: unknown;
  faultAt: number;
  corruptedAt: number;
}

/** Damages the fault's rows through the provider's corrupt action (which journals the bad transaction). */
async function injectCorruption(run: CorruptionRun): Promise<Damage> {
  const { fault, component } = run;
  const faultAt = now();
  const corrupt = run.provider.actions.corrupt!;
  const damage = await corrupt.run(
    corrupt.params.parse({
      component: component.id,
      site: fault.site,
      table: fault.corrupt.table,
      rows: fault.corrupt.rows,
      change: fault.corrupt.change,
      ...(fault.corrupt.set === undefined ? {} : { set: fault.corrupt.set }),
    }),
    run.ctx,
  );
  const corruptedAt = now();
  run.event('fault-injected', damage.summary);
  run.say(`fault: ${damage.summary}`);
  return { summary: damage.summary, output: damage.output, faultAt, corruptedAt };
}

/** Runs the plan's own validations on the damaged site every 50 ms until one fails (or the deadline). */
async function awaitDetection(
  run: CorruptionRun,
  deadline: number,
): Promise<{ at: number; by: string } | undefined> {
  while (now() < deadline && !run.signal.aborted) {
    const state = await run.passes(run.fault.site);
    if (!state.ok) return { at: now(), by: state.message };
    await sleep(50, run.signal);
  }
  return undefined;
}

/** How the restore went: its run, and when the restored data passed its validations. */
interface Restore {
  restoredAt: number | undefined;
  runId: string | undefined;
  runStatus: string;
}

function notDetected(run: CorruptionRun, summary: string): Restore {
  run.findings.push({
    code: 'DRCTL_DRILL_NOT_DETECTED',
    severity: 'error',
    message: `the runbook's validations did not notice ${summary}`,
    hint: 'add a validation that is false when rows are missing or wrong (counts, sums, checksums of the table)',
  });
  return { restoredAt: undefined, runId: undefined, runStatus: 'not started' };
}

/** Runs the scenario's restore-to-before runbook, keeps its evidence, and checks the restored data. */
async function restoreToBefore(
  run: CorruptionRun,
  deadline: number,
  damage: Damage,
  detected: { at: number; by: string },
): Promise<Restore> {
  const { scenario, store, recoveredAt } = run;
  run.event('detected', `corruption detected: ${detected.by}`);
  run.say(`detected after ${formatMs(detected.at - damage.corruptedAt)}: ${detected.by}`);
  const engine = new Engine({
    store,
    providers,
    stateDir: run.stateDir,
    logger: run.ctx.log,
    pollMs: 20,
    hooks: [
      {
        onStepStart: (e) => run.event('step-started', e.step.name, e.step.id),
        onStepComplete: (e) => {
          run.event('step-finished', e.summary, e.step.id);
          run.say(`  ✔ ${e.step.id} ${e.summary}`);
        },
        onStepError: (e) => run.event('step-failed', e.message, e.step.id),
      },
    ],
  });
  const driver = await engine.start({
    plan: run.plan,
    runbook: scenario.runbook,
    workload: run.workload.id,
    startedBy: DRILL_ACTOR,
    trigger: { automatic: false, reason: `drill ${scenario.id}: corruption detected` },
  });
  const outcome = await Promise.race([
    driver.done,
    sleep(Math.max(0, deadline + 60_000 - now()), run.signal).then(() => undefined),
  ]);
  const runStatus = outcome?.status ?? 'did not finish in time';
  for (const entry of await store.readJournal(driver.runId)) {
    const data = entry.data as { name?: string; value?: unknown } | undefined;
    if (entry.type === 'evidence' && data?.name !== undefined)
      run.evidence.push({ name: `${entry.step ?? ''}.${data.name}`, value: data.value });
  }
  let restoredAt: number | undefined;
  if (outcome?.status === 'succeeded') {
    const after = await run.passes(recoveredAt);
    if (after.ok) restoredAt = now();
    else
      run.findings.push({
        code: 'DRCTL_DRILL_NOT_RESTORED',
        severity: 'error',
        message: `after ${scenario.runbook} the validations still fail at ${recoveredAt}: ${after.message}`,
        hint: 'the restore did not go back far enough, or recovered_at names the wrong site',
      });
  }
  run.event('note', `run ${driver.runId} ${runStatus}`);
  if (outcome?.status !== 'succeeded') {
    run.findings.push({
      code: 'DRCTL_DRILL_RUN_FAILED',
      severity: 'error',
      message: `the ${scenario.runbook} run ${driver.runId} ended ${runStatus}`,
      hint: `drctl status ${driver.runId} --state ${run.stateDir}`,
    });
  }
  return { restoredAt, runId: driver.runId, runStatus };
}

/** The canary's acknowledged writes the restored data lacks (none counted when nothing was restored). */
async function goodWritesKept(
  run: CorruptionRun,
  acks: readonly CanaryAck[],
  restoredAt: number | undefined,
): Promise<LossMeasurement> {
  let found = new Set<string>();
  if (restoredAt !== undefined) {
    found = new Set(
      (await run.query(run.recoveredAt, `select id::text from ${CANARY_TABLE}`)).map((row) => String(row[0])),
    );
  }
  const lost = restoredAt === undefined ? [] : acks.filter((ack) => !found.has(ack.id));
  const first = lost[0];
  const last = lost.at(-1);
  return {
    acknowledged: acks.length,
    lost,
    count: lost.length,
    firstLostAt: first?.ackAt,
    lastLostAt: last?.ackAt,
    spanMs: first === undefined || last === undefined ? 0 : last.ackAt - first.ackAt,
  };
}

function corruptionFigures(
  run: CorruptionRun,
  damage: Damage,
  detected: { at: number; by: string } | undefined,
  restore: Restore,
  loss: LossMeasurement,
): CorruptionFigures {
  const { fault } = run;
  const { corruptedAt } = damage;
  const { restoredAt } = restore;
  const last = loss.lost.at(-1);
  return {
    table: fault.corrupt.table,
    change: fault.corrupt.change,
    rows: Number((damage.output as { rows?: number } | undefined)?.rows ?? 0),
    transaction: String((damage.output as { xid?: string } | undefined)?.xid ?? ''),
    corruptedAt: new Date(corruptedAt).toISOString(),
    detectionMs: detected === undefined ? undefined : Math.round(detected.at - corruptedAt),
    detectedBy: detected?.by || undefined,
    rtoMs: restoredAt === undefined ? undefined : Math.round(restoredAt - corruptedAt),
    restoreMs:
      restoredAt === undefined || detected === undefined ? undefined : Math.round(restoredAt - detected.at),
    run: restore.runId,
    runStatus: restore.runStatus,
    recoveredAt: run.recoveredAt,
    goodWritesLost:
      restoredAt === undefined
        ? undefined
        : {
            rows: loss.count,
            spanMs: Math.round(loss.spanMs),
            sinceDamageMs: last === undefined ? 0 : Math.round(last.ackAt - corruptedAt),
          },
  };
}

function corruptionVerdicts(
  targets: { rtoMs: number; rpoMs: number },
  figures: CorruptionFigures,
): Verdict[] {
  const lost = figures.goodWritesLost;
  return [
    {
      target: 'rto',
      objectiveMs: targets.rtoMs,
      measuredMs: figures.rtoMs,
      pass: figures.rtoMs !== undefined && figures.rtoMs <= targets.rtoMs,
      detail:
        figures.rtoMs === undefined
          ? 'The data was not restored to a state that passes its validations during the drill.'
          : `Data restored and validated ${formatMs(figures.rtoMs)} after the damage (detected after ${formatMs(figures.detectionMs ?? 0)}; objective ${formatMs(targets.rtoMs)}).`,
    },
    {
      target: 'rpo',
      objectiveMs: targets.rpoMs,
      measuredMs: lost?.sinceDamageMs,
      pass: lost !== undefined && (lost.rows === 0 || lost.sinceDamageMs <= targets.rpoMs),
      detail:
        lost === undefined
          ? 'Not measured: nothing was restored.'
          : `${lost.rows} good writes made after the restore point are not in the restored data, the last ${formatMs(lost.sinceDamageMs)} after the damage (objective ${formatMs(targets.rpoMs)}).`,
    },
  ];
}
