/**
 * The reconciliation files a rebuild writes beside its run: `reconciliation.json` (what `postgres.reconcile`
 * replays) and `reconciliation.sql` (what a person reads first), and the figures the journal shows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyMatch, literal, qualifiedLabel, quoteIdent } from './stranded-sql.ts';
import type { Reconciliation, StrandedRow, StrandedTable } from './stranded.ts';

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

/** Rows per table and change, for the file and the journal. */
export function summarise(rows: readonly StrandedRow[]): Record<string, StrandedTable> {
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
