/**
 * Retention by the grandfather-father-son rule: for each period (day, ISO week, month, year) keep the
 * newest backup of each of the newest N periods that hold a backup; a backup is kept when any rule keeps
 * it. Periods are computed in UTC so the kept set does not move with the machine's time zone.
 */
import type { Retention } from '../plan/model.ts';

export const PERIODS = ['daily', 'weekly', 'monthly', 'yearly'] as const;
export type Period = (typeof PERIODS)[number];

/** The UTC bucket a moment falls in for a period: `2026-02-28`, `2026-W09`, `2026-02`, `2026`. */
export function periodKey(period: Period, time: Date): string {
  const year = time.getUTCFullYear();
  const month = String(time.getUTCMonth() + 1).padStart(2, '0');
  const day = String(time.getUTCDate()).padStart(2, '0');
  switch (period) {
    case 'daily':
      return `${year}-${month}-${day}`;
    case 'monthly':
      return `${year}-${month}`;
    case 'yearly':
      return String(year);
    case 'weekly': {
      // ISO 8601: a week belongs to the year of its Thursday, and week 1 holds the year's first Thursday.
      const midnight = Date.UTC(year, time.getUTCMonth(), time.getUTCDate());
      const mondayBased = (time.getUTCDay() + 6) % 7;
      const thursday = new Date(midnight + (3 - mondayBased) * 86_400_000);
      const isoYear = thursday.getUTCFullYear();
      const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000);
      const week = Math.floor(dayOfYear / 7) + 1;
      return `${isoYear}-W${String(week).padStart(2, '0')}`;
    }
  }
}

export interface RetentionCandidate {
  id: string;
  time: Date;
}

export interface RetentionDecision {
  id: string;
  time: Date;
  keep: boolean;
  /** Why: `daily 2026-02-28`, `monthly 2026-02`, `newest backup`; or why it goes when it is pruned. */
  reasons: string[];
}

/**
 * Decide which backups a policy keeps; the answer lists every backup, newest first. The newest backup
 * is always kept, even under an all-zero policy, so pruning can never leave a component with nothing.
 */
export function applyRetention(
  backups: readonly RetentionCandidate[],
  policy: Retention,
): RetentionDecision[] {
  const newestFirst = [...backups].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1),
  );
  const reasons = new Map<string, string[]>(newestFirst.map((backup) => [backup.id, []]));
  const first = newestFirst[0];
  if (first !== undefined) reasons.get(first.id)?.push('newest backup');
  for (const period of PERIODS) {
    const limit = policy[period];
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= limit) break;
      const key = periodKey(period, backup.time);
      if (seen.has(key)) continue;
      // Walking newest first, the first backup met in a bucket is the newest of that bucket.
      seen.add(key);
      reasons.get(backup.id)?.push(`${period} ${key}`);
    }
  }
  const summary = PERIODS.map((period) => `${policy[period]} ${period}`).join(', ');
  return newestFirst.map((backup) => {
    const why = reasons.get(backup.id) ?? [];
    return why.length > 0
      ? { id: backup.id, time: backup.time, keep: true, reasons: why }
      : {
          id: backup.id,
          time: backup.time,
          keep: false,
          reasons: [`not the newest backup of a kept period (${summary})`],
        };
  });
}
