/**
 * Training currency (seed 003): each DR executor's last rehearsal — a tabletop exercise they led or
 * attended (kept in the store), or a drill of the plan's history that names them among its participants —
 * against the plan's review interval. Someone whose last one is older, or who never took part, would run a
 * real recovery from a runbook they have not practised. Informational, like attestations: `ok` of the
 * compliance report does not depend on it.
 */
import type { Contact, Plan } from '../plan/model.ts';
import type { RunStore } from '../store/store.ts';
import { TABLETOP_COLLECTION, type TabletopRecord } from '../tabletop/record.ts';

/** current: took part within the review interval; stale: longer ago; never: no participation recorded. */
export type TrainingState = 'current' | 'stale' | 'never';

export interface TrainingStatus {
  contact: string;
  name: string;
  last: { at: Date; what: string } | undefined;
  /** When the last participation stops counting (last + the review interval). */
  expiresAt: Date | undefined;
  status: TrainingState;
}

/** A tabletop names people as typed at the exercise: a contact's id or name, in any case. */
function isContact(contact: Contact, said: string): boolean {
  const s = said.trim().toLowerCase();
  return s === contact.id.toLowerCase() || s === contact.name.toLowerCase();
}

export async function trainingOf(plan: Plan, store: RunStore, now: Date): Promise<TrainingStatus[]> {
  const executors = plan.contacts.filter((c) => c.executor === true);
  if (executors.length === 0) return [];
  const tabletops = (await store.listDocuments(TABLETOP_COLLECTION, { limit: 10_000 }))
    .map((d) => d.data as unknown as TabletopRecord)
    .filter((t) => t.plan.name === plan.name);
  return executors.map((contact) => {
    const taken = [
      ...tabletops
        .filter((t) => [t.facilitator, ...t.attendees].some((said) => isContact(contact, said)))
        .map((t) => ({ at: new Date(t.finishedAt), what: `tabletop ${t.id} (${t.workload}/${t.runbook})` })),
      ...plan.drills.history
        .filter((h) => (h.participants ?? []).includes(contact.id))
        .map((h) => ({
          at: h.at,
          what: `${h.type === 'tabletop' ? 'tabletop' : `${h.type} drill`}${h.workload ? ` of ${h.workload}` : ''} (plan history)`,
        })),
    ].filter((p) => p.at.getTime() <= now.getTime());
    const last = taken.sort((a, b) => b.at.getTime() - a.at.getTime())[0];
    const expiresAt = last === undefined ? undefined : new Date(last.at.getTime() + plan.review.intervalMs);
    return {
      contact: contact.id,
      name: contact.name,
      last,
      expiresAt,
      status: expiresAt === undefined ? 'never' : expiresAt.getTime() < now.getTime() ? 'stale' : 'current',
    };
  });
}
