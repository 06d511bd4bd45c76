/**
 * When a contact can be reached: on-call hours in their time zone and dates away. Escalation and
 * notifications skip a contact who is away; analysis warns when everyone who can approve or execute a
 * workload's recovery is away on the same day.
 */
import type { Contact, OnCall, Weekday } from './model.ts';
import type { PlanFileInput } from './schema.ts';

type ContactInput = NonNullable<PlanFileInput['contacts']>[number];
type Availability = Required<
  Pick<Contact, 'category' | 'workloads' | 'executor' | 'timezone' | 'onCall' | 'away'>
>;

const EVERY_DAY: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_MS = 86_400_000;

export function compileAvailability(contact: ContactInput): Availability {
  return {
    category: contact.category,
    workloads: contact.workloads ?? [],
    executor: contact.executor ?? false,
    timezone: contact.timezone ?? 'UTC',
    onCall: (contact.on_call ?? []).map((o): OnCall => ({
      days: o.days ?? EVERY_DAY,
      fromMin: minutes(o.from),
      toMin: minutes(o.to),
    })),
    away: (contact.away ?? []).map((a) => ({
      from: startOfDay(new Date(a.from)),
      // the last day away is inclusive: away until the end of it
      to: new Date(startOfDay(new Date(a.to)).getTime() + DAY_MS - 1),
      note: a.note,
    })),
  };
}

function minutes(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function startOfDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/** Whether a contact is away (on leave) at a moment. */
export function isAway(contact: Pick<Contact, 'away'>, at: Date): boolean {
  const t = at.getTime();
  return (contact.away ?? []).some((a) => a.from.getTime() <= t && t <= a.to.getTime());
}

/** Whether a contact can be reached at a moment: not away, and inside on-call hours when they have any. */
export function isReachable(contact: Pick<Contact, 'away' | 'onCall' | 'timezone'>, at: Date): boolean {
  if (isAway(contact, at)) return false;
  const onCall = contact.onCall ?? [];
  if (onCall.length === 0) return true;
  const { day, minute } = localTime(at, contact.timezone ?? 'UTC');
  const yesterday = EVERY_DAY[(EVERY_DAY.indexOf(day) + 6) % 7]!;
  return onCall.some((o) =>
    o.fromMin <= o.toMin
      ? o.days.includes(day) && minute >= o.fromMin && minute < o.toMin
      : // hours past midnight belong to the day they started on
        (o.days.includes(day) && minute >= o.fromMin) || (o.days.includes(yesterday) && minute < o.toMin),
  );
}

function localTime(at: Date, timezone: string): { day: Weekday; minute: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return {
    day: get('weekday').toLowerCase().slice(0, 3) as Weekday,
    minute: Number(get('hour')) * 60 + Number(get('minute')),
  };
}
