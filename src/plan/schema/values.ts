/** Values a plan writes in many places: ids, durations, dates, counts, ports, tiers and strategies. */
import { z } from 'zod';
import * as rules from '../rules.ts';
import { STRATEGIES } from '../strategies.ts';

const ID_PATTERN = /^[a-z0-9][a-z0-9_-]*$/i;

export const Id = z
  .string()
  .regex(ID_PATTERN, 'an id is letters, digits, "-" and "_", starting with a letter or digit')
  .describe('An identifier: letters, digits, "-" and "_".');

/**
 * A duration of at least `minMs`: `Duration` for times that may be zero (an expected time, a delay),
 * `Interval` for anything repeated or waited on, where zero would spin or give up at once.
 */
function durationAtLeast(minMs: 0 | 1) {
  return z.string().refine(minMs === 0 ? rules.isDuration : rules.isInterval, {
    error: (issue) => rules.durationProblem(issue.input as string, minMs),
  });
}

export const Duration = durationAtLeast(0).describe(
  'A duration: 500ms, 90s, 15m, 4h, 2d, 1w, or combined like 1h30m; at most 3650d.',
);
/** A duration greater than zero: how often something repeats, or how long to wait for it. */
export const Interval = durationAtLeast(1).describe(
  'A duration greater than zero: 500ms, 90s, 15m, 4h, 2d, 1w, or combined like 1h30m; at most 3650d.',
);

/** A calendar date or timestamp, written in ISO 8601; a Date when a plan is built in code. */
export const DateLike = z
  .union([z.string(), z.date()])
  .refine(rules.isPlanDate, { error: (issue) => rules.dateProblem(issue.input as string | Date) })
  .describe('A date (2026-03-01) or timestamp (2026-03-01T12:00:00Z), a year from 1970 to 2999.');

/** A count a person writes (attempts, thresholds, quorums): small and whole. */
export const Count = (min: number, max: number) =>
  z
    .number()
    .int({ message: 'not a whole number; write a count such as 3' })
    .min(min, { message: `less than ${min}; write a number from ${min} to ${max}` })
    .max(max, { message: `more than ${max}; write a number from ${min} to ${max}` });

/** A TCP port. */
export const Port = Count(1, 65_535);
/** An HTTP status code. */
export const HttpStatus = Count(100, 599);

/** host:port with a port from 1 to 65535. */
export const HostPort = z
  .string()
  .regex(
    /^(?:[^:\s]+|\[[0-9a-f:.]+\]):\d{1,5}$/i,
    'not host:port; write it as host:port, e.g. 127.0.0.1:8080',
  )
  .refine(rules.isPortInRange, 'the port is outside 1-65535; write a port from 1 to 65535');

export const TIERS = [0, 1, 2, 3] as const;
export const Tier = z.literal([0, 1, 2, 3]);

export const Strategy = z.enum(STRATEGIES);
