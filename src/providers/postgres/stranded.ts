/**
 * Writes stranded on a former primary: what it committed after the point where the new primary's timeline
 * forked, saved per table (rows inserted, updated, deleted, with commit times) as a reconciliation file a
 * person reviews and `postgres.reconcile` replays. See docs/data-integrity.md.
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
import { existsSync, mkdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { DrctlError } from '../../errors.ts';
import { freePort } from '../../system/ports.ts';
import { chownToServer, runAsServer, runPgTool, type PgBinaries } from '../../pg/binaries.ts';
import { describe, one, withClient, type Subject } from '../../pg/client.ts';
import { PgServer, stopDataDir } from '../../pg/server.ts';

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
  timings?: { copyMs: number; startMs: number; decodeMs: number; compareMs: number };
}

export interface CaptureOptions {
  binaries: PgBinaries;
  /** The former primary's data directory on this machine (stopped). */
  dataDir: string;
  /** A URL with the credentials and database of the former primary; its host and port are replaced. */
  oldUrl: string;
  /** The new primary. */
  source: { subject: Subject; url: string };
  /** Where the copy of the data directory goes while it is read; removed afterwards. */
  scratchDir: string;
  signal?: AbortSignal;
}

const SKIP_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')";

function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) | BigInt(`0x${low ?? '0'}`);
}

/** A WAL record of pg_waldump that matters here. */
interface WalRecord {
  rmgr: string;
  xid: number;
  lsn: string;
  desc: string;
}

const RECORD =
  /^rmgr: (\S+)\s+len \(rec\/tot\):\s*\d+\/\s*\d+, tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev \S+, desc: (.*)$/;

export function parseWalDump(text: string): WalRecord[] {
  const records: WalRecord[] = [];
  for (const line of text.split('\n')) {
    const match = RECORD.exec(line);
    if (match === null) continue;
    records.push({ rmgr: match[1] ?? '', xid: Number(match[2]), lsn: match[3] ?? '', desc: match[4] ?? '' });
  }
  return records;
}

/** Commits after the fork: top-level xid → commit time, and every subtransaction → its top-level xid. */
export function strandedCommits(records: readonly WalRecord[]): {
  committedAt: Map<number, string>;
  topOf: Map<number, number>;
} {
  const committedAt = new Map<number, string>();
  const topOf = new Map<number, number>();
  for (const record of records) {
    if (record.rmgr !== 'Transaction') continue;
    const commit = /^COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\S+)/.exec(record.desc);
    if (commit === null) continue;
    // pg_waldump prints the time in the server's log time zone; drctl's clusters and most servers log UTC
    const zone = commit[2] === 'UTC' || commit[2] === 'GMT' ? 'Z' : (commit[2] ?? 'Z');
    const at = new Date(`${(commit[1] ?? '').replace(' ', 'T')}${zone}`);
    committedAt.set(record.xid, Number.isNaN(at.getTime()) ? (commit[1] ?? '') : at.toISOString());
    topOf.set(record.xid, record.xid);
    const subs = /subxacts: ([\d ]+)/.exec(record.desc)?.[1];
    for (const sub of subs?.trim().split(/\s+/) ?? []) topOf.set(Number(sub), record.xid);
  }
  return { committedAt, topOf };
}

/** Where a heap record wrote: database oid, relfilenode, block and offset of the tuple. */
function heapTarget(desc: string): { db: number; node: number; blk: number; off: number } | undefined {
  const rel = /blkref #0: rel \d+\/(\d+)\/(\d+)(?: fork \S+)? blk (\d+)/.exec(desc);
  if (rel === null) return undefined;
  const off = /\boff (\d+)/.exec(desc);
  return { db: Number(rel[1]), node: Number(rel[2]), blk: Number(rel[3]), off: Number(off?.[1] ?? 0) };
}

interface TableInfo {
  schema: string;
  name: string;
  node: number;
  key: string[];
}

type Row = Record<string, unknown>;

function pick(row: Row, columns: readonly string[]): Row {
  return Object.fromEntries(columns.map((column) => [column, row[column]]));
}

function keyText(key: Row): string {
  return JSON.stringify(key);
}

/** An unknown reconciliation: the data could not be read, so the loss is not known (never zero). */
function unknown(
  base: Omit<Reconciliation, 'status' | 'rows' | 'tables' | 'warnings'>,
  reason: string,
): Reconciliation {
  return { ...base, status: 'unknown', reason, rows: [], tables: {}, warnings: [] };
}

/**
 * Find what the stopped former primary committed after the new primary's timeline forked. Never changes the
 * former primary's data directory. Returns status `unknown` (with the reason) when its data cannot be read.
 */
export async function captureStrandedWrites(
  subject: Subject,
  options: CaptureOptions,
): Promise<Reconciliation> {
  const oldUrl = new URL(options.oldUrl);
  const database = decodeURIComponent(oldUrl.pathname.slice(1)) || 'postgres';
  const base = {
    format: 1 as const,
    component: subject.component,
    from: subject.site,
    to: options.source.subject.site,
    database,
    capturedAt: new Date().toISOString(),
  };
  const where = describe(subject);
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    return unknown(
      base,
      `the data directory ${options.dataDir} of ${where} is gone or is not a PostgreSQL data directory`,
    );
  }
  const fork = await forkPoint(options.source);
  const started = Date.now();
  // The copy belongs to the server's OS user, like the original; --reflink makes it cheap where the file system can
  mkdirSync(options.scratchDir, { recursive: true });
  chownToServer(options.scratchDir);
  const copy = join(options.scratchDir, 'data');
  let server: PgServer | undefined;
  try {
    await runAsServer('/bin/cp', ['-a', '--reflink=auto', `${options.dataDir}/.`, `${copy}/`], {
      subject: where,
    }).catch(async () => {
      mkdirSync(copy, { recursive: true });
      chownToServer(copy);
      await runAsServer('/bin/cp', ['-a', `${options.dataDir}/.`, copy], { subject: where });
    });
    const copyMs = Date.now() - started;
    for (const name of ['postmaster.pid', 'recovery.signal', 'backup_label.old'])
      rmSync(join(copy, name), { force: true });
    writeFileSync(join(copy, 'standby.signal'), '');
    chownToServer(join(copy, 'standby.signal'));
    appendFileSync(
      join(copy, 'postgresql.auto.conf'),
      "\n# drctl: a read-only copy, to find stranded writes\nrecovery_target_timeline = 'current'\n",
    );
    const port = await freePort();
    const startAt = Date.now();
    server = await PgServer.start({
      binaries: options.binaries,
      dataDir: copy,
      host: '127.0.0.1',
      port,
      logFile: join(options.scratchDir, 'postgres.log'),
      settings: {
        hot_standby: 'on',
        primary_conninfo: '',
        primary_slot_name: '',
        restore_command: '',
        recovery_min_apply_delay: '0',
        archive_mode: 'off',
        synchronous_standby_names: '',
        listen_addresses: '127.0.0.1',
        unix_socket_directories: '',
      },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const startMs = Date.now() - startAt;
    oldUrl.hostname = '127.0.0.1';
    oldUrl.port = String(port);
    const scratch = { subject, url: oldUrl.toString() };
    const decodeAt = Date.now();
    const state = await withClient(scratch.subject, scratch.url, async (client) => {
      // Replay of the copy's own WAL ends when it runs out: wait until the replay position stops moving
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
    const oldTimeline = Number(state?.tli);
    const forkLsn = fork.lsnOf.get(oldTimeline);
    const located = { ...base, oldTimeline, newTimeline: fork.timeline };
    if (forkLsn === undefined) {
      throw new DrctlError(
        'DRCTL_PG_NOT_FORKED',
        `${where} is on timeline ${oldTimeline}, which is not an ancestor of ${describe(options.source.subject)}'s timeline ${fork.timeline}`,
        {
          hint: 'the new primary was not promoted from this server; rebuild from the site that was promoted from it',
        },
      );
    }
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
        timings: { copyMs, startMs, decodeMs: Date.now() - decodeAt, compareMs: 0 },
      };
    }
    let dump: string;
    try {
      dump = (
        await runPgTool(
          options.binaries,
          'pg_waldump',
          [
            '-p',
            join(copy, 'pg_wal'),
            `--timeline=${oldTimeline}`,
            `--start=${forkLsn}`,
            `--end=${endLsn}`,
            '-r',
            'Transaction',
            '-r',
            'Heap',
            '-r',
            'Heap2',
          ],
          { subject: where },
        )
      ).stdout;
    } catch (error) {
      return unknown(
        { ...located, forkLsn },
        `the WAL of ${where} after the fork point ${forkLsn} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const decodeMs = Date.now() - decodeAt;
    const compareAt = Date.now();
    const records = parseWalDump(dump);
    const { committedAt, topOf } = strandedCommits(records);
    const dbOid = Number(state?.db);
    const nextXid = BigInt(state?.next ?? '0');
    const warnings: string[] = [];
    const touched = new Map<number, Set<number>>(); // relfilenode → top-level xids
    const deletes: Array<{ node: number; blk: number; off: number; xid: number }> = [];
    const ourTransactions = new Set<number>();
    // tuple slots the old side filled after the fork: deleting one of those leaves nothing to replay
    const filledAfterFork = new Set<string>();
    const otherTransactions = new Set<number>();
    for (const record of records) {
      if (record.rmgr === 'Transaction') continue;
      const top = topOf.get(record.xid);
      if (top === undefined) continue;
      if (/^TRUNCATE/.test(record.desc)) {
        warnings.push(
          `transaction ${top} truncated a table after the fork: its rows are not listed one by one`,
        );
        ourTransactions.add(top);
        continue;
      }
      const target = heapTarget(record.desc);
      if (target === undefined) continue;
      if (target.db !== dbOid) {
        otherTransactions.add(top);
        continue;
      }
      ourTransactions.add(top);
      if (record.rmgr === 'Heap' && /^(INSERT|HOT_UPDATE|UPDATE)\b/.test(record.desc)) {
        const off =
          /new off (\d+)/.exec(record.desc)?.[1] ??
          (/^INSERT/.test(record.desc) ? String(target.off) : undefined);
        if (off !== undefined) filledAfterFork.add(`${target.node}:${target.blk}:${off}`);
      }
      let xids = touched.get(target.node);
      if (xids === undefined) touched.set(target.node, (xids = new Set()));
      xids.add(top);
      if (
        record.rmgr === 'Heap' &&
        /^DELETE\b/.test(record.desc) &&
        !filledAfterFork.has(`${target.node}:${target.blk}:${target.off}`)
      ) {
        deletes.push({ ...target, xid: top });
      }
    }
    const strandedXids = [...topOf.keys()];
    const rows: StrandedRow[] = [];
    await withClient(scratch.subject, scratch.url, (old) =>
      withClient(options.source.subject, options.source.url, async (fresh) => {
        const tables = await userTables(old, [...touched.keys()]);
        const preFork = await preForkOracle(old, new Set(strandedXids), nextXid);
        for (const table of tables) {
          rows.push(...(await tableChanges(table, old, fresh, strandedXids, topOf, committedAt, preFork)));
        }
        const byNode = new Map(tables.map((table) => [table.node, table]));
        for (const gone of deletes) {
          const table = byNode.get(gone.node);
          if (table === undefined) continue; // a TOAST table or a catalog
          const row = await deletedRow(table, gone, old, fresh, preFork, committedAt.get(gone.xid) ?? '');
          if (row !== undefined) rows.push(row);
        }
        for (const node of touched.keys()) {
          if (!byNode.has(node) && !(await isInternal(old, node))) {
            warnings.push(
              `relation with filenode ${node} was written after the fork but is not a table drctl can read`,
            );
          }
        }
      }),
    );
    rows.sort((a, b) => a.committedAt.localeCompare(b.committedAt) || a.xid - b.xid);
    const times = [...ourTransactions]
      .map((xid) => committedAt.get(xid) ?? '')
      .filter((t) => t !== '')
      .sort();
    const first = times[0];
    const lastAt = times[times.length - 1];
    return {
      ...located,
      status: 'captured',
      forkLsn,
      transactions: ourTransactions.size,
      rows,
      tables: summarise(rows),
      ...(first === undefined || lastAt === undefined
        ? {}
        : { firstCommitAt: first, lastCommitAt: lastAt, spanMs: Date.parse(lastAt) - Date.parse(first) }),
      ...(otherTransactions.size > 0 ? { otherDatabases: otherTransactions.size } : {}),
      warnings,
      timings: { copyMs, startMs, decodeMs, compareMs: Date.now() - compareAt },
    };
  } finally {
    await server?.kill();
    if (server === undefined) await stopDataDir(copy, 5_000, 'immediate').catch(() => undefined);
    rmSync(options.scratchDir, { recursive: true, force: true });
  }
}

/** The new primary's timeline and, for each timeline it came from, the LSN where it forked away. */
async function forkPoint(
  source: CaptureOptions['source'],
): Promise<{ timeline: number; lsnOf: Map<number, string> }> {
  return withClient(source.subject, source.url, async (client) => {
    const row = await one<{ tli: number; history: string | null }>(
      client,
      `select timeline_id as tli,
              case when timeline_id > 1 then pg_read_file(format('pg_wal/%s.history', lpad(upper(to_hex(timeline_id)), 8, '0'))) end as history
         from pg_control_checkpoint()`,
    );
    const lsnOf = new Map<number, string>();
    for (const line of (row?.history ?? '').split('\n')) {
      const match = /^(\d+)\s+([0-9A-F]+\/[0-9A-F]+)/i.exec(line.trim());
      if (match !== null) lsnOf.set(Number(match[1]), (match[2] ?? '').toUpperCase());
    }
    return { timeline: Number(row?.tli), lsnOf };
  });
}

async function userTables(old: pg.Client, nodes: readonly number[]): Promise<TableInfo[]> {
  if (nodes.length === 0) return [];
  const result = await old.query<{ schema: string; name: string; node: number; key: string[] | null }>(
    `select n.nspname as schema, c.relname as name, c.relfilenode::int as node,
            (select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
               from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
              where i.indrelid = c.oid and i.indisprimary) as key
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ${SKIP_SCHEMAS} and c.relfilenode = any($1::oid[])`,
    [nodes],
  );
  return result.rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    node: row.node,
    key: row.key ?? [],
  }));
}

async function isInternal(old: pg.Client, node: number): Promise<boolean> {
  const row = await one<{ internal: boolean }>(
    old,
    `select coalesce((select n.nspname in ${SKIP_SCHEMAS} from pg_class c join pg_namespace n on n.oid = c.relnamespace
                        where c.relfilenode = $1::oid limit 1), true) as internal`,
    [node],
  );
  return row?.internal !== false;
}

/**
 * Whether an xid seen on the new primary committed before the fork: it then committed on the old side too
 * and is not one of the stranded ones. Anything else (never committed there, in the copy's future, or a
 * stranded number the new primary reused) was written on the new primary after the fork. An xid from an
 * earlier epoch is taken as after the fork, which refuses a row rather than overwrite it.
 */
async function preForkOracle(
  old: pg.Client,
  stranded: ReadonlySet<number>,
  nextXid: bigint,
): Promise<(xids: readonly number[]) => Promise<Set<number>>> {
  const epoch = nextXid >> 32n;
  return async (xids) => {
    const result = new Set<number>();
    const ask: string[] = [];
    for (const xid of new Set(xids)) {
      if (xid < 3)
        result.add(xid); // bootstrap and frozen
      else if (stranded.has(xid)) continue;
      else {
        const full = (epoch << 32n) | BigInt(xid);
        if (full < nextXid) ask.push(full.toString());
      }
    }
    if (ask.length > 0) {
      const answer = await old.query<{ xid: string; status: string | null }>(
        'select (x::text::bigint & 4294967295)::text as xid, pg_xact_status(x::text::xid8) as status from unnest($1::bigint[]) as x',
        [ask],
      );
      // null: so old that its status was truncated away, long before any fork
      for (const row of answer.rows)
        if (row.status === 'committed' || row.status === null) result.add(Number(row.xid));
    }
    return result;
  };
}

async function tableChanges(
  table: TableInfo,
  old: pg.Client,
  fresh: pg.Client,
  strandedXids: readonly number[],
  topOf: ReadonlyMap<number, number>,
  committedAt: ReadonlyMap<number, string>,
  preFork: (xids: readonly number[]) => Promise<Set<number>>,
): Promise<StrandedRow[]> {
  const name = qualified(table.schema, table.name);
  const label = `${table.schema}.${table.name}`;
  const changed = await old.query<{ row: Row; xmin: string }>(
    `select to_jsonb(t) as row, t.xmin::text as xmin from ${name} t where t.xmin::text::bigint = any($1::bigint[])`,
    [strandedXids],
  );
  const out: StrandedRow[] = [];
  if (changed.rows.length === 0) return out;
  const meta = (xmin: string): { xid: number; committedAt: string } => {
    const xid = topOf.get(Number(xmin)) ?? Number(xmin);
    return { xid, committedAt: committedAt.get(xid) ?? '' };
  };
  if (table.key.length === 0) {
    for (const { row, xmin } of changed.rows) {
      out.push({ table: label, change: 'insert', after: row, ...meta(xmin), noPrimaryKey: true });
    }
    return out;
  }
  const keys = changed.rows.map(({ row }) => pick(row, table.key));
  const cols = table.key.map(quoteIdent).join(', ');
  const current = await fresh.query<{ row: Row; xmin: string }>(
    `select to_jsonb(t) as row, t.xmin::text as xmin from ${name} t
      where (${table.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}) in (select ${cols} from jsonb_populate_recordset(null::${name}, $1::jsonb))`,
    [JSON.stringify(keys)],
  );
  const theirs = new Map(current.rows.map((r) => [keyText(pick(r.row, table.key)), r]));
  const before = await preFork(current.rows.map((r) => Number(r.xmin)));
  for (const { row, xmin } of changed.rows) {
    const key = pick(row, table.key);
    const other = theirs.get(keyText(key));
    const base = { table: label, key, after: row, ...meta(xmin) };
    if (other === undefined) out.push({ ...base, change: 'insert' });
    else if (before.has(Number(other.xmin))) out.push({ ...base, change: 'update', before: other.row });
    else
      out.push({
        ...base,
        change: 'update',
        before: other.row,
        conflict: 'the new primary changed this row after the fork too',
      });
  }
  return out;
}

/** A row the old primary deleted after the fork: its before image is at the same place on the new primary. */
async function deletedRow(
  table: TableInfo,
  gone: { blk: number; off: number; xid: number },
  old: pg.Client,
  fresh: pg.Client,
  preFork: (xids: readonly number[]) => Promise<Set<number>>,
  committedAt: string,
): Promise<StrandedRow | undefined> {
  const name = qualified(table.schema, table.name);
  const label = `${table.schema}.${table.name}`;
  const at = await one<{ row: Row; xmin: string }>(
    fresh,
    `select to_jsonb(t) as row, t.xmin::text as xmin from ${name} t where t.ctid = $1::tid`,
    [`(${gone.blk},${gone.off})`],
  );
  const base = { table: label, change: 'delete' as const, xid: gone.xid, committedAt };
  if (at === undefined || !(await preFork([Number(at.xmin)])).has(Number(at.xmin))) {
    // the slot held a row at the fork (the caller skips slots the old side filled after it), so the new
    // primary updated or deleted that row too
    return { ...base, conflict: 'the new primary changed or deleted this row after the fork too' };
  }
  if (table.key.length === 0) return { ...base, before: at.row, noPrimaryKey: true };
  const key = pick(at.row, table.key);
  const still = await old.query(
    `select 1 from ${name} t where (${table.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}) in (select ${table.key.map(quoteIdent).join(', ')} from jsonb_populate_recordset(null::${name}, $1::jsonb))`,
    [JSON.stringify([key])],
  );
  // deleted and inserted again on the old side: its new version is listed as an insert or update already
  if ((still.rowCount ?? 0) > 0) return undefined;
  return { ...base, key, before: at.row };
}

function summarise(rows: readonly StrandedRow[]): Record<string, StrandedTable> {
  const tables: Record<string, StrandedTable> = {};
  for (const row of rows) {
    const entry = (tables[row.table] ??= { inserted: 0, updated: 0, deleted: 0, conflicts: 0 });
    if (row.change === 'insert') entry.inserted += 1;
    else if (row.change === 'update') entry.updated += 1;
    else entry.deleted += 1;
    if (row.conflict !== undefined) entry.conflicts += 1;
    if (row.noPrimaryKey === true) entry.noPrimaryKey = true;
  }
  return tables;
}

// ---------------------------------------------------------------------------------------------- files

function literal(value: unknown): string {
  return `'${JSON.stringify(value).replace(/'/g, "''")}'`;
}

function keyMatch(table: string, key: readonly string[], image: unknown): string {
  const columns = key.map(quoteIdent).join(', ');
  return `(${columns}) = (select ${columns} from jsonb_populate_record(null::${table}, ${literal(image)}::jsonb))`;
}

/**
 * One guarded statement per row: an insert that does nothing when the key exists, an update or delete that
 * touches the row only while it is still what the new primary had when the file was made. A statement
 * that changes nothing is a conflict; postgres.reconcile reports them.
 */
export function replayStatement(row: StrandedRow, columns: readonly string[]): string | undefined {
  if (row.conflict !== undefined) return undefined;
  const table = qualifiedLabel(row.table);
  const key = Object.keys(row.key ?? {});
  if (row.change === 'insert') {
    const values = `select * from jsonb_populate_record(null::${table}, ${literal(row.after)}::jsonb)`;
    // without a key, the whole row is the key: never insert it twice
    return key.length === 0
      ? `insert into ${table} overriding system value ${values} where not exists (select 1 from ${table} t where to_jsonb(t) = ${literal(row.after)}::jsonb)`
      : `insert into ${table} overriding system value ${values} on conflict do nothing`;
  }
  const whole = `to_jsonb(t) = ${literal(row.before)}::jsonb`;
  const match =
    key.length === 0
      ? `t.ctid = (select ctid from ${table} t where ${whole} limit 1)`
      : `${keyMatch(table, key, row.before)} and ${whole}`;
  if (row.change === 'delete') return `delete from ${table} t where ${match}`;
  const names = columns.map(quoteIdent).join(', ');
  return `update ${table} t set (${names}) = (select ${names} from jsonb_populate_record(null::${table}, ${literal(row.after)}::jsonb)) where ${match}`;
}

/** The reconciliation as SQL a person reads before replaying it. */
export function reconciliationSql(
  reconciliation: Reconciliation,
  columnsOf: (table: string) => string[],
): string {
  const lines = [
    `-- drctl reconciliation: writes of component ${reconciliation.component} stranded on ${reconciliation.from}, to replay onto ${reconciliation.to}`,
    `-- captured ${reconciliation.capturedAt}; fork at ${reconciliation.forkLsn ?? '?'} (timeline ${reconciliation.oldTimeline ?? '?'} → ${reconciliation.newTimeline ?? '?'})`,
  ];
  if (reconciliation.status === 'unknown') {
    lines.push(
      `-- NOT CAPTURED: ${reconciliation.reason ?? ''}`,
      '-- what was lost is unknown; nothing to replay',
      '',
    );
    return lines.join('\n');
  }
  lines.push(
    `-- ${reconciliation.rows.length} rows in ${reconciliation.transactions ?? 0} transactions, committed ${reconciliation.firstCommitAt ?? '-'} .. ${reconciliation.lastCommitAt ?? '-'}`,
    '-- Each statement changes a row only while the new primary still holds what it held at the fork; one that',
    '-- changes nothing met a conflict. Conflicting rows are commented out: decide them by hand.',
    'begin;',
  );
  for (const row of reconciliation.rows) {
    lines.push(
      '',
      `-- ${row.table} ${row.change} ${row.key === undefined ? '(no primary key: whole row)' : JSON.stringify(row.key)}, xid ${row.xid}, committed ${row.committedAt}`,
    );
    const statement = replayStatement(row, columnsOf(row.table));
    if (statement === undefined) {
      lines.push(
        `-- CONFLICT: ${row.conflict ?? ''}`,
        `--   old primary: ${JSON.stringify(row.after ?? null)}`,
        `--   new primary: ${JSON.stringify(row.before ?? null)}`,
      );
      continue;
    }
    lines.push(`${statement};`);
  }
  lines.push('', 'commit;', '');
  return lines.join('\n');
}

/** Column names of each table in the reconciliation, from the rows it saved. */
function savedColumns(reconciliation: Reconciliation): (table: string) => string[] {
  return (table) => {
    const row = reconciliation.rows.find(
      (candidate) => candidate.table === table && (candidate.after ?? candidate.before) !== undefined,
    );
    return Object.keys(row?.after ?? row?.before ?? {});
  };
}

/** Write the reconciliation as `reconciliation.json` and `reconciliation.sql` in `dir`. */
export function writeReconciliation(
  dir: string,
  reconciliation: Reconciliation,
): { json: string; sql: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'reconciliation.json');
  const sql = join(dir, 'reconciliation.sql');
  writeFileSync(json, `${JSON.stringify(reconciliation, null, 2)}\n`);
  writeFileSync(sql, reconciliationSql(reconciliation, savedColumns(reconciliation)));
  return { json, sql };
}

/** The figures a journal, a drill report and a PIR show. */
export function strandedSummary(
  reconciliation: Reconciliation,
  files?: { json: string; sql: string },
): Record<string, unknown> {
  return {
    status: reconciliation.status,
    from: reconciliation.from,
    to: reconciliation.to,
    ...(reconciliation.reason === undefined ? {} : { reason: reconciliation.reason }),
    rows: reconciliation.status === 'captured' ? reconciliation.rows.length : null,
    transactions: reconciliation.transactions ?? null,
    conflicts: reconciliation.rows.filter((row) => row.conflict !== undefined).length,
    noPrimaryKey: reconciliation.rows.filter((row) => row.noPrimaryKey === true).length,
    tables: reconciliation.tables,
    firstCommitAt: reconciliation.firstCommitAt ?? null,
    lastCommitAt: reconciliation.lastCommitAt ?? null,
    spanMs: reconciliation.spanMs ?? null,
    warnings: reconciliation.warnings,
    ...(files === undefined ? {} : { files }),
    ...(reconciliation.timings === undefined ? {} : { timings: reconciliation.timings }),
  };
}

// ---------------------------------------------------------------------------------------------- replay

export interface ReplayOutcome {
  applied: number;
  refused: Array<{
    table: string;
    change: StrandedRow['change'];
    key?: Record<string, unknown>;
    reason: string;
    current?: unknown;
  }>;
  dryRun: boolean;
}

/**
 * Replay a reviewed reconciliation onto the new primary in one transaction. A row whose key the new
 * primary changed (or, for an insert, already holds) is refused and reported, never overwritten.
 */
export async function replayReconciliation(
  target: { subject: Subject; url: string },
  reconciliation: Reconciliation,
  options: { dryRun?: boolean } = {},
): Promise<ReplayOutcome> {
  if (reconciliation.status !== 'captured') {
    throw new DrctlError(
      'DRCTL_PG_RECONCILE_UNKNOWN',
      `the reconciliation of ${reconciliation.component} from ${reconciliation.from} holds no rows: ${reconciliation.reason ?? 'it was not captured'}`,
      { hint: 'what was stranded is unknown; recover it from a backup of the old primary, if one exists' },
    );
  }
  const outcome: ReplayOutcome = { applied: 0, refused: [], dryRun: options.dryRun === true };
  await withClient(target.subject, target.url, async (client) => {
    const columns = new Map<string, string[]>();
    const columnsOf = async (table: string): Promise<string[]> => {
      const known = columns.get(table);
      if (known !== undefined) return known;
      const result = await client.query<{ name: string }>(
        `select attname as name from pg_attribute
          where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''
          order by attnum`,
        [qualifiedLabel(table)],
      );
      const names = result.rows.map((row) => row.name);
      columns.set(table, names);
      return names;
    };
    await client.query('begin');
    try {
      for (const row of reconciliation.rows) {
        const refuse = (reason: string, current?: unknown): void => {
          outcome.refused.push({
            table: row.table,
            change: row.change,
            ...(row.key === undefined ? {} : { key: row.key }),
            reason,
            ...(current === undefined ? {} : { current }),
          });
        };
        const statement = replayStatement(row, await columnsOf(row.table));
        if (statement === undefined) {
          refuse(row.conflict ?? 'conflict');
          continue;
        }
        await client.query('savepoint drctl_row');
        const result = await client.query(statement);
        await client.query('release savepoint drctl_row');
        if ((result.rowCount ?? 0) > 0) {
          outcome.applied += 1;
          continue;
        }
        const key = Object.keys(row.key ?? {});
        const table = qualifiedLabel(row.table);
        const current =
          key.length === 0
            ? undefined
            : (
                await client.query<{ row: Row }>(
                  `select to_jsonb(t) as row from ${table} t where ${keyMatch(table, key, row.key)}`,
                )
              ).rows[0]?.row;
        refuse(
          row.change === 'insert'
            ? `the new primary already holds this ${key.length === 0 ? 'row' : 'key'}`
            : current === undefined
              ? 'the new primary no longer holds this row'
              : 'the new primary changed this row after the fork',
          current,
        );
      }
      await client.query(options.dryRun === true ? 'rollback' : 'commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
  return outcome;
}

/** `schema.table` as the file names it, quoted for SQL. */
function qualifiedLabel(table: string): string {
  const [schema = '', ...rest] = table.split('.');
  return qualified(schema, rest.join('.'));
}
