/**
 * Seed 004's communication plan as promises kept or missed, per incident: the status page updated within
 * `status_page_within` (15m) of the incident opening, an update at least every `updates_every` (30m)
 * while it is open, and the root cause published within `root_cause_within` (72h) — an incident update
 * whose text starts with "Root cause". The post-incident review shows them.
 */
import type { Communications } from '../plan/model.ts';
import type { Incident } from './incidents.ts';

/** met: kept; missed: broken; pending: its deadline has not passed and it is not kept yet. */
export type PromiseStatus = 'met' | 'missed' | 'pending';

export interface CommunicationPromise {
  promise: 'status-page' | 'updates' | 'root-cause';
  limitMs: number;
  /** What was seen: the time to the first update, the longest gap, the time to the root cause. */
  observedMs: number | undefined;
  status: PromiseStatus;
}

/** Each promise as people read it in a review, a pack or a reminder. */
export const PROMISE_TEXT: Record<CommunicationPromise['promise'], string> = {
  'status-page': 'status page updated after the incident opened',
  updates: 'longest time between updates while open',
  'root-cause': 'root cause published (an update starting "Root cause")',
};

const ROOT_CAUSE = /^\s*root cause/i;

export function communicationPromises(
  incident: Incident,
  cadence: Pick<Communications, 'statusPageWithinMs' | 'updatesEveryMs' | 'rootCauseWithinMs'>,
  now: Date,
): CommunicationPromise[] {
  const opened = Date.parse(incident.openedAt);
  const times = incident.updates.map((u) => Date.parse(u.at)).sort((a, b) => a - b);
  const end = incident.resolvedAt === undefined ? now.getTime() : Date.parse(incident.resolvedAt);
  const judge = (limitMs: number, observedMs: number | undefined, elapsedMs: number): PromiseStatus =>
    observedMs !== undefined
      ? observedMs <= limitMs
        ? 'met'
        : 'missed'
      : elapsedMs > limitMs
        ? 'missed'
        : 'pending';

  const first = times[0] === undefined ? undefined : times[0] - opened;
  // the cadence holds while the incident is open: a root cause published after it closed is no gap
  const whileOpen = times.filter((t) => t <= end);
  const gaps = [...whileOpen, end].slice(1).map((t, i) => t - whileOpen[i]!);
  const longest = whileOpen.length === 0 ? undefined : Math.max(0, ...gaps);
  const rootCause = incident.updates.find((u) => ROOT_CAUSE.test(u.body));
  const rootCauseMs = rootCause === undefined ? undefined : Date.parse(rootCause.at) - opened;
  return [
    {
      promise: 'status-page',
      limitMs: cadence.statusPageWithinMs,
      observedMs: first,
      status: judge(cadence.statusPageWithinMs, first, now.getTime() - opened),
    },
    {
      promise: 'updates',
      limitMs: cadence.updatesEveryMs,
      observedMs: longest,
      status:
        longest === undefined
          ? judge(cadence.updatesEveryMs, undefined, end - opened)
          : longest <= cadence.updatesEveryMs
            ? 'met'
            : 'missed',
    },
    {
      promise: 'root-cause',
      limitMs: cadence.rootCauseWithinMs,
      observedMs: rootCauseMs,
      status: judge(cadence.rootCauseWithinMs, rootCauseMs, now.getTime() - opened),
    },
  ];
}
