/**
 * The embedded state store: one SQLite database (`state.db`) in the state directory, in WAL mode so
 * `drctl status` and `drctl approve` in another terminal read and write while a run is being driven.
 *
 * Durability: `synchronous = NORMAL` in WAL mode survives the orchestrator being killed (SIGKILL) at any
 * moment, which is what resume relies on; it may lose the last commits on a power cut. Pass
 * `synchronous: 'full'` when that matters more than speed.
 */
import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runLocked, runNotFound, UsageError } from '../../errors.ts';
import { processAlive } from '../../system/processes.ts';
import {
  GENESIS_HASH,
  canonicalJson,
  chainEvent,
  chainRecords,
  documentConflict,
  headConflict,
  leaseLost,
} from '../chain.ts';
import type {
  AppendOptions,
  DrillReportQuery,
  DrillReportRecord,
  EventInput,
  EventRecord,
  JournalInput,
  JournalRecord,
  Lease,
  LeaseRequest,
  NewRun,
  PutDocumentOptions,
  ReadEventsOptions,
  RunRecord,
  RunStore,
  StoredDocument,
} from '../store.ts';
import * as mapping from '../rows.ts';
import { MIGRATIONS } from './migrations.ts';

/** SQLite's rows name their run or stream in a column. */
type SqliteLeaseRow = mapping.LeaseRow & { run_id: string; expires_at: number };
type SqliteJournalRow = mapping.JournalRow & { run_id: string };
type SqliteEventRow = mapping.EventRow & { stream: string };

export interface SqliteStoreOptions {
  /** `full` makes every commit reach the disk before it returns (slower). @default 'normal' */
  synchronous?: 'normal' | 'full';
  /** How long a writer waits for another process's transaction. @default 5000 */
  busyTimeoutMs?: number;
}

export const STATE_DB_FILE = 'state.db';

/** Turns SQLite's failures into errors a person can act on; everything else passes through. */
function storeError(error: unknown, file: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_FULL') {
    return new UsageError(
      'DRCTL_STORE_FULL',
      `the state database ${file} is full (disk or size limit); nothing was written`,
      {
        hint: 'free disk space where the state directory lives, then resume the run',
        cause: error,
      },
    );
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new UsageError(
      'DRCTL_STORE_CORRUPT',
      `the state database ${file} is corrupted or not a drctl database`,
      {
        hint: 'restore the state directory from a backup, or point --state at another directory',
        cause: error,
      },
    );
  }
  if (code === 'SQLITE_BUSY') {
    return new UsageError('DRCTL_STORE_BUSY', `the state database ${file} stayed locked by another process`, {
      hint: 'try again; if it persists, look for a stuck drctl process',
      cause: error,
    });
  }
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR') {
    return new UsageError(
      'DRCTL_STORE_UNAVAILABLE',
      `cannot write the state database ${file} (${String(code)})`,
      {
        hint: 'check that the state directory exists, is writable and its disk is healthy',
        cause: error,
      },
    );
  }
  return error;
}

export class SqliteStore implements RunStore {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #statements;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.#db = db;
    this.#statements = {
      getRun: db.prepare<[string], mapping.RunRow>('SELECT * FROM runs WHERE id = ?'),
      listRuns: db.prepare<[number], mapping.RunRow>(
        'SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?',
      ),
      insertRun: db.prepare(
        `INSERT INTO runs (id, workload, runbook, plan_hash, plan_file, started_by, created_at, updated_at, status, head_seq, head_hash)
         VALUES (@id, @workload, @runbook, @plan_hash, @plan_file, @started_by, @created_at, @created_at, 'running', 0, @head_hash)`,
      ),
      insertRecord: db.prepare(
        `INSERT INTO journal (run_id, seq, at, type, step, actor, data, prev_hash, hash)
         VALUES (@run_id, @seq, @at, @type, @step, @actor, @data, @prev_hash, @hash)`,
      ),
      updateHead: db.prepare(
        'UPDATE runs SET head_seq = @head_seq, head_hash = @head_hash, updated_at = @updated_at, status = coalesce(@status, status) WHERE id = @id',
      ),
      readJournal: db.prepare<[string, number], SqliteJournalRow>(
        'SELECT * FROM journal WHERE run_id = ? AND seq > ? ORDER BY seq',
      ),
      getLease: db.prepare<[string], SqliteLeaseRow>('SELECT * FROM leases WHERE run_id = ?'),
      // on every API request (tokens, sessions): prepared once
      getDocument: db.prepare<[string, string], mapping.DocumentRow>(
        'SELECT * FROM documents WHERE collection = ? AND id = ?',
      ),
      upsertLease: db.prepare(
        `INSERT INTO leases (run_id, owner, pid, host, expires_at, token) VALUES (@run_id, @owner, @pid, @host, @expires_at, @token)
         ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, expires_at = excluded.expires_at, token = excluded.token`,
      ),
      releaseLease: db.prepare("UPDATE leases SET owner = '', expires_at = 0 WHERE run_id = ? AND owner = ?"),
    };
  }

  /** Opens (creating when absent) `state.db` in `stateDir` and brings its schema up to date. */
  static open(stateDir: string, options: SqliteStoreOptions = {}): SqliteStore {
    const file = join(stateDir, STATE_DB_FILE);
    try {
      mkdirSync(stateDir, { recursive: true });
    } catch (error) {
      throw new UsageError('DRCTL_STORE_UNAVAILABLE', `cannot create the state directory ${stateDir}`, {
        hint: 'choose a writable directory with --state',
        cause: error,
      });
    }
    let db: Database.Database | undefined;
    try {
      db = new (sqlite())(file, { timeout: options.busyTimeoutMs ?? 5_000 });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      migrate(db, file);
      return new SqliteStore(file, db);
    } catch (error) {
      db?.close();
      throw storeError(error, file);
    }
  }

  /** For tests and tools that need the raw database (for example to show that tampering is caught). */
  get database(): Database.Database {
    return this.#db;
  }

  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeError(error, this.file);
    }
  }

  async createRun(run: NewRun, first: JournalInput): Promise<JournalRecord> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const createdAt = new Date().toISOString();
          this.#statements.insertRun.run({
            id: run.id,
            workload: run.workload,
            runbook: run.runbook,
            plan_hash: run.planHash,
            plan_file: run.planFile,
            started_by: run.startedBy,
            created_at: createdAt,
            head_hash: GENESIS_HASH,
          });
          const [record] = this.#appendInTransaction(run.id, [first], {});
          return record as JournalRecord;
        })
        .immediate(),
    );
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#guard(() => this.#statements.getRun.get(id));
    return row === undefined ? undefined : mapping.toRun(row);
  }

  async listRuns(options: { limit?: number } = {}): Promise<RunRecord[]> {
    return this.#guard(() => this.#statements.listRuns.all(options.limit ?? 50)).map(mapping.toRun);
  }

  async append(
    runId: string,
    records: readonly JournalInput[],
    options: AppendOptions = {},
  ): Promise<JournalRecord[]> {
    return this.#guard(() =>
      this.#db.transaction(() => this.#appendInTransaction(runId, records, options)).immediate(),
    );
  }

  #appendInTransaction(
    runId: string,
    inputs: readonly JournalInput[],
    options: AppendOptions,
  ): JournalRecord[] {
    const run = this.#statements.getRun.get(runId);
    if (run === undefined) {
      throw runNotFound(runId, `the state database ${this.file}`);
    }
    if (options.expectHeadSeq !== undefined && run.head_seq !== options.expectHeadSeq) {
      throw headConflict(runId, options.expectHeadSeq, run.head_seq);
    }
    if (options.leaseOwner !== undefined || options.fencingToken !== undefined) {
      const lease = this.#statements.getLease.get(runId);
      const owned =
        lease !== undefined &&
        lease.owner !== '' &&
        (options.leaseOwner === undefined || lease.owner === options.leaseOwner) &&
        (options.fencingToken === undefined || lease.token === options.fencingToken);
      if (!owned) throw leaseLost(runId);
    }
    const chain = chainRecords(runId, { seq: run.head_seq, hash: run.head_hash }, inputs);
    chain.records.forEach((record, index) =>
      this.#statements.insertRecord.run({
        run_id: runId,
        seq: record.seq,
        at: record.at.toISOString(),
        type: record.type,
        step: record.step ?? null,
        actor: record.actor,
        data: chain.dataJson[index],
        prev_hash: record.prevHash,
        hash: record.hash,
      }),
    );
    this.#statements.updateHead.run({
      id: runId,
      head_seq: chain.head.seq,
      head_hash: chain.head.hash,
      updated_at: chain.records[0]?.at.toISOString() ?? new Date().toISOString(),
      status: options.status ?? null,
    });
    return chain.records;
  }

  async readJournal(runId: string, afterSeq = 0): Promise<JournalRecord[]> {
    return this.#guard(() => this.#statements.readJournal.all(runId, afterSeq)).map((row) =>
      mapping.toJournalRecord(row.run_id, row),
    );
  }

  async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const now = Date.now();
          const held = this.#statements.getLease.get(runId);
          if (
            request.token !== undefined &&
            (held === undefined || held.owner !== request.owner || held.token !== request.token)
          ) {
            throw leaseLost(runId);
          }
          if (
            held !== undefined &&
            held.owner !== '' &&
            held.owner !== request.owner &&
            held.expires_at > now
          ) {
            // a holder on this host that died (SIGKILL) cannot renew: take over at once instead of waiting out its lease
            const holderAlive = held.host !== hostname() || processAlive(held.pid);
            if (holderAlive) {
              throw runLocked(runId, held);
            }
          }
          const lease = {
            run_id: runId,
            owner: request.owner,
            pid: request.pid,
            host: request.host,
            expires_at: now + request.ttlMs,
            token: held?.owner === request.owner ? held.token : (held?.token ?? 0) + 1,
          };
          this.#statements.upsertLease.run(lease);
          return mapping.toLease(lease.run_id, lease);
        })
        .immediate(),
    );
  }

  async getLease(runId: string): Promise<Lease | undefined> {
    const row = this.#guard(() => this.#statements.getLease.get(runId));
    return row === undefined || row.owner === '' ? undefined : mapping.toLease(row.run_id, row);
  }

  async releaseLease(runId: string, owner: string): Promise<void> {
    this.#guard(() => this.#statements.releaseLease.run(runId, owner));
  }

  async saveDrillReport(record: DrillReportRecord): Promise<void> {
    this.#guard(() =>
      this.#db
        .prepare(
          `INSERT OR REPLACE INTO drill_reports (id, workload, scenario, plan_hash, started_at, passed, detection_ms, rto_ms, lost_writes, report)
           VALUES (@id, @workload, @scenario, @plan_hash, @started_at, @passed, @detection_ms, @rto_ms, @lost_writes, @report)`,
        )
        .run({
          id: record.id,
          workload: record.workload,
          scenario: record.scenario,
          plan_hash: record.planHash ?? null,
          started_at: record.startedAt.toISOString(),
          passed: record.passed ? 1 : 0,
          detection_ms: record.detectionMs ?? null,
          rto_ms: record.rtoMs ?? null,
          lost_writes: record.lostWrites,
          report: JSON.stringify(record.report),
        }),
    );
  }

  async listDrillReports(options: DrillReportQuery = {}): Promise<DrillReportRecord[]> {
    const rows = this.#guard(() =>
      this.#db
        .prepare<
          [{ workload: string | null; scenario: string | null; limit: number }],
          mapping.DrillReportRow
        >(
          `SELECT * FROM drill_reports WHERE (@workload IS NULL OR workload = @workload) AND (@scenario IS NULL OR scenario = @scenario)
           ORDER BY started_at DESC, id DESC LIMIT @limit`,
        )
        .all({
          workload: options.workload ?? null,
          scenario: options.scenario ?? null,
          limit: options.limit ?? 50,
        }),
    );
    return rows.map(mapping.toDrillReport);
  }

  async putDocument(
    collection: string,
    id: string,
    data: Record<string, unknown>,
    options: PutDocumentOptions = {},
  ): Promise<StoredDocument> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const held = this.#db
            .prepare<[string, string], mapping.DocumentRow>(
              'SELECT * FROM documents WHERE collection = ? AND id = ?',
            )
            .get(collection, id);
          const version = held?.version ?? 0;
          if (options.expectVersion !== undefined && options.expectVersion !== version) {
            throw documentConflict(collection, id, options.expectVersion, version);
          }
          const now = new Date().toISOString();
          const row: mapping.DocumentRow = {
            collection,
            id,
            version: version + 1,
            created_at: held?.created_at ?? now,
            updated_at: now,
            data: JSON.stringify(data),
          };
          this.#db
            .prepare(
              `INSERT OR REPLACE INTO documents (collection, id, version, created_at, updated_at, data)
               VALUES (@collection, @id, @version, @created_at, @updated_at, @data)`,
            )
            .run(row);
          return mapping.toDocument(row);
        })
        .immediate(),
    );
  }

  async getDocument(collection: string, id: string): Promise<StoredDocument | undefined> {
    const row = this.#guard(() => this.#statements.getDocument.get(collection, id));
    return row === undefined ? undefined : mapping.toDocument(row);
  }

  async listDocuments(collection: string, options: { limit?: number } = {}): Promise<StoredDocument[]> {
    return this.#guard(() =>
      this.#db
        .prepare<[string, number], mapping.DocumentRow>(
          'SELECT * FROM documents WHERE collection = ? ORDER BY created_at DESC, id DESC LIMIT ?',
        )
        .all(collection, options.limit ?? 1000),
    ).map(mapping.toDocument);
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    return this.#guard(
      () =>
        this.#db.prepare('DELETE FROM documents WHERE collection = ? AND id = ?').run(collection, id)
          .changes > 0,
    );
  }

  async appendEvent(stream: string, input: EventInput): Promise<EventRecord> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const head = this.#db
            .prepare<[string], { seq: number; hash: string }>(
              'SELECT seq, hash FROM events WHERE stream = ? ORDER BY seq DESC LIMIT 1',
            )
            .get(stream);
          const record = chainEvent(stream, head, input);
          this.#db
            .prepare(
              `INSERT INTO events (stream, seq, at, type, actor, data, prev_hash, hash)
               VALUES (@stream, @seq, @at, @type, @actor, @data, @prev_hash, @hash)`,
            )
            .run({
              stream,
              seq: record.seq,
              at: record.at.toISOString(),
              type: record.type,
              actor: record.actor,
              data: canonicalJson(record.data),
              prev_hash: record.prevHash,
              hash: record.hash,
            });
          return record;
        })
        .immediate(),
    );
  }

  async readEvents(stream: string, options: ReadEventsOptions = {}): Promise<EventRecord[]> {
    const rows = this.#guard(() =>
      this.#db
        .prepare<[string, number, number], SqliteEventRow>(
          options.newestFirst
            ? 'SELECT * FROM events WHERE stream = ? AND seq > ? ORDER BY seq DESC LIMIT ?'
            : 'SELECT * FROM events WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?',
        )
        .all(stream, options.afterSeq ?? 0, options.limit ?? 1000),
    );
    return rows.map((row) => mapping.toEvent(row.stream, row));
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

const require = createRequire(import.meta.url);

/**
 * better-sqlite3, loaded with the first database opened and through require: imported as an ES module
 * (CommonJS translated, its sources scanned for export names) it takes about 20 ms longer to load.
 */
function sqlite(): typeof Database {
  return require('better-sqlite3') as typeof Database;
}

function migrate(db: Database.Database, file: string): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const check = (current: number) => {
    if (current <= MIGRATIONS.length) return;
    throw new UsageError(
      'DRCTL_STORE_NEWER',
      `the state database ${file} was written by a newer drctl (schema ${current}, this drctl knows ${MIGRATIONS.length})`,
      { hint: 'upgrade drctl, or point --state at another directory' },
    );
  };
  const found = version();
  check(found);
  if (found === MIGRATIONS.length) return;
  // Two drctl processes may open a new state directory at once (`drctl run` and `drctl status` from
  // another terminal): the version is read again under the write lock so only one of them migrates.
  db.transaction(() => {
    const current = version();
    check(current);
    for (let index = current; index < MIGRATIONS.length; index += 1) db.exec(MIGRATIONS[index] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
