/**
 * How the engine carries out each step, resolved once before a run starts: the step's compiled call
 * (and its undo) matched to a registered provider action with its parameters parsed, whether running it
 * again is safe, and the snapshot of the step the run's first record keeps.
 */
import { UsageError } from '../errors.ts';
import { callName } from '../plan/calls.ts';
import type { Plan, ProviderCall, Step } from '../plan/model.ts';
import type { Provider, ProviderAction } from '../providers/provider.ts';
import type { StepSnapshot } from './journal.ts';

/** A provider action ready to run: its provider, `provider.action` name, definition and parsed parameters. */
export interface ResolvedAction {
  provider: Provider;
  name: string;
  definition: ProviderAction;
  params: unknown;
}

/** How the engine carries out a step: resolved once, before the run starts. */
export interface Execution {
  step: Step;
  action: ResolvedAction | undefined;
  undo: ResolvedAction | undefined;
  idempotent: boolean;
}

function resolveAction(
  providers: readonly Provider[],
  step: Step,
  call: ProviderCall,
  what: string,
  { onlyKnownParams = false } = {},
): ResolvedAction {
  const qualified = callName(call);
  const provider = providers.find((candidate) => candidate.name === call.provider);
  const definition = provider?.actions[call.name];
  if (provider === undefined || definition === undefined) {
    throw new UsageError(
      'DRCTL_RUN_ACTION_UNKNOWN',
      `step ${step.id}: ${what} ${qualified} is not a known provider action`,
      {
        hint: `registered providers: ${providers.map((candidate) => candidate.name).join(', ') || 'none'}`,
        location: step.at,
      },
    );
  }
  const params = onlyKnownParams ? knownParams(definition, call.params) : call.params;
  const parsed = definition.params.safeParse(params);
  if (!parsed.success) {
    throw new UsageError(
      'DRCTL_RUN_ACTION_PARAMS',
      `step ${step.id}: bad parameters for ${qualified}: ${parsed.error.message}`,
      {
        hint: 'fix the step\'s "with:" in the plan',
        location: step.at,
      },
    );
  }
  return { provider, name: qualified, definition, params: parsed.data };
}

/**
 * A provider's declared undo receives the step's parameters it knows: `process.start`'s `env` means
 * nothing to `process.stop`, which would refuse it as unknown.
 */
function knownParams(definition: ProviderAction, params: Record<string, unknown>): Record<string, unknown> {
  // a zod object has a shape; checked by its shape so that the engine does not load zod for one instanceof
  const shape = (definition.params as { shape?: unknown }).shape;
  if (typeof shape !== 'object' || shape === null) return params;
  const known = new Set(Object.keys(shape));
  return Object.fromEntries(Object.entries(params).filter(([key]) => known.has(key)));
}

export function resolveExecution(providers: readonly Provider[], step: Step): Execution {
  const action: Execution['action'] =
    step.call === undefined
      ? undefined
      : resolveAction(providers, step, step.call, step.kind === 'shell' ? 'the shell' : 'action');
  let undo: Execution['undo'];
  if (step.undo?.call !== undefined) {
    undo = resolveAction(
      providers,
      step,
      step.undo.call,
      step.undo.run === undefined ? 'undo action' : 'undo',
    );
  } else if (action?.definition.undo !== undefined) {
    undo = resolveAction(
      providers,
      step,
      { provider: action.provider.name, name: action.definition.undo, params: step.with },
      'undo action',
      { onlyKnownParams: true },
    );
  }
  // a wait or a check changes nothing, so running it again is always safe
  const idempotent =
    step.idempotent ||
    step.kind === 'wait' ||
    step.kind === 'check' ||
    (step.kind === 'action' &&
      (action?.definition.idempotent === true || action?.definition.resumable?.(action.params) === true));
  return { step, action, undo, idempotent };
}

export function snapshotOf(plan: Plan, execution: Execution): StepSnapshot {
  const { step } = execution;
  let approval: StepSnapshot['approval'];
  if (step.approval) {
    const byRole =
      step.approval.role === undefined
        ? []
        : plan.contacts
            .filter(
              (contact) =>
                contact.roles.includes(step.approval?.role ?? '') || contact.role === step.approval?.role,
            )
            .map((contact) => contact.id);
    approval = {
      approvers: [...new Set([...step.approval.by, ...byRole])],
      role: step.approval.role,
      quorum: step.approval.quorum,
      fourEyes: step.approval.fourEyes,
    };
  }
  return {
    id: step.id,
    name: step.name,
    kind: step.kind,
    needs: step.needs,
    expectedMs: step.expectedMs,
    contingencyMs: step.contingencyMs,
    idempotent: execution.idempotent,
    onFailure: step.onFailure,
    escalateTo: step.escalateTo,
    hasUndo: execution.undo !== undefined,
    evidence: step.evidence,
    approval,
  };
}
