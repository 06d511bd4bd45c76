/**
 * The state store interface: where runs, their journals and their leases live. The engine and the CLI
 * talk to this interface only; `sqlite/` is the embedded default, `postgres/` the store several drctl
 * instances share, both held to the same contract by the same conformance tests.
 *
 * The journal is the run: every transition is appended here before it takes effect, and the current state
 * of a run is what replaying its journal gives. Each record is hash-chained to the one before it, so the
 * journal is also the tamper-evident audit log.
 */

/** A run's overall status as the store indexes it (the journal is the source of truth). */
export type RunStatus =
  /** created, being driven or ready to be driven */
  | 'running'
  /** paused until a person approves, confirms or decides */
  | 'waiting'
  /** every step succeeded (or was skipped by a person) */
  | 'succeeded'
  /** a step failed and the policy stopped the run, or a tolerated failure happened */
  | 'failed'
  /** stopped by an operator */
  | 'cancelled'
  /** a step failed with on_failure: rollback and the undo of finished steps ran */
  | 'rolled-back';

export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled', 'rolled-back'];

/**
 * The store stayed unreachable for longer than its own retries (a database outage or a failover that
 * takes long). Code that must not lose a run for it (the engine) waits and tries again: the outage ends
 * some day, and giving up would turn it into a failed run.
 */
export function isStoreOutage(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'DRCTL_STORE_UNAVAILABLE' || code === 'DRCTL_STORE_UNREACHABLE';
}

export interface RunRecord {
  id: string;
  workload: string;
  runbook: string;
  planHash: string;
  /** Absolute path of the root plan file, so `resume` can load the same plan again. */
  planFile: string;
  startedBy: string;
  createdAt: Date;
  updatedAt: Date;
  status: RunStatus;
  /** Sequence number and hash of the newest journal record: deleting the tail is detectable. */
  headSeq: number;
  headHash: string;
}

export type NewRun = Pick<RunRecord, 'id' | 'workload' | 'runbook' | 'planHash' | 'planFile' | 'startedBy'>;

/** What a writer hands the store; the store adds the sequence number, time and hashes. */
export interface JournalInput {
  type: string;
  /** The step this record is about; a step's id is the key its journal and evidence hang on. */
  step?: string;
  /** Who did it: a person for operator decisions, `engine` for the orchestrator. */
  actor: string;
  data: Record<string, unknown>;
}

export interface JournalRecord {
  runId: string;
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  at: Date;
  type: string;
  step: string | undefined;
  actor: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AppendOptions {
  /** Only append when the journal's newest record is still this one (optimistic concurrency). */
  expectHeadSeq?: number;
  /** Only append while this owner holds the run's lease (fencing a driver that lost it). */
  leaseOwner?: string;
  /**
   * Only append while the run's lease still carries this fencing token (`Lease.token`): a driver that
   * was paused or cut off past its lease cannot write once another took the run over.
   */
  fencingToken?: number;
  /** New indexed status of the run, written in the same transaction. */
  status?: RunStatus;
}

/** Who drives a run (or leads anything else named by a key, like `monitor:<workload>`), until when. */
export interface Lease {
  runId: string;
  owner: string;
  pid: number;
  host: string;
  expiresAt: Date;
  /** The fencing token: one more every time the lease changes owner, never smaller, per key. */
  token: number;
}

export interface LeaseRequest {
  owner: string;
  pid: number;
  host: string;
  ttlMs: number;
  /**
   * Renew only: fail with DRCTL_RUN_LEASE_LOST unless `owner` still holds the lease with this token,
   * so an owner that lost the lease never takes it back without knowing.
   */
  token?: number;
}

/** A drill's report as the store keeps it: a few indexed numbers for trends, and the whole JSON. */
export interface DrillReportRecord {
  id: string;
  workload: string;
  scenario: string;
  planHash: string | undefined;
  startedAt: Date;
  passed: boolean;
  detectionMs: number | undefined;
  /** The RTO the client saw; undefined when the service did not come back. */
  rtoMs: number | undefined;
  /** Acknowledged writes missing after the failover. */
  lostWrites: number;
  /** The report document (docs/drills.md). */
  report: Record<string, unknown>;
}

/**
 * A small mutable record a subsystem keeps beside the runs: an access token, an incident, a schedule's
 * last occurrence, a verification result. Collections are named by their owner (`tokens`, `incidents`);
 * the store does not look inside `data`.
 */
export interface StoredDocument {
  collection: string;
  id: string;
  /** 1 when created, one more on every put: what `expectVersion` checks. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
  data: Record<string, unknown>;
}

export interface PutDocumentOptions {
  /** Only write when the document is still at this version; 0 means it must not exist yet. */
  expectVersion?: number;
}

/**
 * An append-only, hash-chained log that is not a run: the server's audit of every mutating call, the
 * messages drctl sent. Same chain as a run's journal (the stream name stands in for the run id).
 */
export interface EventRecord {
  stream: string;
  /** 1, 2, 3, ... without gaps, per stream. */
  seq: number;
  at: Date;
  type: string;
  actor: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface EventInput {
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

export interface ReadEventsOptions {
  /** Records after this sequence number. @default 0 */
  afterSeq?: number;
  /** @default 1000 */
  limit?: number;
  /** The newest `limit` records, newest first, instead of the oldest after `afterSeq`. @default false */
  newestFirst?: boolean;
}

/** Which drill reports to list. */
export interface DrillReportQuery {
  workload?: string;
  scenario?: string;
  /** @default 50 */
  limit?: number;
}

export interface RunStore {
  /** Creates the run and appends its first journal record atomically. */
  createRun(run: NewRun, first: JournalInput): Promise<JournalRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(options?: { limit?: number }): Promise<RunRecord[]>;
  /**
   * Appends records in one transaction, in order. Throws DRCTL_STORE_CONFLICT when `expectHeadSeq` no
   * longer matches and DRCTL_RUN_LEASE_LOST when `leaseOwner` no longer holds the lease or its token is
   * not `fencingToken`; nothing is written then.
   */
  append(runId: string, records: readonly JournalInput[], options?: AppendOptions): Promise<JournalRecord[]>;
  /** Records after `afterSeq` (default 0: all), in order. */
  readJournal(runId: string, afterSeq?: number): Promise<JournalRecord[]>;
  /**
   * Takes the run's lease, or extends it when `owner` already holds it. Throws DRCTL_RUN_LOCKED when
   * another owner holds an unexpired lease whose process is still alive, and DRCTL_RUN_LEASE_LOST when
   * `token` is given and no longer matches. `runId` may be any key (`monitor:shop`): leases do not
   * need a run.
   */
  acquireLease(runId: string, request: LeaseRequest): Promise<Lease>;
  getLease(runId: string): Promise<Lease | undefined>;
  releaseLease(runId: string, owner: string): Promise<void>;
  /** Keeps a drill report; saving the same id again replaces it. */
  saveDrillReport(record: DrillReportRecord): Promise<void>;
  /** Newest first. */
  listDrillReports(options?: DrillReportQuery): Promise<DrillReportRecord[]>;
  /**
   * Creates or replaces a document. Throws DRCTL_STORE_CONFLICT when `expectVersion` does not match;
   * nothing is written then.
   */
  putDocument(
    collection: string,
    id: string,
    data: Record<string, unknown>,
    options?: PutDocumentOptions,
  ): Promise<StoredDocument>;
  getDocument(collection: string, id: string): Promise<StoredDocument | undefined>;
  /** Newest first (by creation). */
  listDocuments(collection: string, options?: { limit?: number }): Promise<StoredDocument[]>;
  /** True when there was a document to delete. */
  deleteDocument(collection: string, id: string): Promise<boolean>;
  /** Appends one record to an event stream, chained to the stream's newest record. */
  appendEvent(stream: string, input: EventInput): Promise<EventRecord>;
  readEvents(stream: string, options?: ReadEventsOptions): Promise<EventRecord[]>;
  close(): Promise<void>;
}
