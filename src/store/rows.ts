/**
 * The stores' rows mapped to the records of `store.ts`, once for SQLite and PostgreSQL. What differs
 * between the two is small and handled here: SQLite returns a time as ISO text (a lease's expiry as
 * epoch milliseconds) and a boolean as 0 or 1, PostgreSQL returns a Date and a boolean.
 */
import type {
  DrillReportRecord,
  EventRecord,
  JournalRecord,
  Lease,
  RunRecord,
  RunStatus,
  StoredDocument,
} from './store.ts';

/** A time as a database returns it. */
export type TimeValue = string | number | Date;

function time(value: TimeValue): Date {
  return value instanceof Date ? value : new Date(value);
}

export interface RunRow {
  id: string;
  workload: string;
  runbook: string;
  plan_hash: string;
  plan_file: string;
  started_by: string;
  created_at: TimeValue;
  updated_at: TimeValue;
  status: RunStatus;
  head_seq: number;
  head_hash: string;
}

export function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    workload: row.workload,
    runbook: row.runbook,
    planHash: row.plan_hash,
    planFile: row.plan_file,
    startedBy: row.started_by,
    createdAt: time(row.created_at),
    updatedAt: time(row.updated_at),
    status: row.status,
    headSeq: row.head_seq,
    headHash: row.head_hash,
  };
}

/** The columns a journal entry and a stream event share. */
interface ChainedRow {
  seq: number;
  at: TimeValue;
  type: string;
  actor: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface JournalRow extends ChainedRow {
  step: string | null;
}

export function toJournalRecord(runId: string, row: JournalRow): JournalRecord {
  return {
    runId,
    seq: row.seq,
    at: time(row.at),
    type: row.type,
    step: row.step ?? undefined,
    actor: row.actor,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export type EventRow = ChainedRow;

export function toEvent(stream: string, row: EventRow): EventRecord {
  return {
    stream,
    seq: row.seq,
    at: time(row.at),
    type: row.type,
    actor: row.actor,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface LeaseRow {
  owner: string;
  pid: number;
  host: string;
  expires_at: TimeValue;
  token: number;
}

export function toLease(runId: string, row: LeaseRow): Lease {
  return {
    runId,
    owner: row.owner,
    pid: row.pid,
    host: row.host,
    expiresAt: time(row.expires_at),
    token: row.token,
  };
}

export interface DocumentRow {
  collection: string;
  id: string;
  version: number;
  created_at: TimeValue;
  updated_at: TimeValue;
  data: string;
}

export function toDocument(row: DocumentRow): StoredDocument {
  return {
    collection: row.collection,
    id: row.id,
    version: row.version,
    createdAt: time(row.created_at),
    updatedAt: time(row.updated_at),
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

export interface DrillReportRow {
  id: string;
  workload: string;
  scenario: string;
  plan_hash: string | null;
  started_at: TimeValue;
  passed: boolean | number;
  detection_ms: number | null;
  rto_ms: number | null;
  lost_writes: number;
  report: string;
}

export function toDrillReport(row: DrillReportRow): DrillReportRecord {
  return {
    id: row.id,
    workload: row.workload,
    scenario: row.scenario,
    planHash: row.plan_hash ?? undefined,
    startedAt: time(row.started_at),
    passed: row.passed === true || row.passed === 1,
    detectionMs: row.detection_ms ?? undefined,
    rtoMs: row.rto_ms ?? undefined,
    lostWrites: row.lost_writes,
    report: JSON.parse(row.report) as Record<string, unknown>,
  };
}
