/**
 * Retention by the grandfather-father-son rule: for each period (day, ISO week, month, year) keep the
 * newest backup of each of the newest N periods that hold a backup; a backup is kept when any rule keeps
 * it. Periods are computed in UTC so the kept set does not move with the machine's time zone.
 */
import type { Retention } from '../plan/model.ts';

export const PERIODS = ['daily', 'weekly', 'monthly', 'yearly'] as const;
export type Period = (typeof PERIODS)[number];

/**
 * Seed 004's backup retention table. A component kind picks its row through `RETENTION_CLASS_OF_KIND`;
 * `-` in the table (no weekly for logs) is 0 here.
 */
export const DEFAULT_RETENTION = {
  databases: { daily: 7, weekly: 4, monthly: 12, yearly: 7 },
  'file-shares': { daily: 30, weekly: 12, monthly: 12, yearly: 3 },
  vms: { daily: 7, weekly: 4, monthly: 6, yearly: 1 },
  logs: { daily: 30, weekly: 0, monthly: 12, yearly: 7 },
} as const satisfies Record<string, Retention>;

export type RetentionClass = keyof typeof DEFAULT_RETENTION;

export const RETENTION_CLASS_OF_KIND: Readonly<Record<string, RetentionClass>> = {
  postgres: 'databases',
  postgresql: 'databases',
  sqlite: 'databases',
  mysql: 'databases',
  database: 'databases',
  files: 'file-shares',
  'file-share': 'file-shares',
  directory: 'file-shares',
  storage: 'file-shares',
  vm: 'vms',
  'virtual-machine': 'vms',
  logs: 'logs',
  log: 'logs',
};

/**
 * The default retention for a component kind. A kind the table does not name gets the largest value of
 * every column: an unknown kind should never lose a backup that some row of the table would have kept.
 */
export function defaultRetention(kind: string): Retention {
  const known = RETENTION_CLASS_OF_KIND[kind];
  if (known !== undefined) return { ...DEFAULT_RETENTION[known] };
  const rows = Object.values(DEFAULT_RETENTION);
  return {
    daily: Math.max(...rows.map((row) => row.daily)),
    weekly: Math.max(...rows.map((row) => row.weekly)),
    monthly: Math.max(...rows.map((row) => row.monthly)),
    yearly: Math.max(...rows.map((row) => row.yearly)),
  };
}

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
