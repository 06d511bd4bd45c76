import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.ts';
import type { DrctlError } from '../errors.ts';
import { SqliteStore } from '../store/index.ts';
import type { RunStore } from '../store/store.ts';
import {
  OCCURRENCES_COLLECTION,
  Scheduler,
  newestDue,
  nextOccurrence,
  scheduleProblem,
  validateSchedule,
} from './index.ts';
import type { Occurrence, OccurrenceRecord } from './index.ts';

const stores: RunStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function store(dir = tempDir('drctl-schedule-')): { store: RunStore; dir: string } {
  const opened = SqliteStore.open(dir);
  stores.push(opened);
  return { store: opened, dir };
}

/** A clock the test moves by hand. */
function fakeClock(start: string): { now: () => Date; set: (at: string) => Date } {
  let current = new Date(start);
  return {
    now: () => current,
    set: (at) => (current = new Date(at)),
  };
}

describe('due times', () => {
  it('reads a cron expression in its explicit time zone, across a daylight saving change', () => {
    const spec = { cron: '0 2 * * *', timezone: 'Europe/Berlin' };
    // 02:00 in Berlin is 01:00 UTC before the change on 29 March 2026 and 00:00 UTC after it
    expect(nextOccurrence(spec, new Date('2026-03-27T12:00:00Z')).toISOString()).toBe(
      '2026-03-28T01:00:00.000Z',
    );
    expect(nextOccurrence(spec, new Date('2026-03-29T12:00:00Z')).toISOString()).toBe(
      '2026-03-30T00:00:00.000Z',
    );
    expect(
      nextOccurrence({ cron: '0 2 * * *', timezone: 'UTC' }, new Date('2026-03-29T12:00:00Z')).toISOString(),
    ).toBe('2026-03-30T02:00:00.000Z');
  });

  it('counts intervals from the previous due time', () => {
    const spec = { everyMs: 60_000 };
    expect(nextOccurrence(spec, new Date('2026-01-01T00:00:00Z')).toISOString()).toBe(
      '2026-01-01T00:01:00.000Z',
    );
    const due = newestDue(spec, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:05:30Z'));
    expect(due).toEqual({ dueAt: new Date('2026-01-01T00:05:00Z'), missed: 4 });
    expect(
      newestDue(spec, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:59Z')),
    ).toBeUndefined();
  });

  it('names what is wrong with a cron expression, a time zone or an interval', () => {
    expect(scheduleProblem({ cron: '61 * * * *', timezone: 'UTC' })).toMatch(
      /does not parse as cron: .*minute/,
    );
    expect(scheduleProblem({ cron: '0 * * * *', timezone: 'Mars/Base' })).toBe(
      '"Mars/Base" is not an IANA time zone',
    );
    expect(scheduleProblem({ everyMs: 0 })).toBe('the interval must be positive');
    expect(scheduleProblem({})).toBe('give either a cron expression or an interval');
    expect(scheduleProblem({ cron: '*/5 * * * * *', timezone: 'Asia/Tokyo' })).toBeUndefined();
    expect(() => validateSchedule({ id: 'nightly', cron: 'every night' })).toThrow(
      expect.objectContaining({ code: 'DRCTL_SCHEDULE_INVALID' }) as DrctlError,
    );
  });
});

describe('Scheduler', () => {
  it('runs a job at each due time and not in between', async () => {
    const clock = fakeClock('2026-01-01T10:00:30Z');
    const runs: Occurrence[] = [];
    const scheduler = new Scheduler({ store: store().store, clock: clock.now });
    scheduler.add({
      spec: { id: 'hourly', cron: '0 * * * *', timezone: 'UTC' },
      run: async (occ) => void runs.push(occ),
    });
    await scheduler.tick(); // first sight: owes nothing from before
    await scheduler.tick(clock.set('2026-01-01T10:59:59Z'));
    expect(runs).toEqual([]);
    await scheduler.tick(clock.set('2026-01-01T11:00:01Z'));
    await scheduler.tick(clock.set('2026-01-01T11:00:02Z'));
    await scheduler.tick(clock.set('2026-01-01T12:00:00Z'));
    expect(runs).toEqual([
      { dueAt: new Date('2026-01-01T11:00:00Z'), late: false, skipped: 0 },
      { dueAt: new Date('2026-01-01T12:00:00Z'), late: false, skipped: 0 },
    ]);
  });

  it('runs a due time missed while drctl was down once on start, reported late', async () => {
    const { store: first, dir } = store();
    const clock = fakeClock('2026-01-01T01:30:00Z');
    const before = new Scheduler({ store: first, clock: clock.now });
    before.add({
      spec: { id: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin' },
      run: async () => undefined,
    });
    await before.tick();
    await before.stop();
    await first.close();
    stores.splice(stores.indexOf(first), 1);

    // down over 02:00 Berlin (01:00 UTC the next day), back at 05:00 UTC
    clock.set('2026-01-02T05:00:00Z');
    const runs: Occurrence[] = [];
    const after = new Scheduler({ store: store(dir).store, clock: clock.now });
    after.add({
      spec: { id: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin' },
      run: async (occ) => void runs.push(occ),
    });
    await after.tick();
    await after.tick(clock.set('2026-01-02T05:01:00Z'));
    expect(runs).toEqual([{ dueAt: new Date('2026-01-02T01:00:00Z'), late: true, skipped: 0 }]);
  });

  it('runs once when the clock jumps over several due times', async () => {
    const { store: opened } = store();
    const clock = fakeClock('2026-01-01T00:00:00Z');
    const runs: Occurrence[] = [];
    const scheduler = new Scheduler({ store: opened, clock: clock.now });
    scheduler.add({ spec: { id: 'five', everyMs: 5 * 60_000 }, run: async (occ) => void runs.push(occ) });
    await scheduler.tick();
    await scheduler.tick(clock.set('2026-01-01T00:27:00Z'));
    await scheduler.tick(clock.set('2026-01-01T00:28:00Z'));
    expect(runs).toEqual([{ dueAt: new Date('2026-01-01T00:25:00Z'), late: true, skipped: 4 }]);
    const doc = await opened.getDocument(OCCURRENCES_COLLECTION, 'five');
    expect(doc?.data).toMatchObject({
      lastDueAt: '2026-01-01T00:25:00.000Z',
      lastStatus: 'succeeded',
      lastSkipped: 4,
    });
  });

  it('records a failed run with its reason and runs the next due time again', async () => {
    const { store: opened } = store();
    const clock = fakeClock('2026-01-01T00:00:00Z');
    let calls = 0;
    const scheduler = new Scheduler({ store: opened, clock: clock.now });
    scheduler.add({
      spec: { id: 'flaky', everyMs: 1000 },
      run: async () => {
        calls += 1;
        if (calls === 1) throw new Error('repository unreachable');
      },
    });
    await scheduler.tick();
    await scheduler.tick(clock.set('2026-01-01T00:00:01Z'));
    const failed = (await opened.getDocument(OCCURRENCES_COLLECTION, 'flaky'))
      ?.data as unknown as OccurrenceRecord;
    expect(failed).toMatchObject({ lastStatus: 'failed', lastError: 'repository unreachable' });
    await scheduler.tick(clock.set('2026-01-01T00:00:02Z'));
    const ok = (await opened.getDocument(OCCURRENCES_COLLECTION, 'flaky'))
      ?.data as unknown as OccurrenceRecord;
    expect(ok.lastStatus).toBe('succeeded');
    expect(ok.lastError).toBeUndefined();
    expect(calls).toBe(2);
  });

  it('does not run an occurrence another scheduler on the same store already claimed', async () => {
    const { store: opened, dir } = store();
    const clock = fakeClock('2026-01-01T00:00:00Z');
    const runs: string[] = [];
    const make = (name: string, s: RunStore): Scheduler => {
      const scheduler = new Scheduler({ store: s, clock: clock.now });
      scheduler.add({ spec: { id: 'shared', everyMs: 1000 }, run: async () => void runs.push(name) });
      return scheduler;
    };
    const a = make('a', opened);
    const b = make('b', store(dir).store);
    await a.tick();
    clock.set('2026-01-01T00:00:01Z');
    await Promise.all([a.tick(), b.tick()]);
    expect(runs).toHaveLength(1);
  });

  it('does not start a job again while its previous run is still going', async () => {
    const clock = fakeClock('2026-01-01T00:00:00Z');
    let release: () => void = () => undefined;
    let calls = 0;
    const scheduler = new Scheduler({ store: store().store, clock: clock.now });
    scheduler.add({
      spec: { id: 'slow', everyMs: 1000 },
      run: () => {
        calls += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await scheduler.tick();
    const first = scheduler.tick(clock.set('2026-01-01T00:00:01Z'));
    await scheduler.tick(clock.set('2026-01-01T00:00:02Z'));
    expect(calls).toBe(1);
    release();
    await first;
  });

  it('refuses a schedule id added twice', () => {
    const scheduler = new Scheduler({ store: store().store });
    scheduler.add({ spec: { id: 'x', everyMs: 1000 }, run: async () => undefined });
    expect(() => scheduler.add({ spec: { id: 'x', everyMs: 1000 }, run: async () => undefined })).toThrow(
      expect.objectContaining({ code: 'DRCTL_SCHEDULE_DUPLICATE' }) as DrctlError,
    );
  });

  it('ticks on its own timer once started, until stopped', async () => {
    const runs: Occurrence[] = [];
    const scheduler = new Scheduler({ store: store().store, tickMs: 10 });
    scheduler.add({ spec: { id: 'fast', everyMs: 30 }, run: async (occ) => void runs.push(occ) });
    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 250));
    await scheduler.stop();
    const count = runs.length;
    expect(count).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(runs.length).toBe(count);
    const status = await scheduler.status();
    expect(status[0]?.record?.lastStatus).toBe('succeeded');
  });
});
