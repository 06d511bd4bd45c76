/**
 * Reading the stranded rows: on the read-only copy of the former primary, the rows whose xmin is a stranded
 * transaction (inserted or updated after the fork); on the new primary, the before image of every row the
 * old side deleted (still at the same place, by ctid) and whether the new primary changed the same row too.
 */
import type pg from 'pg';
import { one, withClient, type Subject } from '../../pg/client.ts';
import { qualified, quoteIdent, type Row } from './stranded-sql.ts';
import type { StrandedDelete, WalChanges } from './stranded-wal.ts';
import type { StrandedRow } from './stranded.ts';

const SKIP_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')";

interface TableInfo {
  schema: string;
  name: string;
  node: number;
  key: string[];
}

/** Which xids committed before the fork. */
type PreFork = (xids: readonly number[]) => Promise<Set<number>>;

/** The transactions committed after the fork, as pg_waldump found them. */
export interface StrandedCommits {
  committedAt: ReadonlyMap<number, string>;
  /** Every stranded xid (subtransactions too) → its top-level xid. */
  topOf: ReadonlyMap<number, number>;
}

function pick(row: Row, columns: readonly string[]): Row {
  return Object.fromEntries(columns.map((column) => [column, row[column]]));
}

function keyText(key: Row): string {
  return JSON.stringify(key);
}

function keyIn(table: TableInfo, name: string): string {
  return `(${table.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}) in (select ${table.key.map(quoteIdent).join(', ')} from jsonb_populate_recordset(null::${name}, $1::jsonb))`;
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
function preForkOracle(old: pg.Client, stranded: ReadonlySet<number>, nextXid: bigint): PreFork {
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

/** Rows of one table inserted or updated by stranded transactions, each against the new primary's row. */
async function tableChanges(
  table: TableInfo,
  old: pg.Client,
  fresh: pg.Client,
  commits: StrandedCommits,
  preFork: PreFork,
): Promise<StrandedRow[]> {
  const name = qualified(table.schema, table.name);
  const label = `${table.schema}.${table.name}`;
  const changed = await old.query<{ row: Row; xmin: string }>(
    `select to_jsonb(t) as row, t.xmin::text as xmin from ${name} t where t.xmin::text::bigint = any($1::bigint[])`,
    [[...commits.topOf.keys()]],
  );
  const out: StrandedRow[] = [];
  if (changed.rows.length === 0) return out;
  const meta = (xmin: string): { xid: number; committedAt: string } => {
    const xid = commits.topOf.get(Number(xmin)) ?? Number(xmin);
    return { xid, committedAt: commits.committedAt.get(xid) ?? '' };
  };
  if (table.key.length === 0) {
    for (const { row, xmin } of changed.rows) {
      out.push({ table: label, change: 'insert', after: row, ...meta(xmin), noPrimaryKey: true });
    }
    return out;
  }
  const keys = changed.rows.map(({ row }) => pick(row, table.key));
  const current = await fresh.query<{ row: Row; xmin: string }>(
    `select to_jsonb(t) as row, t.xmin::text as xmin from ${name} t where ${keyIn(table, name)}`,
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
  gone: StrandedDelete,
  old: pg.Client,
  fresh: pg.Client,
  preFork: PreFork,
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
  const still = await old.query(`select 1 from ${name} t where ${keyIn(table, name)}`, [
    JSON.stringify([key]),
  ]);
  // deleted and inserted again on the old side: its new version is listed as an insert or update already
  if ((still.rowCount ?? 0) > 0) return undefined;
  return { ...base, key, before: at.row };
}

/**
 * Every row the stranded transactions inserted, updated or deleted, read from the copy (`old`) and the new
 * primary (`fresh`), in commit order; warnings name relations written after the fork that are not tables.
 */
export async function readStrandedRows(
  old: { subject: Subject; url: string },
  fresh: { subject: Subject; url: string },
  changes: WalChanges,
  commits: StrandedCommits,
  nextXid: bigint,
): Promise<{ rows: StrandedRow[]; warnings: string[] }> {
  const rows: StrandedRow[] = [];
  const warnings: string[] = [];
  await withClient(old.subject, old.url, (oldClient) =>
    withClient(fresh.subject, fresh.url, async (freshClient) => {
      const tables = await userTables(oldClient, [...changes.touched.keys()]);
      const preFork = preForkOracle(oldClient, new Set(commits.topOf.keys()), nextXid);
      for (const table of tables)
        rows.push(...(await tableChanges(table, oldClient, freshClient, commits, preFork)));
      const byNode = new Map(tables.map((table) => [table.node, table]));
      for (const gone of changes.deletes) {
        const table = byNode.get(gone.node);
        if (table === undefined) continue; // a TOAST table or a catalog
        const committedAt = commits.committedAt.get(gone.xid) ?? '';
        const row = await deletedRow(table, gone, oldClient, freshClient, preFork, committedAt);
        if (row !== undefined) rows.push(row);
      }
      for (const node of changes.touched.keys()) {
        if (!byNode.has(node) && !(await isInternal(oldClient, node))) {
          warnings.push(
            `relation with filenode ${node} was written after the fork but is not a table drctl can read`,
          );
        }
      }
    }),
  );
  rows.sort((a, b) => a.committedAt.localeCompare(b.committedAt) || a.xid - b.xid);
  return { rows, warnings };
}
