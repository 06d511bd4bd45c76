/**
 * The activation gate: a run that must not act before people declare the disaster. The monitor opens such
 * a run when it confirms a site loss for a workload that does not fail over by itself; the gate is one
 * approval step every first step of the runbook waits for, so nothing changes until the plan's activation
 * approvers (with their quorum) say so. The gate is part of the run's first record, so a resumed run gets
 * the same step back even though the plan file does not contain it.
 */
import type { Plan, Runbook, Step } from '../plan/model.ts';

export interface ActivationGate {
  /** Who may declare; empty means anyone (a run's four-eyes rule still refuses whoever started it). */
  approvers: string[];
  /** @default 1 */
  quorum: number;
  /** Why the gate is there, shown as the step's description. */
  reason: string;
}

/** Id of the gate step: `activation`, or `activation-2`, ... when the runbook already uses it. */
function gateId(runbook: Runbook): string {
  const taken = new Set(runbook.steps.map((step) => step.id));
  let id = 'activation';
  for (let n = 2; taken.has(id); n += 1) id = `activation-${n}`;
  return id;
}

/** The runbook with the gate in front of it, or the runbook itself when there is no gate. */
export function withActivationGate(runbook: Runbook, gate: ActivationGate | undefined): Runbook {
  if (gate === undefined) return runbook;
  const id = gateId(runbook);
  const step: Step = {
    id,
    name: 'Declare the disaster (activation)',
    description: gate.reason,
    kind: 'approval',
    needs: [],
    prerequisite: undefined,
    owner: undefined,
    expectedMs: 0,
    contingencyMs: 0,
    timeoutMs: undefined,
    retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
    idempotent: true,
    run: undefined,
    action: undefined,
    call: undefined,
    with: {},
    manual: undefined,
    approval: { by: gate.approvers, role: undefined, quorum: Math.max(1, gate.quorum), fourEyes: false },
    wait: undefined,
    validate: [],
    evidence: [],
    onFailure: 'abort',
    escalateTo: undefined,
    undo: undefined,
    at: runbook.at,
  };
  return {
    ...runbook,
    steps: [step, ...runbook.steps.map((s) => (s.needs.length === 0 ? { ...s, needs: [id] } : s))],
  };
}

/** The one declaration in front of a site run: the plan's activation approvers and quorum. */
export function siteDeclaration(plan: Plan, site: string): ActivationGate {
  return {
    approvers: plan.activation?.approvers ?? [],
    quorum: plan.activation?.quorum ?? 1,
    reason: `Declare the loss of site ${site}: every workload it serves fails over in this run.${
      plan.activation === undefined ? '' : ` Criteria: ${plan.activation.criteria.join(' ')}`
    }`,
  };
}
