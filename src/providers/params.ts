/**
 * Parameter schemas several providers share in their `with:` parameters.
 */
import { z } from 'zod';
import { parseDuration } from '../plan/duration.ts';

/** A duration in `with:` parameters: `500ms`, `5s`, or a number of milliseconds. Compiles to ms. */
export const DurationParam = z.union([
  z.number().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'not a duration; write it like 500ms, 5s or 2m' });
      return z.NEVER;
    }
    return ms;
  }),
]);
