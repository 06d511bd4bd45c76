/**
 * Tabletop exercises (seed 004: quarterly, procedure review with the key stakeholders): a runbook walked
 * through step by step in the terminal, in run order. The attendees are recorded; for each step their
 * answer to "what would you do?" and "what is missing?" is kept; every missing thing becomes a finding.
 * Input is read line by line, so a script (stdin not a terminal) can drive it like a person.
 */
import { createInterface } from 'node:readline';
import { dependencyWaves } from '../analysis/index.ts';
import { UsageError } from '../errors.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Plan, Runbook, Step } from '../plan/model.ts';
import type { RunStore } from '../store/store.ts';
import {
  TABLETOP_COLLECTION,
  TABLETOP_FORMAT,
  type TabletopFinding,
  type TabletopRecord,
  type TabletopStepRecord,
} from './record.ts';

export * from './record.ts';

export interface TabletopOptions {
  plan: Plan;
  workload: string;
  /** The runbook to walk through. @default failover, else the workload's first runbook */
  runbook?: string;
  store: RunStore;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Who attended; asked for when absent. */
  attendees?: string[];
  /** Who led it. @default the first attendee */
  facilitator?: string;
  /** @default the system clock */
  clock?: () => Date;
}

/** The runbook of a workload a tabletop walks through. */
export function tabletopRunbook(plan: Plan, workloadId: string, name?: string): Runbook {
  const workload = plan.workloads.find((w) => w.id === workloadId);
  if (workload === undefined)
    throw new UsageError('DRCTL_TABLETOP_WORKLOAD', `the plan has no workload ${workloadId}`, {
      hint: `workloads: ${plan.workloads.map((w) => w.id).join(', ')}`,
    });
  const runbook =
    name === undefined
      ? (workload.runbooks.find((r) => r.name === 'failover') ?? workload.runbooks[0])
      : workload.runbooks.find((r) => r.name === name);
  if (runbook === undefined)
    throw new UsageError(
      'DRCTL_TABLETOP_RUNBOOK',
      name === undefined
        ? `workload ${workloadId} has no runbook to walk through`
        : `workload ${workloadId} has no runbook ${name}`,
      { hint: `runbooks of ${workloadId}: ${workload.runbooks.map((r) => r.name).join(', ') || 'none'}` },
    );
  return runbook;
}

/** Steps in the order the runbook runs them: wave by wave, as the printed runbook numbers them. */
function inRunOrder(runbook: Runbook): Step[] {
  const byId = new Map(runbook.steps.map((s) => [s.id, s]));
  return dependencyWaves(runbook.steps).flatMap((wave) => wave.flatMap((id) => byId.get(id) ?? []));
}

function describeStep(plan: Plan, step: Step): string[] {
  const name = (id: string | undefined): string =>
    id === undefined ? '' : (plan.contacts.find((c) => c.id === id)?.name ?? id);
  const lines: string[] = [];
  if (step.description) lines.push(`  ${step.description}`);
  if (step.prerequisite) lines.push(`  before: ${step.prerequisite}`);
  if (step.manual) lines.push(`  by hand: ${step.manual}`);
  if (step.action) lines.push(`  action: ${step.action} ${JSON.stringify(step.with)}`);
  if (step.run) lines.push(`  shell: ${step.run}`);
  if (step.approval)
    lines.push(
      `  approval by ${step.approval.by.map(name).join(', ') || step.approval.role || 'anyone'} (quorum ${step.approval.quorum})`,
    );
  if (step.wait)
    lines.push(`  wait${step.wait.forMs ? ` ${formatDuration(step.wait.forMs)}` : ' until a check passes'}`);
  if (step.needs.length > 0) lines.push(`  after: ${step.needs.join(', ')}`);
  if (step.owner) lines.push(`  owner: ${name(step.owner)}`);
  lines.push(
    `  expected ${formatDuration(step.expectedMs)}${step.contingencyMs > 0 ? ` + ${formatDuration(step.contingencyMs)} contingency` : ''}`,
  );
  for (const check of step.validate)
    lines.push(`  validate: ${check.name}${check.evidence ? ` (${check.evidence})` : ''}`);
  for (const evidence of step.evidence) lines.push(`  evidence: ${evidence}`);
  lines.push(`  on failure: ${step.onFailure}${step.escalateTo ? ` → ${name(step.escalateTo)}` : ''}`);
  return lines;
}

export async function runTabletop(options: TabletopOptions): Promise<TabletopRecord> {
  const { plan, store, output } = options;
  const clock = options.clock ?? (() => new Date());
  const runbook = tabletopRunbook(plan, options.workload, options.runbook);
  const say = (text: string): void => void output.write(`${text}\n`);
  const terminal = (options.input as { isTTY?: boolean }).isTTY === true;
  const lines = createInterface({ input: options.input, terminal })[Symbol.asyncIterator]();
  let ended = false;
  const ask = async (prompt: string): Promise<string | undefined> => {
    if (ended) return undefined;
    output.write(prompt);
    const next = await lines.next();
    if (next.done === true) {
      ended = true;
      output.write('\n');
      return undefined;
    }
    if (!terminal) output.write(`${next.value}\n`);
    return next.value.trim();
  };

  const startedAt = clock();
  const steps = inRunOrder(runbook);
  say(`Tabletop exercise: ${runbook.workload}/${runbook.name} of plan ${plan.name} (${steps.length} steps)`);
  say(`plan version ${plan.hash.slice(0, 12)}; an empty answer to "what is missing" means nothing is.`);
  const attendees =
    options.attendees ??
    ((await ask('Attendees (comma separated): ')) ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
  const facilitator = options.facilitator ?? attendees[0] ?? 'unknown';
  const walked: TabletopStepRecord[] = [];
  for (const [index, step] of steps.entries()) {
    if (ended) break;
    say('');
    say(`Step ${index + 1}/${steps.length}  ${step.id}: ${step.name}`);
    for (const line of describeStep(plan, step)) say(line);
    const answer = await ask('What would you do? > ');
    if (answer === undefined) break;
    const missing = await ask('What is missing? > ');
    if (missing === undefined) break;
    walked.push({ id: step.id, name: step.name, answer, missing });
  }
  const findings: TabletopFinding[] = walked
    .filter((s) => s.missing !== '')
    .map((s) => ({
      code: 'DRCTL_TABLETOP_GAP',
      step: s.id,
      message: `${s.id}: ${s.missing}`,
      status: 'open',
    }));
  const finishedAt = clock();
  const record: TabletopRecord = {
    format: TABLETOP_FORMAT,
    id: `tabletop-${runbook.workload}-${runbook.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
    plan: { name: plan.name, hash: plan.hash },
    workload: runbook.workload,
    runbook: runbook.name,
    facilitator,
    attendees,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    status: walked.length === steps.length ? 'completed' : 'incomplete',
    steps: walked,
    findings,
  };
  await resolveEarlier(store, record);
  await store.putDocument(TABLETOP_COLLECTION, record.id, record as unknown as Record<string, unknown>);
  say('');
  say(
    `${record.status === 'completed' ? 'Walked through' : 'Stopped after'} ${walked.length} of ${steps.length} steps with ${attendees.length} attendee${attendees.length === 1 ? '' : 's'}; ${findings.length} open point${findings.length === 1 ? '' : 's'}.`,
  );
  for (const f of findings) say(`  ${f.code} ${f.message}`);
  say(`recorded as ${record.id}`);
  return record;
}

/** Open points of earlier exercises of the runbook are resolved where this one found nothing missing. */
async function resolveEarlier(store: RunStore, current: TabletopRecord): Promise<void> {
  const clean = new Set(current.steps.filter((s) => s.missing === '').map((s) => s.id));
  for (const doc of await store.listDocuments(TABLETOP_COLLECTION, { limit: 10_000 })) {
    const earlier = doc.data as unknown as TabletopRecord;
    if (earlier.workload !== current.workload || earlier.runbook !== current.runbook) continue;
    let changed = false;
    for (const f of earlier.findings)
      if (f.status === 'open' && clean.has(f.step)) {
        f.status = 'resolved';
        changed = true;
      }
    if (changed)
      await store.putDocument(TABLETOP_COLLECTION, doc.id, earlier as unknown as Record<string, unknown>, {
        expectVersion: doc.version,
      });
  }
}
