/**
 * Attestations: a person vouching for one of seed 002's suggested actions that no rule can check from the
 * plan (a communication plan tested, identity failover tried, backup costs reviewed). `drctl attest` keeps
 * them in the store (documents collection `attestations`, one per workload and item, the newest wins);
 * each holds for the plan's review interval, then is due again.
 */
import { UsageError } from '../errors.ts';
import type { Plan, Workload } from '../plan/model.ts';
import { attestationItems } from '../plan/strategies.ts';
import type { RunStore } from '../store/store.ts';

export const ATTESTATIONS_COLLECTION = 'attestations';
export const ATTESTATION_FORMAT = 'drctl.attestation/1';

export interface AttestationRecord {
  format: typeof ATTESTATION_FORMAT;
  workload: string;
  /** The suggested action's id (src/plan/strategies.ts). */
  item: string;
  /** The contact who attests. */
  by: string;
  note: string | undefined;
  /** ISO timestamp. */
  at: string;
  /** The plan version it was recorded against. */
  planHash: string;
}

/** Where one item stands: `ok` within the review interval, `expired` after it, `missing` never recorded. */
export interface AttestationStatus {
  workload: string;
  item: string;
  title: string;
  status: 'ok' | 'expired' | 'missing';
  last: AttestationRecord | undefined;
  expiresAt: Date | undefined;
}

/** `drctl attest` names a workload, item or contact the plan does not know: the hint lists what it knows. */
function refused(message: string, hint: string): UsageError {
  return new UsageError('DRCTL_ATTEST_UNKNOWN', message, { hint });
}

const documentId = (workload: string, item: string): string => `${workload}/${item}`;

export async function recordAttestation(
  plan: Plan,
  store: RunStore,
  input: { workload: string; item: string; by: string; note?: string | undefined; now: Date },
): Promise<AttestationRecord> {
  const workload = plan.workloads.find((w) => w.id === input.workload);
  if (workload === undefined)
    throw refused(
      `the plan has no workload ${input.workload}`,
      `name one of ${plan.workloads.map((w) => w.id).join(', ')}`,
    );
  const items = attestationItems(workload.strategy).map((a) => a.id);
  if (!items.includes(input.item))
    throw refused(
      `${input.item} is not something a person attests for a ${workload.strategy} workload`,
      `name one of ${items.join(', ')} (the others are checked by drctl analyze)`,
    );
  if (!plan.contacts.some((c) => c.id === input.by))
    throw refused(
      `the plan has no contact ${input.by}`,
      'the person who attests must be a contact of the plan',
    );
  const record: AttestationRecord = {
    format: ATTESTATION_FORMAT,
    workload: workload.id,
    item: input.item,
    by: input.by,
    note: input.note,
    at: input.now.toISOString(),
    planHash: plan.hash,
  };
  await store.putDocument(ATTESTATIONS_COLLECTION, documentId(workload.id, input.item), { ...record });
  return record;
}

export async function attestationsOf(plan: Plan, store: RunStore, now: Date): Promise<AttestationStatus[]> {
  const recorded = new Map<string, AttestationRecord>();
  for (const doc of await store.listDocuments(ATTESTATIONS_COLLECTION, { limit: 10_000 })) {
    const record = doc.data as unknown as AttestationRecord;
    if (record.format === ATTESTATION_FORMAT) recorded.set(documentId(record.workload, record.item), record);
  }
  return plan.workloads.flatMap((w) => assessWorkload(plan, w, recorded, now));
}

function assessWorkload(
  plan: Plan,
  workload: Workload,
  recorded: Map<string, AttestationRecord>,
  now: Date,
): AttestationStatus[] {
  return attestationItems(workload.strategy).map((action) => {
    const last = recorded.get(documentId(workload.id, action.id));
    const expiresAt = last && new Date(new Date(last.at).getTime() + plan.review.intervalMs);
    return {
      workload: workload.id,
      item: action.id,
      title: action.title,
      status: expiresAt === undefined ? 'missing' : expiresAt.getTime() < now.getTime() ? 'expired' : 'ok',
      last,
      expiresAt,
    };
  });
}
