/**
 * The PostgreSQL state store: the same `RunStore` as SQLite, for several drctl instances (one per site)
 * sharing one database that itself fails over (a primary and a synchronous standby). See ARCHITECTURE.md
 * for how leases, fencing tokens and failover fit together.
 *
 *   const store = await PostgresStore.open('postgres://drctl:pw@east:5432,west:5432/drctl?target_session_attrs=read-write');
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { runLocked, runNotFound, UsageError } from '../../errors.ts';
import {
  GENESIS_HASH,
  canonicalJson,
  chainEvent,
  chainRecords,
  documentConflict,
  headConflict,
  leaseLost,
  type JournalChain,
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
import { findPrimary, parseStateUrl } from './connect.ts';
import type { StateUrl } from './connect.ts';
import * as mapping from '../rows.ts';
import { MIGRATIONS } from './migrations.ts';

export { isPostgresUrl, looksLikeUrl, parseStateUrl } from './connect.ts';

export interface PostgresStoreOptions {
  /** The schema drctl's tables live in; overrides the URL's `schema=`. @default 'drctl' */
  schema?: string;
  /**
   * How long one operation keeps retrying while the database is unreachable or failing over, before it
   * fails with DRCTL_STORE_UNAVAILABLE. @default 30000
   */
  reconnectTimeoutMs?: number;
  /** A query that takes longer is abandoned and retried on a new connection (a frozen server). @default 10000 */
  queryTimeoutMs?: number;
  /** Connections kept open. @default 10 */
  poolSize?: number;
}

/** Errors after which the same operation may be sent again, to a freshly found primary. */
const RETRYABLE_CODES = new Set([
  '57P01', // admin_shutdown (fast or immediate shutdown, a fence)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, promoting)
  '25006', // read_only_sql_transaction: we reached a standby
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '40001',
  '40P01',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const RETRYABLE_MESSAGE =
  /Connection terminated|after calling end on the pool|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client was closed|not queryable|DRCTL_STORE_UNREACHABLE|no PostgreSQL server/i;

function retryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' && RETRYABLE_CODES.has(code)) || RETRYABLE_MESSAGE.test(String(error));
}

/** PostgreSQL's lease rows name their run in `key`. */
type PgLeaseRow = mapping.LeaseRow & { key: string };

const RUN_COLUMNS =
  'id, workload, runbook, plan_hash, plan_file, started_by, created_at, updated_at, status, head_seq::integer AS head_seq, head_hash';
const LEASE_COLUMNS = 'key, owner, pid, host, token::float8 AS token, expires_at';

export class PostgresStore implements RunStore {
  readonly url: StateUrl;
  readonly schema: string;
  readonly #options: PostgresStoreOptions;
  #pool: pg.Pool;
  #reconnecting: Promise<void> | undefined;
  /** The session whose advisory lock says "this store's process is alive" (see ARCHITECTURE.md). */
  #liveness: pg.Client | undefined;
  /** The liveness session being opened: callers at the same moment share it rather than open two. */
  #openingLiveness: Promise<void> | undefined;
  #session: [number, number] = newSessionKeys();
  /** The newest head this store saw per run, so an append is one round trip. */
  readonly #heads = new Map<string, { seq: number; hash: string }>();
  #closed = false;

  private constructor(url: StateUrl, config: pg.ClientConfig, options: PostgresStoreOptions) {
    this.url = url;
    this.schema = options.schema ?? url.schema;
    this.#options = options;
    this.#pool = this.#newPool(config);
  }

  /**
   * Connects to the first host of the URL that accepts writes and brings the schema up to date. Throws
   * DRCTL_STORE_UNREACHABLE (exit 2) when no host does, DRCTL_STORE_NEWER when a newer drctl wrote it.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const parsed = parseStateUrl(url);
    const store = new PostgresStore(parsed, await findPrimary(parsed), options);
    try {
      await store.#migrate();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  #newPool(config: pg.ClientConfig): pg.Pool {
    const pool = new pg.Pool({
      ...config,
      max: this.#options.poolSize ?? 10,
      keepAlive: true,
      query_timeout: this.#options.queryTimeoutMs ?? 10_000,
    });
    // an idle connection dropped by a failover is noticed by the next query; it must not crash the process
    pool.on('error', () => undefined);
    return pool;
  }

  /** `S.` in SQL names this store's schema. */
  #sql(text: string): string {
    return text.replace(/\bS\./g, `"${this.schema}".`);
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return this.#retrying(async () => (await this.#pool.query<R>(this.#sql(text), values)).rows);
  }

  /** Runs `work` in one transaction on one connection. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#retrying(async () => {
      const client = await this.#pool.connect();
      // a connection cut while checked out reports to the query in flight; the pool only listens on idle
      // clients, so without this the same error would also crash the process
      const ignore = (): void => undefined;
      client.on('error', ignore);
      let failure: unknown;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failure = error;
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.off('error', ignore);
        // a connection that failed is dropped, not handed to the next caller
        client.release(failure !== undefined && retryable(failure) ? (failure as Error) : undefined);
      }
    });
  }

  /**
   * Sends `work` again after a connection failure, to the primary found anew (a promotion moves it), until
   * `reconnectTimeoutMs` has passed. Only operations whose repetition is harmless go through here; the
   * journal append is made so (see `append`).
   */
  async #retrying<T>(work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + (this.#options.reconnectTimeoutMs ?? 30_000);
    let pause = 50;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (this.#closed || !retryable(error)) throw error;
        if (Date.now() >= deadline) {
          throw new UsageError(
            'DRCTL_STORE_UNAVAILABLE',
            `the state database ${this.url.display} stayed unreachable (${(error as Error).message})`,
            {
              hint: 'check the state database and its failover; drctl resumes from the journal once it is back',
              cause: error,
            },
          );
        }
        await sleep(pause);
        pause = Math.min(pause * 2, 1_000);
        await this.#reconnect();
      }
    }
  }

  async #reconnect(): Promise<void> {
    this.#reconnecting ??= (async () => {
      try {
        const config = await findPrimary(this.url);
        const old = this.#pool;
        this.#pool = this.#newPool(config);
        // The liveness session is left alone: it ends by itself when its server goes (see
        // #openLiveness). Ending a healthy one here, because some other query failed late, would drop
        // the lock that leases renewed on this server point to, and let a taker see this process dead.
        void old.end().catch(() => undefined);
      } catch {
        // no primary yet: the caller waits and tries again
      } finally {
        this.#reconnecting = undefined;
      }
    })();
    await this.#reconnecting;
  }

  async #migrate(): Promise<void> {
    const version = async (client: pg.ClientBase): Promise<number> => {
      const exists = await client.query<{ present: boolean }>(
        'SELECT to_regclass($1) IS NOT NULL AS present',
        [`"${this.schema}".schema_version`],
      );
      if (exists.rows[0]?.present !== true) return 0;
      const rows = await client.query<{ version: number }>(this.#sql('SELECT version FROM S.schema_version'));
      return rows.rows[0]?.version ?? 0;
    };
    const check = (current: number) => {
      if (current <= MIGRATIONS.length) return;
      throw new UsageError(
        'DRCTL_STORE_NEWER',
        `the state database ${this.url.display} (schema ${this.schema}) was written by a newer drctl (schema ${current}, this drctl knows ${MIGRATIONS.length})`,
        { hint: 'upgrade drctl, or point --state at another database or schema' },
      );
    };
    const client = await this.#pool.connect();
    try {
      const found = await version(client);
      check(found);
      if (found === MIGRATIONS.length) return;
      // Several instances may start at once against a new database: the advisory lock lets one of them
      // migrate while the others wait, then they read the version again and find nothing to do.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`drctl-migrate:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      const current = await version(client);
      check(current);
      if (current === 0)
        await client.query(this.#sql('CREATE TABLE S.schema_version (version integer NOT NULL)'));
      for (let index = current; index < MIGRATIONS.length; index += 1) {
        await client.query(this.#sql(MIGRATIONS[index] as string));
      }
      await client.query(this.#sql('DELETE FROM S.schema_version'));
      await client.query(this.#sql('INSERT INTO S.schema_version (version) VALUES ($1)'), [
        MIGRATIONS.length,
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async createRun(run: NewRun, first: JournalInput): Promise<JournalRecord> {
    const chain = chainRecords(run.id, { seq: 0, hash: GENESIS_HASH }, [first]);
    const record = chain.records[0] as JournalRecord;
    try {
      await this.#transaction(async (client) => {
        await client.query(
          this.#sql(
            `INSERT INTO S.runs (id, workload, runbook, plan_hash, plan_file, started_by, created_at, updated_at, status, head_seq, head_hash)
             VALUES ($1, $2, $3, $4, $5, $6, now(), now(), 'running', 0, $7)`,
          ),
          [run.id, run.workload, run.runbook, run.planHash, run.planFile, run.startedBy, GENESIS_HASH],
        );
        await client.query(this.#sql(APPEND_CALL), appendParams(run.id, chain, {}));
      });
    } catch (error) {
      // the insert committed but its answer was lost (a failover): the run is there with our first record
      if ((error as { code?: unknown }).code !== '23505') throw error;
      const [held] = await this.readJournal(run.id);
      if (held?.hash !== record.hash) throw error;
    }
    this.#heads.set(run.id, { seq: 1, hash: record.hash });
    return record;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.#query<mapping.RunRow>(`SELECT ${RUN_COLUMNS} FROM S.runs WHERE id = $1`, [id]);
    return row === undefined ? undefined : mapping.toRun(row);
  }

  async listRuns(options: { limit?: number } = {}): Promise<RunRecord[]> {
    const rows = await this.#query<mapping.RunRow>(
      `SELECT ${RUN_COLUMNS} FROM S.runs ORDER BY created_at DESC, id DESC LIMIT $1`,
      [options.limit ?? 50],
    );
    return rows.map(mapping.toRun);
  }

  async #readHead(runId: string): Promise<{ seq: number; hash: string }> {
    const [row] = await this.#query<{ seq: number; hash: string }>(
      'SELECT head_seq::integer AS seq, head_hash AS hash FROM S.runs WHERE id = $1',
      [runId],
    );
    if (row === undefined) throw runNotFound(runId, `the state database ${this.url.display}`);
    this.#heads.set(runId, row);
    return row;
  }

  /**
   * One round trip per append: the chain is built from the head this store last saw, and the database
   * checks that head, the lease and the fencing token before it inserts. A connection lost mid-append
   * re-sends the same records; when the first attempt had committed, the database answers `duplicate`
   * and nothing is written twice.
   */
  async append(
    runId: string,
    records: readonly JournalInput[],
    options: AppendOptions = {},
  ): Promise<JournalRecord[]> {
    let head = this.#heads.get(runId) ?? (await this.#readHead(runId));
    if (options.expectHeadSeq !== undefined && head.seq !== options.expectHeadSeq) {
      head = await this.#readHead(runId);
      if (head.seq !== options.expectHeadSeq) throw headConflict(runId, options.expectHeadSeq, head.seq);
    }
    for (;;) {
      const chain = chainRecords(runId, head, records);
      const [row] = await this.#query<{ result: string }>(APPEND_CALL, appendParams(runId, chain, options));
      const result = row?.result ?? '';
      if (result === 'ok' || result === 'duplicate') {
        this.#heads.set(runId, chain.head);
        return chain.records;
      }
      if (result === 'not-found') throw runNotFound(runId, `the state database ${this.url.display}`);
      if (result === 'fenced') throw leaseLost(runId);
      this.#heads.delete(runId);
      const actual = Number(result.replace('moved:', ''));
      if (options.expectHeadSeq !== undefined) throw headConflict(runId, options.expectHeadSeq, actual);
      head = await this.#readHead(runId);
    }
  }

  async readJournal(runId: string, afterSeq = 0): Promise<JournalRecord[]> {
    const rows = await this.#query<mapping.JournalRow>(
      'SELECT seq::integer AS seq, at, type, step, actor, data, prev_hash, hash FROM S.journal WHERE run_id = $1 AND seq > $2 ORDER BY seq',
      [runId, afterSeq],
    );
    return rows.map((row) => mapping.toJournalRecord(runId, row));
  }

  /** Holds this store's liveness advisory lock on a session of its own, (re)connecting when needed. */
  async #ensureLiveness(): Promise<void> {
    if (this.#liveness !== undefined) return;
    this.#openingLiveness ??= this.#openLiveness().finally(() => (this.#openingLiveness = undefined));
    return this.#openingLiveness;
  }

  async #openLiveness(): Promise<void> {
    const client = new pg.Client(await findPrimary(this.url));
    const lost = (): void => {
      if (this.#liveness === client) this.#liveness = undefined;
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      // Never wait for the lock: a session the server has not yet noticed is gone may still hold the
      // old keys, so take new ones (the leases take them at their next renewal).
      for (;;) {
        const [row] = (
          await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS held', this.#session)
        ).rows;
        if (row?.held === true) break;
        this.#session = newSessionKeys();
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#liveness = client;
  }

  /**
   * Lease times are the database's (`now()`), so instances' clocks do not matter. An unexpired lease is
   * still taken over at once when its holder's liveness session is gone (the process died, its
   * connection closed); a holder that is paused or cut off keeps its session and is waited out. Both
   * judgements need the holder to have renewed on the server answering now: after a failover or a
   * restart (no session survives either, and leases may have expired while nobody could reach the
   * database) a holder gets a full TTL from the moment drctl first reached the new server.
   */
  async acquireLease(key: string, request: LeaseRequest): Promise<Lease> {
    const ttlSeconds = request.ttlMs / 1000;
    // The liveness lock is (re)taken in the same retried unit as the write, so a write sent again after
    // a failover carries the keys of a lock held on the server it reaches. The row names that server only
    // when the lock is really held there; otherwise '' (judged by expiry after the grace, never by the lock).
    const [taken] = await this.#retrying(async () => {
      await this.#ensureLiveness();
      const [a, b] = this.#session;
      const server = `CASE WHEN ${lockHeld('$5', '$6')} THEN S.server_id() ELSE '' END`;
      if (request.token !== undefined) {
        const renewed = await this.#pool.query<PgLeaseRow>(
          this.#sql(
            `UPDATE S.leases SET expires_at = now() + make_interval(secs => $7), session_a = $5, session_b = $6,
               pid = $3, host = $4, server = ${server}
             WHERE key = $1 AND owner = $2 AND token = $8 RETURNING ${LEASE_COLUMNS}`,
          ),
          [key, request.owner, request.pid, request.host, a, b, ttlSeconds, request.token],
        );
        if (renewed.rows[0] === undefined) throw leaseLost(key);
        return renewed.rows;
      }
      return (
        await this.#pool.query<PgLeaseRow>(
          this.#sql(
            `INSERT INTO S.leases AS l (key, owner, pid, host, session_a, session_b, token, expires_at, server)
             VALUES ($1, $2, $3, $4, $5, $6, 1, now() + make_interval(secs => $7), ${server})
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
               session_a = excluded.session_a, session_b = excluded.session_b, expires_at = excluded.expires_at,
               server = excluded.server,
               token = CASE WHEN l.owner = excluded.owner THEN l.token ELSE l.token + 1 END
             WHERE l.owner = excluded.owner OR l.owner = ''
               -- renewed on this server: expired, or its holder's liveness session is gone
               OR (l.server = S.server_id() AND (l.expires_at <= now() OR NOT ${lockHeld('l.session_a', 'l.session_b')}))
               -- not renewed on this server (a failover, a restart): expired, and a full TTL since drctl
               -- first reached this server, so its holder had time to come back and renew
               OR (l.server <> S.server_id() AND l.expires_at <= now()
                 AND now() >= S.server_since() + make_interval(secs => $7))
             RETURNING ${LEASE_COLUMNS}`,
          ),
          [key, request.owner, request.pid, request.host, a, b, ttlSeconds],
        )
      ).rows;
    });
    if (taken !== undefined) return mapping.toLease(taken.key, taken);
    const held = await this.getLease(key);
    throw runLocked(key, held);
  }

  async getLease(key: string): Promise<Lease | undefined> {
    const [row] = await this.#query<PgLeaseRow>(
      `SELECT ${LEASE_COLUMNS} FROM S.leases WHERE key = $1 AND owner <> ''`,
      [key],
    );
    return row === undefined ? undefined : mapping.toLease(row.key, row);
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    await this.#query("UPDATE S.leases SET owner = '', expires_at = now() WHERE key = $1 AND owner = $2", [
      key,
      owner,
    ]);
  }

  async saveDrillReport(record: DrillReportRecord): Promise<void> {
    await this.#query(
      `INSERT INTO S.drill_reports (id, workload, scenario, plan_hash, started_at, passed, detection_ms, rto_ms, lost_writes, report)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (id) DO UPDATE SET workload = excluded.workload, scenario = excluded.scenario,
         plan_hash = excluded.plan_hash, started_at = excluded.started_at, passed = excluded.passed,
         detection_ms = excluded.detection_ms, rto_ms = excluded.rto_ms, lost_writes = excluded.lost_writes,
         report = excluded.report`,
      [
        record.id,
        record.workload,
        record.scenario,
        record.planHash ?? null,
        record.startedAt,
        record.passed,
        record.detectionMs ?? null,
        record.rtoMs ?? null,
        record.lostWrites,
        JSON.stringify(record.report),
      ],
    );
  }

  async listDrillReports(options: DrillReportQuery = {}): Promise<DrillReportRecord[]> {
    const rows = await this.#query<mapping.DrillReportRow>(
      `SELECT * FROM S.drill_reports WHERE ($1::text IS NULL OR workload = $1) AND ($2::text IS NULL OR scenario = $2)
       ORDER BY started_at DESC, id DESC LIMIT $3`,
      [options.workload ?? null, options.scenario ?? null, options.limit ?? 50],
    );
    return rows.map(mapping.toDrillReport);
  }

  async putDocument(
    collection: string,
    id: string,
    data: Record<string, unknown>,
    options: PutDocumentOptions = {},
  ): Promise<StoredDocument> {
    const json = JSON.stringify(data);
    const expected = options.expectVersion;
    // one statement each, so two writers racing on the same version cannot both win
    const sql =
      expected === undefined
        ? `INSERT INTO S.documents AS d (collection, id, version, created_at, updated_at, data) VALUES ($1, $2, 1, now(), now(), $3)
           ON CONFLICT (collection, id) DO UPDATE SET version = d.version + 1, updated_at = now(), data = excluded.data
           RETURNING *`
        : expected === 0
          ? `INSERT INTO S.documents (collection, id, version, created_at, updated_at, data) VALUES ($1, $2, 1, now(), now(), $3)
             ON CONFLICT (collection, id) DO NOTHING RETURNING *`
          : `UPDATE S.documents SET version = version + 1, updated_at = now(), data = $3
             WHERE collection = $1 AND id = $2 AND version = $4 RETURNING *`;
    const [row] = await this.#query<mapping.DocumentRow>(
      sql,
      expected === undefined || expected === 0 ? [collection, id, json] : [collection, id, json, expected],
    );
    if (row === undefined) {
      const held = await this.getDocument(collection, id);
      // our own write, committed before a lost answer made #retrying send it again
      if (
        held !== undefined &&
        expected !== undefined &&
        held.version === expected + 1 &&
        JSON.stringify(held.data) === json
      )
        return held;
      throw documentConflict(collection, id, expected ?? 0, held?.version ?? 0);
    }
    return mapping.toDocument(row);
  }

  async getDocument(collection: string, id: string): Promise<StoredDocument | undefined> {
    const [row] = await this.#query<mapping.DocumentRow>(
      'SELECT * FROM S.documents WHERE collection = $1 AND id = $2',
      [collection, id],
    );
    return row === undefined ? undefined : mapping.toDocument(row);
  }

  async listDocuments(collection: string, options: { limit?: number } = {}): Promise<StoredDocument[]> {
    const rows = await this.#query<mapping.DocumentRow>(
      'SELECT * FROM S.documents WHERE collection = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
      [collection, options.limit ?? 1000],
    );
    return rows.map(mapping.toDocument);
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    const rows = await this.#query('DELETE FROM S.documents WHERE collection = $1 AND id = $2 RETURNING id', [
      collection,
      id,
    ]);
    return rows.length > 0;
  }

  /**
   * A connection lost after the commit but before its answer sends the transaction again: the record
   * tried first (its sequence number and hash, unique by its time) is looked for before a new one is
   * chained, so the retry finds it and nothing is appended twice, as with the journal.
   */
  async appendEvent(stream: string, input: EventInput): Promise<EventRecord> {
    let attempted: EventRecord | undefined;
    return this.#transaction(async (client) => {
      // writers of one stream take turns; other streams are not held up
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `drctl-events:${this.schema}:${stream}`,
      ]);
      if (attempted !== undefined) {
        const found = await client.query(
          this.#sql('SELECT 1 FROM S.events WHERE stream = $1 AND seq = $2 AND hash = $3'),
          [stream, attempted.seq, attempted.hash],
        );
        if (found.rows.length > 0) return attempted;
      }
      const head = await client.query<{ seq: number; hash: string }>(
        this.#sql(
          'SELECT seq::integer AS seq, hash FROM S.events WHERE stream = $1 ORDER BY seq DESC LIMIT 1',
        ),
        [stream],
      );
      const record = chainEvent(stream, head.rows[0], input);
      attempted = record;
      await client.query(
        this.#sql(
          'INSERT INTO S.events (stream, seq, at, type, actor, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        ),
        [
          stream,
          record.seq,
          record.at.toISOString(),
          record.type,
          record.actor,
          canonicalJson(record.data),
          record.prevHash,
          record.hash,
        ],
      );
      return record;
    });
  }

  async readEvents(stream: string, options: ReadEventsOptions = {}): Promise<EventRecord[]> {
    const rows = await this.#query<mapping.EventRow>(
      `SELECT seq::integer AS seq, at, type, actor, data, prev_hash, hash FROM S.events WHERE stream = $1 AND seq > $2
       ORDER BY seq ${options.newestFirst === true ? 'DESC' : ''} LIMIT $3`,
      [stream, options.afterSeq ?? 0, options.limit ?? 1000],
    );
    return rows.map((row) => mapping.toEvent(stream, row));
  }

  /** Runs SQL against the store's database, for tests and tools (`S.` names the store's schema). */
  async sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return this.#query<R>(text, values);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#liveness?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }
}

const APPEND_CALL = 'SELECT S.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) AS result';

function appendParams(runId: string, chain: JournalChain, options: AppendOptions): unknown[] {
  const first = chain.records[0];
  const prevSeq = chain.head.seq - chain.records.length;
  const prevHash = first?.prevHash ?? chain.head.hash;
  return [
    runId,
    prevSeq,
    prevHash,
    options.leaseOwner ?? null,
    options.fencingToken ?? null,
    options.status ?? null,
    chain.records.map((record) => record.at.toISOString()),
    chain.records.map((record) => record.type),
    chain.records.map((record) => record.step ?? null),
    chain.records.map((record) => record.actor),
    chain.dataJson,
    chain.records.map((record) => record.prevHash),
    chain.records.map((record) => record.hash),
  ];
}

/** SQL: the advisory lock (classid, objid) of a liveness session is held on this server, in this database. */
function lockHeld(a: string, b: string): string {
  return `EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 2
    AND k.classid = (${a})::integer::oid AND k.objid = (${b})::integer::oid
    AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;
}

function newSessionKeys(): [number, number] {
  return [randomInt(1, 2 ** 31 - 1), randomInt(1, 2 ** 31 - 1)];
}
