/**
 * Whom a message reaches: the escalation chain of a contact, the people reachable now (with stand-ins
 * for those away or off call), and whether a drill may speak beyond the test channels.
 */
import type { Plan } from '../plan/model.ts';
import { isReachable } from '../plan/people.ts';
import type { WatchedRun } from '../status/run-events.ts';

/** Whom to tell, in order, when a step waits too long: the contact, their backup, their escalation list. */
export function escalationChain(plan: Plan, first: string): string[] {
  const contact = plan.contacts.find((c) => c.id === first);
  const chain = [first, ...(contact?.backup ? [contact.backup] : []), ...(contact?.escalation ?? [])];
  return [...new Set(chain)].filter((id) => plan.contacts.some((c) => c.id === id));
}

/**
 * The people to tell as they can be reached now: someone away or off call is skipped, and their backup
 * stands in when the backup can be reached. `skipped` says who was skipped and why, for the message.
 */
export function reachableRecipients(
  plan: Plan,
  ids: readonly string[],
  at: Date,
): { recipients: string[]; skipped: string[] } {
  const recipients: string[] = [];
  const skipped: string[] = [];
  for (const id of new Set(ids)) {
    const contact = plan.contacts.find((c) => c.id === id);
    if (contact === undefined || isReachable(contact, at)) {
      recipients.push(id);
      continue;
    }
    const backup = plan.contacts.find((c) => c.id === contact.backup);
    const standIn = backup !== undefined && isReachable(backup, at) ? backup : undefined;
    const leave = (contact.away ?? []).find((a) => a.from <= at && at <= a.to);
    const why = leave ? `is away until ${leave.to.toISOString().slice(0, 10)}` : 'is off call now';
    skipped.push(`${contact.name} ${why}${standIn ? `; ${standIn.name} stands in.` : '.'}`);
    if (standIn) recipients.push(standIn.id);
  }
  return { recipients: [...new Set(recipients)], skipped };
}

/** A drill whose scenario does not say `announce: true`: it may speak only on test channels. */
export function quietDrill(run: WatchedRun): boolean {
  const drill = run.trigger?.drill !== undefined || run.startedBy === 'drill';
  return drill && run.trigger?.drill?.announce !== true;
}
