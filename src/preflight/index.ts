/**
 * Preflight: before a disaster, can every step of every runbook still run? For each step it runs the
 * checks the step's provider declares for its action (target reachable, credentials accepted, programs
 * installed, capacity), and for approvals and escalations whether the people exist and, with a state
 * store, hold a token with the right role. Nothing is changed. Each check is cut at a timeout and
 * reported as timed out. The result is kept in the store so readiness can say whether the plan, as it
 * is now, has passed (docs/preflight.md).
 */
import type { SourceLocation } from '../errors.ts';
import { callName } from '../plan/calls.ts';
import type { Plan, Step } from '../plan/model.ts';
import type { ActionContext, PreflightCheck, PreflightKind, Provider } from '../providers/provider.ts';
import type { RunStore } from '../store/store.ts';
import { silentLogger } from '../system/logger.ts';

/** How one check ended. */
export type PreflightStatus =
  /** the check proved the step can run */
  | 'passed'
  /** the check found what would make the step fail */
  | 'failed'
  /** the check did not answer within the timeout (a hung target is a finding too) */
  | 'timed-out';

export interface PreflightItem {
  workload: string;
  runbook: string;
  step: string;
  check: string;
  kind: PreflightKind;
  status: PreflightStatus;
  message: string;
  durationMs: number;
  location: SourceLocation;
}

export interface PreflightReport {
  planHash: string;
  at: string;
  ok: boolean;
  summary: Record<PreflightStatus, number>;
  /** Per workload: whether every check of its runbooks passed. */
  workloads: Record<string, { ok: boolean; failed: number }>;
  items: PreflightItem[];
}

export interface PreflightOptions {
  providers: readonly Provider[];
  stateDir: string;
  /** With a store, approvers and escalation contacts must hold a token with the right role. */
  store?: RunStore;
  /** Each check is cut after this long. @default 10000 */
  timeoutMs?: number;
  now?: () => Date;
}

export const DEFAULT_PREFLIGHT_TIMEOUT_MS = 10_000;
/** Where the newest report is kept (documents collection, id = plan name). */
export const PREFLIGHT_COLLECTION = 'preflight';
/** The server keeps access tokens in this collection (server/auth.ts); preflight only reads their names and roles. */
const TOKENS_COLLECTION = 'tokens';

interface Token {
  name: string;
  role: string;
  revokedAt?: string;
}

type CheckOutcome = Omit<PreflightItem, 'workload' | 'runbook' | 'step' | 'location'>;

/** A check bound to what it runs on, keyed so the same target is probed once however many steps use it. */
interface Planned {
  key: string;
  check: Pick<PreflightCheck, 'name' | 'kind'>;
  run(ctx: ActionContext): Promise<{ ok: boolean; message: string } | undefined>;
}

export async function runPreflight(plan: Plan, options: PreflightOptions): Promise<PreflightReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PREFLIGHT_TIMEOUT_MS;
  const tokens = options.store === undefined ? undefined : await activeTokens(options.store);
  const results = new Map<string, Promise<CheckOutcome | undefined>>();
  const pending: Array<{
    where: Pick<PreflightItem, 'workload' | 'runbook' | 'step' | 'location'>;
    key: string;
  }> = [];
  const schedule = (where: (typeof pending)[number]['where'], planned: Planned): void => {
    if (!results.has(planned.key)) results.set(planned.key, runOne(plan, options, planned, timeoutMs));
    pending.push({ where, key: planned.key });
  };
  for (const workload of plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        const where = { workload: workload.id, runbook: runbook.name, step: step.id, location: step.at };
        for (const planned of providerChecks(options.providers, step)) schedule(where, planned);
        for (const planned of peopleChecks(plan, step, tokens)) schedule(where, planned);
      }
    }
  }
  const items: PreflightItem[] = [];
  for (const { where, key } of pending) {
    const outcome = await results.get(key);
    if (outcome !== undefined) items.push({ ...where, ...outcome });
  }
  const summary: Record<PreflightStatus, number> = { passed: 0, failed: 0, 'timed-out': 0 };
  const workloads: PreflightReport['workloads'] = {};
  for (const workload of plan.workloads) workloads[workload.id] = { ok: true, failed: 0 };
  for (const item of items) {
    summary[item.status] += 1;
    const entry = workloads[item.workload];
    if (entry !== undefined && item.status !== 'passed') {
      entry.ok = false;
      entry.failed += 1;
    }
  }
  return {
    planHash: plan.hash,
    at: (options.now?.() ?? new Date()).toISOString(),
    ok: summary.failed === 0 && summary['timed-out'] === 0,
    summary,
    workloads,
    items,
  };
}

/** Keeps the newest report of a plan, for readiness and `needs verification`. */
export async function savePreflight(store: RunStore, plan: Plan, report: PreflightReport): Promise<void> {
  const existing = await store.getDocument(PREFLIGHT_COLLECTION, plan.name);
  const passed = existing?.data.lastPassed as { planHash: string; at: string } | undefined;
  const workloadsPassed = {
    ...((existing?.data.workloadsPassed as Record<string, string> | undefined) ?? {}),
  };
  for (const [workload, result] of Object.entries(report.workloads))
    if (result.ok) workloadsPassed[workload] = report.planHash;
  await store.putDocument(PREFLIGHT_COLLECTION, plan.name, {
    report: report as unknown as Record<string, unknown>,
    lastPassed: report.ok ? { planHash: report.planHash, at: report.at } : passed,
    workloadsPassed,
  });
}

/** Whether a workload's plan, as it is now, has been proven by a passed preflight and a passed drill. */
export interface WorkloadVerification {
  state: 'verified' | 'needs-verification';
  /** Its checks all passed in a preflight of this plan hash. */
  preflightPassed: boolean;
  /** A drill of it passed on this plan hash. */
  drillPassed: boolean;
}

/**
 * Veeam's "needs verification": once the plan's content hash changed, a workload needs both a passed
 * preflight and a passed drill on the new hash before it counts as verified again.
 */
export async function verificationOf(
  store: RunStore,
  plan: Plan,
): Promise<Record<string, WorkloadVerification>> {
  const doc = await store.getDocument(PREFLIGHT_COLLECTION, plan.name);
  const passed = (doc?.data.workloadsPassed as Record<string, string> | undefined) ?? {};
  const result: Record<string, WorkloadVerification> = {};
  for (const workload of plan.workloads) {
    const drills = await store.listDrillReports({ workload: workload.id, limit: 200 });
    const preflightPassed = passed[workload.id] === plan.hash;
    const drillPassed = drills.some((drill) => drill.passed && drill.planHash === plan.hash);
    result[workload.id] = {
      state: preflightPassed && drillPassed ? 'verified' : 'needs-verification',
      preflightPassed,
      drillPassed,
    };
  }
  return result;
}

export interface StoredPreflight {
  report: PreflightReport;
  lastPassed: { planHash: string; at: string } | undefined;
}

export async function loadPreflight(store: RunStore, plan: Plan): Promise<StoredPreflight | undefined> {
  const doc = await store.getDocument(PREFLIGHT_COLLECTION, plan.name);
  if (doc === undefined) return undefined;
  return {
    report: doc.data.report as unknown as PreflightReport,
    lastPassed: doc.data.lastPassed as StoredPreflight['lastPassed'],
  };
}

async function runOne(
  plan: Plan,
  options: PreflightOptions,
  planned: Planned,
  timeoutMs: number,
): Promise<CheckOutcome | undefined> {
  const controller = new AbortController();
  const ctx: ActionContext = {
    signal: controller.signal,
    log: silentLogger(),
    plan,
    stateDir: options.stateDir,
    evidence: () => undefined,
  };
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('preflight timeout'));
      resolve('timed-out');
    }, timeoutMs);
  });
  const base = { check: planned.check.name, kind: planned.check.kind };
  try {
    const outcome = await Promise.race([planned.run(ctx), timedOut]);
    const durationMs = Date.now() - started;
    if (outcome === 'timed-out')
      return { ...base, status: 'timed-out', message: `no answer within ${timeoutMs}ms`, durationMs };
    if (outcome === undefined) return undefined; // the check does not apply to this step's parameters
    return { ...base, status: outcome.ok ? 'passed' : 'failed', message: outcome.message, durationMs };
  } catch (error) {
    // a check that cannot even be set up (no placement, a missing secret) is what the step would hit too
    const message = error instanceof Error ? error.message : String(error);
    return { ...base, status: 'failed', message, durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** The provider action a step runs, with its parameters parsed, and the checks declared beside it. */
function providerChecks(providers: readonly Provider[], step: Step): Planned[] {
  // the step's action as the plan compiled it (a `run:` is a call of the shell provider)
  const call = step.call;
  if (call === undefined) return [];
  const provider = providers.find((candidate) => candidate.name === call.provider);
  const action = provider?.actions[call.name];
  if (provider === undefined || action === undefined) return [];
  const parsed = action.params.safeParse(call.params);
  if (!parsed.success) return [];
  return (provider.preflight?.[call.name] ?? []).map((check) => ({
    key: `${callName(call)}:${check.name}:${JSON.stringify(call.params)}`,
    check,
    run: (ctx) => check.run(parsed.data, ctx),
  }));
}

async function activeTokens(store: RunStore): Promise<Token[]> {
  const docs = await store.listDocuments(TOKENS_COLLECTION);
  return docs.map((doc) => doc.data as unknown as Token).filter((token) => token.revokedAt === undefined);
}

/** Roles that may approve, and that may act on an escalated step (retry, skip, abort). */
const CAN_APPROVE = new Set(['approver', 'admin']);
const CAN_DECIDE = new Set(['operator', 'admin']);

function peopleChecks(plan: Plan, step: Step, tokens: Token[] | undefined): Planned[] {
  const checks: Planned[] = [];
  const contacts = new Set(plan.contacts.map((contact) => contact.id));
  const person = (id: string, roles: ReadonlySet<string>, duty: string): Planned => ({
    key: `people:${id}:${[...roles].join('|')}`,
    check: { name: `${duty} ${id} can act`, kind: 'people' },
    run: async () => {
      if (!contacts.has(id)) return { ok: false, message: `${id} is not a contact of the plan` };
      if (tokens === undefined)
        return { ok: true, message: `${id} is a contact (no state store given: tokens not checked)` };
      const held = tokens.filter((token) => token.name === id);
      if (held.some((token) => roles.has(token.role)))
        return { ok: true, message: `${id} holds a ${held.map((token) => token.role).join('/')} token` };
      return {
        ok: false,
        message:
          held.length === 0
            ? `${id} holds no token: they cannot ${duty === 'approver' ? 'approve' : 'decide'} from the console or the API`
            : `${id} holds a ${held.map((token) => token.role).join('/')} token, not ${[...roles].join(' or ')}`,
      };
    },
  });
  if (step.approval !== undefined) {
    const byRole = plan.contacts
      .filter(
        (contact) =>
          step.approval?.role !== undefined &&
          (contact.roles.includes(step.approval.role) || contact.role === step.approval.role),
      )
      .map((contact) => contact.id);
    for (const id of new Set([...step.approval.by, ...byRole]))
      checks.push(person(id, CAN_APPROVE, 'approver'));
  }
  if (step.escalateTo !== undefined) checks.push(person(step.escalateTo, CAN_DECIDE, 'escalation contact'));
  return checks;
}
