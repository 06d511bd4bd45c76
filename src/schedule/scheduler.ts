/**
 * The scheduler every background job of drctl runs on: backups, prunes, restore verifications, drills.
 *
 * A job is a spec (a cron expression read in an explicit time zone, or a fixed interval) and a function.
 * `tick(now)` runs what is due; `start()` ticks on a timer, tests call `tick` with a fake clock. The last
 * occurrence of each job is a store document (collection `schedule-occurrences`), so a due time missed while
 * drctl was down, or a clock jump over several due times, runs the job once, reported late, and a second
 * process sharing the store does not run the same occurrence again.
 */
import { FailureStreak } from '../system/failure-streak.ts';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { DrctlError } from '../errors.ts';
import type { RunStore, StoredDocument } from '../store/store.ts';
import { silentLogger } from '../system/logger.ts';

/** The store collection holding each job's last occurrence. */
export const OCCURRENCES_COLLECTION = 'schedule-occurrences';

export interface ScheduleSpec {
  /** The job's durable identity: its occurrence document is keyed on it. */
  id: string;
  /** A cron expression (5 fields, or 6 with seconds first). */
  cron?: string;
  /** IANA time zone the cron expression is read in. @default 'UTC' */
  timezone?: string;
  /** A fixed interval instead of a cron expression. */
  everyMs?: number;
}

export interface Occurrence {
  /** The due time being run: the newest one not later than now. */
  dueAt: Date;
  /** True when the job starts well after its due time (drctl was down, busy, or the clock jumped). */
  late: boolean;
  /** Older due times folded into this run because they were missed. */
  skipped: number;
}

export interface ScheduledJob {
  spec: ScheduleSpec;
  run(occurrence: Occurrence): Promise<void>;
}

/** What the occurrence document of a job holds. */
export interface OccurrenceRecord {
  /** When drctl first saw the job; due times before it are not owed. */
  anchorAt: string;
  lastDueAt?: string;
  lastStartedAt?: string;
  lastFinishedAt?: string;
  lastStatus?: 'running' | 'succeeded' | 'failed';
  lastError?: string;
  lastLate?: boolean;
  lastSkipped?: number;
}

export interface SchedulerOptions {
  store: RunStore;
  /** @default () => new Date() */
  clock?: () => Date;
  logger?: Logger;
  /** How long after its due time a start still counts as on time. @default 60000 */
  lateAfterMs?: number;
  /** How often `start()` ticks. @default 1000 */
  tickMs?: number;
}

/** Checks a spec; throws DRCTL_SCHEDULE_INVALID naming what is wrong. */
export function validateSchedule(spec: ScheduleSpec): void {
  const problem = scheduleProblem(spec);
  if (problem !== undefined) {
    throw new DrctlError('DRCTL_SCHEDULE_INVALID', `schedule ${spec.id}: ${problem}`, {
      hint: 'use a cron expression such as "0 2 * * *" with an IANA time zone such as Europe/Berlin, or an interval',
    });
  }
}

/** What is wrong with a spec, in one sentence, or undefined; the plan schema reports it with a position. */
export function scheduleProblem(spec: Omit<ScheduleSpec, 'id'>): string | undefined {
  if ((spec.cron === undefined) === (spec.everyMs === undefined))
    return 'give either a cron expression or an interval';
  if (spec.everyMs !== undefined) {
    return Number.isFinite(spec.everyMs) && spec.everyMs > 0 ? undefined : 'the interval must be positive';
  }
  if (spec.timezone !== undefined && !validTimeZone(spec.timezone)) {
    return `"${spec.timezone}" is not an IANA time zone`;
  }
  try {
    cronOf(spec);
    return undefined;
  } catch (error) {
    return `"${spec.cron ?? ''}" does not parse as cron: ${(error as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

/** The first due time strictly after `after`. */
export function nextOccurrence(spec: Omit<ScheduleSpec, 'id'>, after: Date): Date {
  if (spec.everyMs !== undefined) return new Date(after.getTime() + spec.everyMs);
  const next = cronOf(spec).nextRun(after);
  // croner answers null only for patterns that never fire again (a date in the past): treat as never
  return next ?? new Date(8.64e15);
}

/** The newest due time in (after, now], and how many older due times it stands for; undefined when none. */
export function newestDue(
  spec: Omit<ScheduleSpec, 'id'>,
  after: Date,
  now: Date,
): { dueAt: Date; missed: number } | undefined {
  const first = nextOccurrence(spec, after);
  if (first > now) return undefined;
  if (spec.everyMs !== undefined) {
    const steps = Math.floor((now.getTime() - first.getTime()) / spec.everyMs);
    return { dueAt: new Date(first.getTime() + steps * spec.everyMs), missed: steps };
  }
  const cron = cronOf(spec);
  // previousRuns excludes its reference instant, hence the millisecond
  const newest = cron.previousRuns(1, new Date(now.getTime() + 1))[0] ?? first;
  let missed = 0;
  // count the folded due times for the report, bounded so a long outage on a per-second cron stays cheap
  for (let at = first; at < newest && missed < 10_000; at = nextOccurrence(spec, at)) missed += 1;
  return { dueAt: newest, missed };
}

export class Scheduler {
  readonly #store: RunStore;
  readonly #clock: () => Date;
  readonly #log: Logger;
  readonly #lateAfterMs: number;
  readonly #tickMs: number;
  readonly #jobs = new Map<string, ScheduledJob>();
  readonly #running = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? (() => new Date());
    this.#log = (options.logger ?? silentLogger()).child({ module: 'schedule' });
    this.#lateAfterMs = options.lateAfterMs ?? 60_000;
    this.#tickMs = options.tickMs ?? 1000;
  }

  /** Adds a job; throws DRCTL_SCHEDULE_INVALID for a bad spec and DRCTL_SCHEDULE_DUPLICATE for a reused id. */
  add(job: ScheduledJob): void {
    validateSchedule(job.spec);
    if (this.#jobs.has(job.spec.id)) {
      throw new DrctlError('DRCTL_SCHEDULE_DUPLICATE', `schedule ${job.spec.id} is added twice`, {
        hint: 'give every schedule its own id',
      });
    }
    this.#jobs.set(job.spec.id, job);
  }

  get jobs(): ScheduleSpec[] {
    return [...this.#jobs.values()].map((job) => job.spec);
  }

  /** Ticks every `tickMs` until `stop()`. The first tick runs at once, so missed due times run on start. */
  start(): void {
    if (this.#timer !== undefined) return;
    // a tick failing again and again (the state store down) backs off and is said once
    const streak = new FailureStreak(this.#log, { what: 'schedule tick' });
    const loop = (): void => {
      if (streak.pausing) return;
      this.#ticking = this.tick().then(
        () => streak.succeeded(),
        (error: unknown) => streak.failed(error),
      );
    };
    this.#timer = setInterval(loop, this.#tickMs);
    this.#timer.unref();
    loop();
  }

  /** Stops ticking and waits for the jobs that are running to finish. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * Starts every job that is due at `now` and not already running; resolves when the jobs it started
   * have finished (a job's failure is recorded, not thrown).
   */
  async tick(now: Date = this.#clock()): Promise<void> {
    const started: Promise<void>[] = [];
    for (const job of this.#jobs.values()) {
      if (this.#running.has(job.spec.id)) continue;
      const claimed = await this.#claim(job.spec, now);
      if (claimed === undefined) continue;
      const run = this.#run(job, claimed.occurrence, claimed.doc).finally(() =>
        this.#running.delete(job.spec.id),
      );
      this.#running.set(job.spec.id, run);
      started.push(run);
    }
    await Promise.all(started);
  }

  /** Each job's occurrence record and next due time, for status pages and readiness. */
  async status(
    now: Date = this.#clock(),
  ): Promise<{ spec: ScheduleSpec; record: OccurrenceRecord | undefined; nextDueAt: Date }[]> {
    const out = [];
    for (const job of this.#jobs.values()) {
      const doc = await this.#store.getDocument(OCCURRENCES_COLLECTION, job.spec.id);
      const record = doc?.data as OccurrenceRecord | undefined;
      const from = record?.lastDueAt ?? record?.anchorAt;
      out.push({
        spec: job.spec,
        record,
        nextDueAt: nextOccurrence(job.spec, from === undefined ? now : new Date(from)),
      });
    }
    return out;
  }

  /** Records the occurrence as started, unless another process did first (version check). */
  async #claim(
    spec: ScheduleSpec,
    now: Date,
  ): Promise<{ occurrence: Occurrence; doc: StoredDocument } | undefined> {
    const doc = await this.#store.getDocument(OCCURRENCES_COLLECTION, spec.id);
    if (doc === undefined) {
      // a new job owes nothing from before drctl knew it
      await this.#put(spec.id, { anchorAt: now.toISOString() }, 0);
      return undefined;
    }
    const record = doc.data as unknown as OccurrenceRecord;
    const due = newestDue(spec, new Date(record.lastDueAt ?? record.anchorAt), now);
    if (due === undefined) return undefined;
    const late = due.missed > 0 || now.getTime() - due.dueAt.getTime() > this.#lateAfterMs;
    const next: OccurrenceRecord = {
      ...record,
      lastDueAt: due.dueAt.toISOString(),
      lastStartedAt: now.toISOString(),
      lastStatus: 'running',
      lastLate: late,
      lastSkipped: due.missed,
    };
    delete next.lastError;
    delete next.lastFinishedAt;
    const claimed = await this.#put(spec.id, next, doc.version);
    if (claimed === undefined) return undefined;
    return { occurrence: { dueAt: due.dueAt, late, skipped: due.missed }, doc: claimed };
  }

  async #run(job: ScheduledJob, occurrence: Occurrence, doc: StoredDocument): Promise<void> {
    const { id } = job.spec;
    const log = this.#log.child({ schedule: id, dueAt: occurrence.dueAt.toISOString() });
    if (occurrence.late) log.warn({ skipped: occurrence.skipped }, 'running a late occurrence');
    let outcome: Pick<OccurrenceRecord, 'lastStatus' | 'lastError'>;
    try {
      await job.run(occurrence);
      outcome = { lastStatus: 'succeeded' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error({ err: error }, 'scheduled job failed');
      outcome = { lastStatus: 'failed', lastError: message };
    }
    const record = {
      ...(doc.data as unknown as OccurrenceRecord),
      ...outcome,
      lastFinishedAt: this.#clock().toISOString(),
    };
    await this.#put(id, record, doc.version);
  }

  async #put(
    id: string,
    record: OccurrenceRecord,
    expectVersion: number,
  ): Promise<StoredDocument | undefined> {
    try {
      return await this.#store.putDocument(OCCURRENCES_COLLECTION, id, { ...record }, { expectVersion });
    } catch (error) {
      if (error instanceof DrctlError && error.code === 'DRCTL_STORE_CONFLICT') return undefined;
      throw error;
    }
  }
}

function cronOf(spec: Omit<ScheduleSpec, 'id'>): Cron {
  return new Cron(spec.cron ?? '', { timezone: spec.timezone ?? 'UTC' });
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
