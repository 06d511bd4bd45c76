/** Technical recovery, step by step: each runbook's critical path against the RTO, then every step with what to do, check and record. */
import { stepCostMs } from '../../analysis/index.ts';
import type { Check, Runbook, Step, Workload } from '../../plan/model.ts';
import { runOrder } from '../order.ts';
import { ms, code, joinParts, runbookTitle, type Context } from '../document-context.ts';
import type { Block, Inline, InlinePart } from '../document-model.ts';

const FAILURE_PROCESS: Record<Step['onFailure'], string> = {
  abort: 'Stop the runbook: no later step starts. Call the escalation contact and record what failed.',
  continue: 'Record the failure with its evidence and carry on with the next steps.',
  rollback:
    'Undo this step and the finished steps before it, in reverse order, then stop and call the escalation contact.',
  escalate: 'Pause and call the escalation contact; they decide whether to retry, skip or abort.',
};

const STEP_KIND: Record<Step['kind'], string> = {
  shell: 'automated (shell)',
  action: 'automated (provider action)',
  manual: 'manual',
  approval: 'approval',
  wait: 'wait',
  check: 'check',
};

/** Filled in by hand on a printed runbook: the seed asks for an evidence trail and a completed runbook. */
const RECORD_LINE: InlinePart[] = ['started', 'finished', 'by', 'evidence ref'].flatMap((label, index) => [
  { text: `${index === 0 ? '' : '  '}${label} ` },
  { text: '', blank: true },
]);

export function technicalRecovery(ctx: Context): Block[] {
  const blocks: Block[] = [];
  if (ctx.runbooks.length === 0) return [{ kind: 'note', text: 'The plan has no runbooks yet.' }];
  for (const runbook of ctx.runbooks) blocks.push(...runbookBlocks(ctx, runbook));
  return blocks;
}

function runbookBlocks(ctx: Context, runbook: Runbook): Block[] {
  const blocks: Block[] = [];
  const workload = ctx.workload(runbook.workload);
  const order = runOrder(runbook);
  blocks.push(
    ctx.heading(
      3,
      `${runbookTitle(ctx, runbook)} (${runbook.kind})`,
      'runbook',
      runbook.workload,
      runbook.name,
    ),
  );
  if (runbook.description) blocks.push({ kind: 'paragraph', text: runbook.description });

  const rows: [string, Inline][] = [['Runbook', code(`${runbook.workload}/${runbook.name}`)]];
  rows.push([
    'Critical path',
    `${ms(order.criticalPathMs)} with contingency: ${order.criticalPath.map((s) => s.id).join(' → ')}`,
  ]);
  const verdict = ctx.analysis.runbooks.find(
    (r) => r.workload === runbook.workload && r.runbook === runbook.name,
  );
  if (workload && verdict) {
    if (!verdict.rtoApplies) {
      rows.push([
        'Against the RTO',
        `not measured: a ${runbook.kind} runbook is planned, not an outage (the RTO is ${ms(workload.rtoMs)})`,
      ]);
    } else if (verdict.fits) {
      rows.push([
        'Against the RTO',
        `fits the RTO of ${ms(workload.rtoMs)} with ${ms(workload.rtoMs - order.criticalPathMs)} to spare`,
      ]);
    } else {
      rows.push(['Against the RTO', `EXCEEDS the RTO of ${ms(workload.rtoMs)} by ${ms(verdict.overMs)}`]);
      const remedies = verdict.remedies.map((r) => r.message);
      rows.push([
        'What would help',
        remedies.length > 0
          ? remedies.join('; ')
          : 'automate manual steps, run steps in parallel, uplift components, or extend the RTO with the stakeholders',
      ]);
    }
  }
  rows.push(['One executor, step after step', ms(order.sequentialMs)]);
  blocks.push({ kind: 'fields', rows });

  blocks.push(ctx.heading(4, 'Run order', 'run-order', runbook.workload, runbook.name));
  blocks.push({
    kind: 'table',
    head: ['#', 'Wave', 'Step', 'Kind', 'Performed by', 'Expected', 'Contingency', 'After'],
    rows: order.waves.flatMap((wave, index) =>
      wave.map((step) => [
        String(order.position.get(step.id)?.order ?? ''),
        String(index + 1),
        [{ text: step.name }, { text: ' ' }, { text: step.id, code: true }],
        STEP_KIND[step.kind],
        ctx.name(step.owner),
        ms(step.expectedMs),
        ms(step.contingencyMs),
        step.needs.join(', '),
      ]),
    ),
  });

  const total = runbook.steps.length;
  for (const wave of order.waves) {
    for (const step of wave) {
      const position = order.position.get(step.id);
      const number = position?.order ?? 0;
      blocks.push(
        ctx.heading(4, `Step ${number}. ${step.name}`, 'step', runbook.workload, runbook.name, step.id),
      );
      const parallel = wave.filter((other) => other.id !== step.id).map((other) => other.id);
      blocks.push({
        kind: 'fields',
        rows: stepFields(
          ctx,
          workload,
          step,
          `wave ${position?.wave ?? '?'}, step ${number} of ${total}`,
          parallel,
        ),
      });
      if (step.validate.length > 0) {
        blocks.push({ kind: 'paragraph', text: [{ text: 'Validation', strong: true }] });
        blocks.push({ kind: 'list', checklist: true, items: step.validate.map(checkText) });
      }
      if (step.evidence.length > 0) {
        blocks.push({ kind: 'paragraph', text: [{ text: 'Evidence to attach', strong: true }] });
        blocks.push({ kind: 'list', checklist: true, items: step.evidence });
      }
      blocks.push({ kind: 'fields', rows: [['Record', RECORD_LINE]] });
    }
  }
  return blocks;
}

function stepFields(
  ctx: Context,
  workload: Workload | undefined,
  step: Step,
  position: string,
  parallel: string[],
): [string, Inline][] {
  const rows: [string, Inline][] = [];
  rows.push([
    'Run order',
    parallel.length > 0 ? `${position}; may run in parallel with ${parallel.join(', ')}` : position,
  ]);
  rows.push(['Step id', code(step.id)]);
  if (step.description) rows.push(['Description', step.description]);
  const before: string[] = [];
  if (step.needs.length > 0) before.push(`After ${step.needs.join(', ')} finished.`);
  if (step.prerequisite) before.push(step.prerequisite);
  if (before.length > 0) rows.push(['Prerequisite', before.join(' ')]);
  if (step.owner) rows.push(['Performed by', ctx.reach(step.owner)]);
  rows.push(['Kind', STEP_KIND[step.kind]]);

  if (step.run !== undefined) rows.push(['Command', code(step.run)]);
  if (step.action !== undefined) {
    rows.push(['Action', code(step.action)]);
    const params = Object.entries(step.with);
    if (params.length > 0)
      rows.push([
        'Parameters',
        joinParts(params.map(([key, value]) => code(`${key}: ${JSON.stringify(value)}`))),
      ]);
  }
  if (step.manual !== undefined) rows.push(['Instructions', step.manual]);
  if (step.approval) {
    const a = step.approval;
    const who = [...a.by.map((id) => ctx.name(id)), ...(a.role ? [`anyone holding the role ${a.role}`] : [])];
    rows.push([
      'Approval',
      `${a.quorum} of: ${who.join(', ') || 'any approver'}${a.fourEyes ? '; four-eyes: the approver may not be the person who started the run' : ''}`,
    ]);
  }
  if (step.wait) {
    const w = step.wait;
    const parts: string[] = [];
    if (w.forMs !== undefined) parts.push(`wait ${ms(w.forMs)}`);
    if (w.until) parts.push(`wait until: ${plainCheck(w.until)} (checked every ${ms(w.everyMs)})`);
    if (w.deadlineMs !== undefined) parts.push(`give up after ${ms(w.deadlineMs)}`);
    rows.push(['Wait', parts.join('; ')]);
  }

  const clients = step.clientsMove;
  let time =
    clients === undefined
      ? `${ms(step.expectedMs)} expected + ${ms(step.contingencyMs)} contingency = ${ms(step.expectedMs + step.contingencyMs)}`
      : `${ms(step.expectedMs)} expected + ${ms(step.contingencyMs)} contingency + ${ms(clients.ms)} until clients move (${clients.reason}) = ${ms(stepCostMs(step))}`;
  if (step.timeoutMs !== undefined) time += `; stopped after ${ms(step.timeoutMs)}`;
  if (step.retries.attempts > 0) time += `; retried up to ${step.retries.attempts} times`;
  rows.push(['Expected time', time]);

  let failure = `${step.onFailure}: ${FAILURE_PROCESS[step.onFailure]}`;
  if (step.undo) {
    const undo = step.undo.description ?? step.undo.run ?? step.undo.action ?? '';
    failure += ` Roll back with: ${undo}`;
  }
  rows.push(['If it fails', failure]);

  const escalation =
    step.escalateTo ??
    (step.owner ? ctx.contacts.get(step.owner)?.escalation[0] : undefined) ??
    workload?.owner;
  if (escalation) rows.push(['Escalation', ctx.reach(escalation)]);
  return rows;
}

function plainCheck(check: Check): string {
  const where = [check.component, check.site].filter(Boolean).join('@');
  if (check.run !== undefined) return `command \`${check.run}\` exits 0`;
  if (check.http) {
    const h = check.http;
    let text = `${h.method} ${h.url} answers ${h.status}`;
    if (h.bodyContains !== undefined) text += ` containing "${h.bodyContains}"`;
    if (h.latencyMs !== undefined) text += ` within ${ms(h.latencyMs)}`;
    return text;
  }
  if (check.sql !== undefined)
    return `query on ${where || 'the database'}: ${check.sql}${check.expect === undefined ? '' : ` gives ${JSON.stringify(check.expect)}`}`;
  if (check.check !== undefined) {
    const params = Object.entries(check.with).map(
      ([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
    return `${check.check}${where ? ` on ${where}` : ''}${params.length > 0 ? ` (${params.join(', ')})` : ''}${check.expect === undefined ? '' : ` gives ${JSON.stringify(check.expect)}`}`;
  }
  return check.name;
}

function checkText(check: Check): Inline {
  const parts: InlinePart[] = [];
  if (check.name) parts.push({ text: `${check.name}:`, strong: true }, { text: ' ' });
  if (check.run !== undefined) parts.push({ text: 'run ' }, { text: check.run, code: true });
  else if (check.sql !== undefined) {
    const where = [check.component, check.site].filter(Boolean).join('@');
    parts.push({ text: `query${where ? ` on ${where}` : ''} ` }, { text: check.sql, code: true });
    if (check.expect !== undefined) parts.push({ text: ` expecting ${JSON.stringify(check.expect)}` });
  } else parts.push({ text: plainCheck(check) });
  if (check.evidence) parts.push({ text: `. Proves: ${check.evidence}` });
  return parts;
}
