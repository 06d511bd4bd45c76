/**
 * The rules of the plan schema that a type cannot say (a duration's range, a date of the calendar,
 * "exactly one of"), as plain predicates without zod. The schema refines with these very functions,
 * and the validator precompiled at build time (`precompile.ts`) calls them too, so both accept the same
 * plans.
 */
import { parseDuration } from './duration.ts';
import { SCHEDULE_TASKS } from './terms.ts';

/** The longest duration a plan may write: ten years, far above any honest interval or objective. */
export const MAX_DURATION_MS = 3_650 * 86_400_000;

/** Why `text` is not a duration of at least `minMs`, or undefined when it is one. */
export function durationProblem(text: string, minMs: number): string | undefined {
  const ms = parseDuration(text);
  const shown = text.length > 24 ? `${text.slice(0, 20)}…` : text;
  return ms === undefined
    ? 'not a duration; write it like 500ms, 90s, 15m, 4h, 2d or 1h30m'
    : ms > MAX_DURATION_MS
      ? `${shown} is longer than ten years; write at most 3650d`
      : ms < minMs
        ? `${shown} is zero; write a duration greater than 0s, e.g. 1s`
        : undefined;
}

/** A duration that may be zero (an expected time, a delay). */
export const isDuration = (text: string): boolean => durationProblem(text, 0) === undefined;
/** A duration greater than zero: how often something repeats, or how long to wait for it. */
export const isInterval = (text: string): boolean => durationProblem(text, 1) === undefined;

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$/;
/** Plans speak of the recent past and the near future: sign-offs, reviews, drills. */
const DATE_YEARS = { min: 1970, max: 2999 } as const;

/** Why `value` is not a date a plan may hold, or undefined when it is one. */
export function dateProblem(value: string | Date): string | undefined {
  const text = value instanceof Date ? value.toISOString() : value;
  const match = ISO_DATE.exec(text.trim());
  if (!match) return 'not a date; write it like 2026-03-01 or 2026-03-01T12:00:00Z';
  const [year, month, day, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((part) => Number(part ?? 0));
  const calendar = new Date(Date.UTC(year!, month! - 1, day!));
  if (calendar.getUTCMonth() !== month! - 1 || calendar.getUTCDate() !== day!)
    return `${text} is not a day of the calendar; check the month and the day`;
  if (hour > 23 || minute > 59 || second > 60)
    return `${text} is not a time of day; write hours 00-23 and minutes 00-59`;
  if (year! < DATE_YEARS.min || year! > DATE_YEARS.max)
    return `${text} is out of range; write a year from ${DATE_YEARS.min} to ${DATE_YEARS.max}`;
  return undefined;
}

export const isPlanDate = (value: string | Date): boolean => dateProblem(value) === undefined;

export const isPortInRange = (hostPort: string): boolean => {
  const port = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65_535;
};

export const isOtherThanOwnBackup = (c: { id: string; backup?: string | undefined }): boolean =>
  c.backup !== c.id;

const exactlyOne = (...values: unknown[]): boolean => values.filter((x) => x !== undefined).length === 1;

export const hasOneProbeKind = (p: { url?: unknown; tcp?: unknown; run?: unknown }): boolean =>
  exactlyOne(p.url, p.tcp, p.run);

export const hasOneCheckKind = (c: {
  run?: unknown;
  http?: unknown;
  sql?: unknown;
  check?: unknown;
}): boolean => exactlyOne(c.run, c.http, c.sql, c.check);

export const hasOneScheduleTask = (s: Partial<Record<(typeof SCHEDULE_TASKS)[number], unknown>>): boolean =>
  exactlyOne(...SCHEDULE_TASKS.map((task) => s[task]));

export const replicatesToAnotherSite = (r: { from?: string | undefined; to?: string | undefined }): boolean =>
  r.from === undefined || r.from !== r.to;

export const quorumWithinApprovers = (a: {
  by?: string[] | undefined;
  role?: string | undefined;
  quorum?: number | undefined;
}): boolean => a.by === undefined || a.role !== undefined || (a.quorum ?? 1) <= new Set(a.by).size;

export const backoffWithinMax = (r: {
  backoff?: string | undefined;
  max_backoff?: string | undefined;
}): boolean =>
  r.backoff === undefined ||
  r.max_backoff === undefined ||
  parseDuration(r.backoff)! <= parseDuration(r.max_backoff)!;
