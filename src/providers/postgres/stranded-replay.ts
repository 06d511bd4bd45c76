/**
 * Replaying a reviewed reconciliation onto the new primary (`postgres.reconcile`): one transaction, one
 * guarded statement per row, and every row the new primary changed too refused and reported.
 */
import type pg from 'pg';
import { DrctlError } from '../../errors.ts';
import { withClient, type Subject } from '../../pg/client.ts';
import { replayStatement } from './stranded-files.ts';
import { keyMatch, qualifiedLabel, type Row } from './stranded-sql.ts';
import type { Reconciliation, StrandedRow } from './stranded.ts';

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

/** Column names of a table on the target, asked once per table. */
function columnsOn(client: pg.Client): (table: string) => Promise<string[]> {
  const columns = new Map<string, string[]>();
  return async (table) => {
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
}

/** Why a guarded statement changed nothing, with what the new primary holds under the row's key. */
async function refusal(client: pg.Client, row: StrandedRow): Promise<{ reason: string; current?: unknown }> {
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
  const reason =
    row.change === 'insert'
      ? `the new primary already holds this ${key.length === 0 ? 'row' : 'key'}`
      : current === undefined
        ? 'the new primary no longer holds this row'
        : 'the new primary changed this row after the fork';
  return { reason, ...(current === undefined ? {} : { current }) };
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
    const columnsOf = columnsOn(client);
    await client.query('begin');
    try {
      for (const row of reconciliation.rows) {
        const refuse = ({ reason, current }: { reason: string; current?: unknown }): void => {
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
          refuse({ reason: row.conflict ?? 'conflict' });
          continue;
        }
        await client.query('savepoint drctl_row');
        const result = await client.query(statement);
        await client.query('release savepoint drctl_row');
        if ((result.rowCount ?? 0) > 0) outcome.applied += 1;
        else refuse(await refusal(client, row));
      }
      await client.query(options.dryRun === true ? 'rollback' : 'commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
  return outcome;
}
