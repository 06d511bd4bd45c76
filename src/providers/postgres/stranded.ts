/**
 * Writes stranded on a former primary: what it committed after the point where the new primary's timeline
 * forked, saved per table (rows inserted, updated, deleted, with commit times) as a reconciliation file a
 * person reviews and `postgres.reconcile` replays. See docs/data-integrity.md. This module runs the capture;
 * the copy it reads is made in stranded-copy.ts, the WAL read in stranded-wal.ts, the rows in
 * stranded-rows.ts, the files written in stranded-files.ts and replayed in stranded-replay.ts.
 *
 * How, and why this way. The old primary's data directory is copied and the copy started as a hot standby
 * with nowhere to stream from, on a free port: it replays its own WAL to the end and answers read-only
 * queries, while the original stays exactly as it was (a capture that fails never costs the data twice,
 * and pg_rewind still finds what it expects). Then:
 *  - pg_waldump over the copy's WAL from the fork point lists the transactions committed after the fork
 *    (with their subtransactions and commit times) and the heap records they wrote, which names the tables
 *    touched and the physical place of every deleted row;
 *  - rows inserted or updated by those transactions are the copy's rows whose xmin is one of them (one scan
 *    of each touched table, no extension, no track_commit_timestamp needed);
 *  - a deleted row is still at the same place on the new primary, which replayed the same pages up to the
 *    fork, so its before image is read there by ctid;
 *  - a row was changed on the new primary after the fork when its xmin there did not commit before the fork
 *    on the old side (pg_xact_status on the copy): such rows are conflicts, never overwritten.
 * A logical-decoding slot would have to exist before the failure and pins WAL on the primary; comparing
 * every table by primary key costs a scan of both sides. Reading the WAL costs a copy of the data directory
 * and a scan of the touched tables only (measured in `timings`).
 */
import { DrctlError } from '../../errors.ts';
import { HostError } from '../../exec/index.ts';
import { describe, one, withClient, type Subject } from '../../pg/client.ts';
import type { CopyPlace, ReadOnlyCopy } from './stranded-copy.ts';
import { summarise } from './stranded-files.ts';
import { readStrandedRows } from './stranded-rows.ts';
import {
  forkPoint,
  lsnValue,
  parseWalDump,
  strandedCommits,
  walChanges,
  walDumpArgs,
} from './stranded-wal.ts';

export { parseWalDump, strandedCommits } from './stranded-wal.ts';
export {
  reconciliationSql,
  replayStatement,
  strandedSummary,
  writeReconciliation,
} from './stranded-files.ts';
export { replayReconciliation, type ReplayOutcome } from './stranded-replay.ts';

/** One row changed by a stranded transaction. */
export interface StrandedRow {
  /** schema.table */
  table: string;
  change: 'insert' | 'update' | 'delete';
  /** Primary key columns and values; absent for a table without a primary key. */
  key?: Record<string, unknown>;
  /** The row as the new primary has it (update, delete). */
  before?: Record<string, unknown>;
  /** The row as the old primary committed it (insert, update). */
  after?: Record<string, unknown>;
  xid: number;
  committedAt: string;
  /** Why the row cannot be replayed as is: the same key was changed on the new primary too. */
  conflict?: string;
  /** The table has no primary key: the row is saved whole and matched whole. */
  noPrimaryKey?: true;
}

export interface StrandedTable {
  inserted: number;
  updated: number;
  deleted: number;
  conflicts: number;
  noPrimaryKey?: true;
}

/**
 * - captured: every stranded write in the database is in `rows`
 * - unknown: the old primary's data could not be read; what was lost is not known (never zero)
 */
export type ReconciliationStatus = 'captured' | 'unknown';

export interface Reconciliation {
  format: 1;
  component: string;
  /** The former primary the writes are stranded on. */
  from: string;
  /** The new primary they would be replayed onto. */
  to: string;
  database: string;
  status: ReconciliationStatus;
  /** Why the status is unknown. */
  reason?: string;
  capturedAt: string;
  forkLsn?: string;
  oldTimeline?: number;
  newTimeline?: number;
  /** Transactions committed on the old primary after the fork (in this database). */
  transactions?: number;
  rows: StrandedRow[];
  tables: Record<string, StrandedTable>;
  firstCommitAt?: string;
  lastCommitAt?: string;
  /** From the first stranded commit to the last: the measured RPO of the failover. */
  spanMs?: number;
  /** Stranded transactions that wrote in other databases of the cluster (not captured). */
  otherDatabases?: number;
  /** What a person should know: truncated tables, writes the capture could not attribute. */
  warnings: string[];
  /** The capture's parts and, in `totalMs`, all of it from the first look at the data to the copy removed. */
  timings?: { copyMs: number; startMs: number; decodeMs: number; compareMs: number; totalMs?: number };
}

export interface CaptureOptions {
  /** Where the former primary's stopped data directory is: the copy is made and read there (stranded-copy.ts). */
  place: CopyPlace;
  /** A URL with the credentials and database of the former primary; its host and port are replaced. */
  oldUrl: string;
  /** The new primary. */
  source: { subject: Subject; url: string };
  signal?: AbortSignal;
}

type Base = Omit<Reconciliation, 'status' | 'rows' | 'tables' | 'warnings'>;

function baseOf(subject: Subject, options: Pick<CaptureOptions, 'oldUrl' | 'source'>): Base {
  return {
    format: 1,
    component: subject.component,
    from: subject.site,
    to: options.source.subject.site,
    database: decodeURIComponent(new URL(options.oldUrl).pathname.slice(1)) || 'postgres',
    capturedAt: new Date().toISOString(),
  };
}

/** The host error that made `error` (itself or a cause), when the former primary's host could not be reached. */
function unreachableHost(error: unknown): HostError | undefined {
  for (let at = error; at instanceof Error; at = at.cause) {
    if (at instanceof HostError && at.code === 'DRCTL_HOST_UNREACHABLE') return at;
  }
  return undefined;
}

/**
 * The reconciliation of a rebuild that failed because the former primary's host could not be reached: what
 * it committed after the fork is unknown (never zero). Undefined for any other failure.
 */
export function unreachableReconciliation(
  error: unknown,
  subject: Subject,
  options: Pick<CaptureOptions, 'oldUrl' | 'source'>,
): Reconciliation | undefined {
  const host = unreachableHost(error);
  if (host === undefined) return undefined;
  return unknown(
    baseOf(subject, options),
    `the host of ${describe(subject)} is unreachable: ${host.message}`,
  );
}

/** An unknown reconciliation: the data could not be read, so the loss is not known (never zero). */
function unknown(base: Base, reason: string): Reconciliation {
  return { ...base, status: 'unknown', reason, rows: [], tables: {}, warnings: [] };
}

/** The copy's replay of its own WAL ends when it runs out: wait until its position stops moving. */
async function replayedState(copy: {
  subject: Subject;
  url: string;
}): Promise<{ tli: number; lsn: string; db: number; next: string } | undefined> {
  return withClient(copy.subject, copy.url, async (client) => {
    let last = '';
    for (let i = 0; i < 200; i += 1) {
      const row = await one<{ lsn: string }>(client, 'select pg_last_wal_replay_lsn()::text as lsn');
      if (row?.lsn === last) break;
      last = row?.lsn ?? '';
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return one<{ tli: number; lsn: string; db: number; next: string }>(
      client,
      `select (select timeline_id from pg_control_checkpoint()) as tli, pg_last_wal_replay_lsn()::text as lsn,
              (select oid from pg_database where datname = current_database())::int as db,
              pg_snapshot_xmax(pg_current_snapshot())::text as next`,
    );
  });
}

/**
 * Find what the stopped former primary committed after the new primary's timeline forked. Never changes the
 * former primary's data directory. Returns status `unknown` (with the reason) when its data cannot be read.
 */
export async function captureStrandedWrites(
  subject: Subject,
  options: CaptureOptions,
): Promise<Reconciliation> {
  const began = Date.now();
  const base = baseOf(subject, options);
  const where = describe(subject);
  const { place } = options;
  const present = await place.hasData().catch((error: unknown) => {
    if (unreachableHost(error) === undefined) throw error;
    return error instanceof Error ? error : new Error(String(error));
  });
  if (present !== true) {
    return unknown(
      base,
      present === false
        ? `the data directory ${place.dataDir} of ${where} on ${place.where} is gone or is not a PostgreSQL data directory`
        : `the host of ${where} is unreachable: ${present.message}`,
    );
  }
  const fork = await forkPoint(options.source);
  const copy = await place.startCopy(where, options.signal);
  const oldUrl = new URL(options.oldUrl);
  oldUrl.hostname = copy.host;
  oldUrl.port = String(copy.port);
  let found: Reconciliation;
  try {
    found = await readCopy(subject, { ...options, base, fork, copy, copyUrl: oldUrl.toString() });
  } finally {
    await copy.remove();
  }
  const { timings } = found;
  return timings === undefined ? found : { ...found, timings: { ...timings, totalMs: Date.now() - began } };
}

/** What the copy holds after the fork: its transactions from the WAL, then their rows. */
async function readCopy(
  subject: Subject,
  options: CaptureOptions & {
    base: Base;
    fork: { timeline: number; lsnOf: Map<number, string> };
    copy: ReadOnlyCopy;
    copyUrl: string;
  },
): Promise<Reconciliation> {
  const { copy, fork } = options;
  const where = describe(subject);
  const scratch = { subject, url: options.copyUrl };
  const decodeAt = Date.now();
  const state = await replayedState(scratch);
  const oldTimeline = Number(state?.tli);
  const forkLsn = fork.lsnOf.get(oldTimeline);
  const located = { ...options.base, oldTimeline, newTimeline: fork.timeline };
  if (forkLsn === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NOT_FORKED',
      `${where} is on timeline ${oldTimeline}, which is not an ancestor of ${describe(options.source.subject)}'s timeline ${fork.timeline}`,
      {
        hint: 'the new primary was not promoted from this server; rebuild from the site that was promoted from it',
      },
    );
  }
  const timings = { copyMs: copy.copyMs, startMs: copy.startMs };
  const endLsn = state?.lsn ?? forkLsn;
  if (lsnValue(endLsn) <= lsnValue(forkLsn)) {
    return {
      ...located,
      status: 'captured',
      forkLsn,
      transactions: 0,
      rows: [],
      tables: {},
      warnings: [],
      timings: { ...timings, decodeMs: Date.now() - decodeAt, compareMs: 0 },
    };
  }
  let dump: string;
  try {
    dump = await copy.walDump(walDumpArgs(copy.walDir, oldTimeline, forkLsn, endLsn));
  } catch (error) {
    return unknown(
      { ...located, forkLsn },
      `the WAL of ${where} after the fork point ${forkLsn} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const decodeMs = Date.now() - decodeAt;
  const compareAt = Date.now();
  const records = parseWalDump(dump);
  const commits = strandedCommits(records);
  const changes = walChanges(records, commits.topOf, Number(state?.db));
  const read = await readStrandedRows(scratch, options.source, changes, commits, BigInt(state?.next ?? '0'));
  const times = [...changes.ours]
    .map((xid) => commits.committedAt.get(xid) ?? '')
    .filter((t) => t !== '')
    .sort();
  const first = times[0];
  const lastAt = times[times.length - 1];
  return {
    ...located,
    status: 'captured',
    forkLsn,
    transactions: changes.ours.size,
    rows: read.rows,
    tables: summarise(read.rows),
    ...(first === undefined || lastAt === undefined
      ? {}
      : { firstCommitAt: first, lastCommitAt: lastAt, spanMs: Date.parse(lastAt) - Date.parse(first) }),
    ...(changes.others.size > 0 ? { otherDatabases: changes.others.size } : {}),
    warnings: [...changes.warnings, ...read.warnings],
    timings: { ...timings, decodeMs, compareMs: Date.now() - compareAt },
  };
}
