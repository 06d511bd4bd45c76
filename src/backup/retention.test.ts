import { describe, expect, it } from 'vitest';
import { defaultRetention } from '../plan/defaults.ts';
import { applyRetention, periodKey } from './retention.ts';

const DAY = 86_400_000;

/** One backup a day at 02:00 UTC from `first` to `last`, both included. */
function dailyCalendar(first: string, last: string): { id: string; time: Date }[] {
  const backups = [];
  for (let t = Date.parse(`${first}T02:00:00Z`); t <= Date.parse(`${last}T02:00:00Z`); t += DAY) {
    backups.push({ id: new Date(t).toISOString().slice(0, 10), time: new Date(t) });
  }
  return backups;
}

function keptDates(
  backups: { id: string; time: Date }[],
  policy: Parameters<typeof applyRetention>[1],
): string[] {
  return applyRetention(backups, policy)
    .filter((decision) => decision.keep)
    .map((decision) => decision.id)
    .sort();
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

describe('retention', () => {
  it('keeps exactly the hand-listed dates of a small policy over two years of daily backups', () => {
    const backups = dailyCalendar('2024-03-01', '2026-02-28');
    expect(backups).toHaveLength(730);
    // 2026-02-28 is a Saturday. daily 7: Feb 22-28. weekly 4: the newest of ISO weeks W09 (Feb 28),
    // W08 (Sun Feb 22), W07 (Sun Feb 15), W06 (Sun Feb 8). monthly 3: Feb 28, Jan 31, Dec 31 2025.
    // yearly 3: Feb 28 2026, Dec 31 2025, Dec 31 2024.
    expect(keptDates(backups, { daily: 7, weekly: 4, monthly: 3, yearly: 3 })).toEqual([
      '2024-12-31',
      '2025-12-31',
      '2026-01-31',
      '2026-02-08',
      '2026-02-15',
      '2026-02-22',
      '2026-02-23',
      '2026-02-24',
      '2026-02-25',
      '2026-02-26',
      '2026-02-27',
      '2026-02-28',
    ]);
  });

  it("keeps what seed 004's file-share row promises over two years, computed by calendar arithmetic", () => {
    const backups = dailyCalendar('2024-03-01', '2026-02-28');
    const policy = defaultRetention('files');
    expect(policy).toEqual({ daily: 30, weekly: 12, monthly: 12, yearly: 3 });
    const last = Date.parse('2026-02-28T02:00:00Z');
    const expected = new Set<string>();
    // daily: the last 30 days.
    for (let i = 0; i < 30; i += 1) expected.add(isoDate(last - i * DAY));
    // weekly: the last day (a Saturday, newest of its week), then the 11 Sundays before it.
    expected.add(isoDate(last));
    for (let i = 0; i < 11; i += 1) expected.add(isoDate(last - DAY * (6 + 7 * i)));
    // monthly: the last day, then the last day of each of the 11 months before February 2026.
    for (let i = 0; i < 11; i += 1) expected.add(isoDate(Date.UTC(2026, 1 - i, 0)));
    // yearly: the last day, and December 31 of 2025 and 2024 (the calendar starts in March 2024).
    expected.add('2025-12-31');
    expected.add('2024-12-31');
    expect(keptDates(backups, policy)).toEqual([...expected].sort());
  });

  it('keeps the newest backup in each period, not the first', () => {
    const backups = [
      { id: 'morning', time: new Date('2026-03-02T01:00:00Z') },
      { id: 'evening', time: new Date('2026-03-02T23:00:00Z') },
      { id: 'yesterday', time: new Date('2026-03-01T12:00:00Z') },
    ];
    const decisions = applyRetention(backups, { daily: 1, weekly: 0, monthly: 0, yearly: 0 });
    expect(decisions.map((d) => [d.id, d.keep])).toEqual([
      ['evening', true],
      ['morning', false],
      ['yesterday', false],
    ]);
    expect(decisions[0]?.reasons).toEqual(['newest backup', 'daily 2026-03-02']);
    expect(decisions[1]?.reasons[0]).toMatch(/^not the newest backup of a kept period/);
  });

  it('always keeps the newest backup even when the policy keeps nothing', () => {
    const backups = dailyCalendar('2026-01-01', '2026-01-10');
    expect(keptDates(backups, { daily: 0, weekly: 0, monthly: 0, yearly: 0 })).toEqual(['2026-01-10']);
  });

  it('names ISO weeks by the year of their Thursday', () => {
    expect(periodKey('weekly', new Date('2021-01-03T12:00:00Z'))).toBe('2020-W53');
    expect(periodKey('weekly', new Date('2024-12-30T12:00:00Z'))).toBe('2025-W01');
    expect(periodKey('weekly', new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(periodKey('weekly', new Date('2026-02-28T02:00:00Z'))).toBe('2026-W09');
  });

  it("takes seed 004's table by component kind, and the databases row for unknown kinds", () => {
    expect(defaultRetention('sqlite')).toEqual({ daily: 7, weekly: 4, monthly: 12, yearly: 7 });
    expect(defaultRetention('postgres')).toEqual({ daily: 7, weekly: 4, monthly: 12, yearly: 7 });
    expect(defaultRetention('vm')).toEqual({ daily: 7, weekly: 4, monthly: 6, yearly: 1 });
    expect(defaultRetention('logs')).toEqual({ daily: 30, weekly: 0, monthly: 12, yearly: 7 });
    expect(defaultRetention('directory')).toEqual({ daily: 30, weekly: 12, monthly: 12, yearly: 3 });
    expect(defaultRetention('something-else')).toEqual({ daily: 7, weekly: 4, monthly: 12, yearly: 7 });
  });
});
