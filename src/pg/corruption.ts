/**
 * Data corruption on purpose, for drills: delete or overwrite N rows of a table in one transaction, and
 * journal that transaction (its xid, the moment before it began, the rows it hit) so a restore can stop
 * just before it. Shared by the postgres provider (the fault, PITR, a delayed standby) and pgBackRest
 * (its restore to before the transaction). See docs/data-integrity.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DrctlError } from '../errors.ts';
import { describe, one, withClient, type Subject } from './client.ts';

/** What a corruption fault did, as journaled: enough to restore to just before it. */
export interface CorruptionRecord {
  component: string;
  site: string;
  table: string;
  change: 'delete' | 'overwrite';
  /** Rows the bad transaction changed. */
  rows: number;
  /** Top-level xid of the bad transaction: restores stop before it (recovery_target_xid, exclusive). */
  xid: string;
  /** The server's clock just before the bad transaction began; backups must end before it. */
  before: string;
  /** When it committed (the server's clock, after the commit returned). */
  committedAt: string;
  /** Primary keys (or ctids without one) of the rows it hit, at most 1000. */
  keys: unknown[];
}

export interface CorruptOptions {
  table: string;
  rows: number;
  change: 'delete' | 'overwrite';
  /** For overwrite: the SET list, e.g. `note = 'garbage'`. @default every text column set to 'corrupted' */
  set?: string;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` or `table`, quoted. */
function tableName(table: string): string {
  return table.split('.').map(quoteIdent).join('.');
}

/** Delete or overwrite `rows` rows of a table in one transaction on the primary at `target`. */
export async function corruptRows(
  target: { subject: Subject; url: string },
  options: CorruptOptions,
): Promise<CorruptionRecord> {
  const table = tableName(options.table);
  return withClient(target.subject, target.url, async (client) => {
    const key = await client.query<{ name: string }>(
      `select a.attname::text as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`,
      [table],
    );
    const keyList =
      key.rows.length === 0 ? 'ctid::text' : key.rows.map((row) => `t.${quoteIdent(row.name)}`).join(', ');
    let set = options.set;
    if (options.change === 'overwrite' && set === undefined) {
      const texts = await client.query<{ name: string }>(
        `select attname::text as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped
            and atttypid in ('text'::regtype, 'varchar'::regtype) and attname <> all($2::text[])`,
        [table, key.rows.map((row) => row.name)],
      );
      if (texts.rows.length === 0) {
        throw new DrctlError(
          'DRCTL_DRILL_CORRUPT_HOW',
          `table ${options.table} has no text column to overwrite`,
          {
            hint: 'give the fault a set: list, e.g. set: "amount = -1"',
          },
        );
      }
      set = texts.rows.map((row) => `${quoteIdent(row.name)} = 'corrupted'`).join(', ');
    }
    const before = await one<{ at: string }>(client, 'select clock_timestamp()::text as at');
    await client.query('begin');
    try {
      const xid = await one<{ xid: string }>(client, 'select pg_current_xact_id()::text as xid');
      const picked = `select ctid from ${table} order by ctid limit ${Math.max(0, Math.floor(options.rows))}`;
      const result =
        options.change === 'delete'
          ? await client.query<{ key: unknown }>(
              `delete from ${table} t where ctid in (${picked}) returning json_build_array(${keyList}) as key`,
            )
          : await client.query<{ key: unknown }>(
              `update ${table} t set ${set ?? ''} where ctid in (${picked}) returning json_build_array(${keyList}) as key`,
            );
      await client.query('commit');
      const committed = await one<{ at: string }>(client, 'select clock_timestamp()::text as at');
      return {
        component: target.subject.component,
        site: target.subject.site,
        table: options.table,
        change: options.change,
        rows: result.rowCount ?? 0,
        // pg_current_xact_id() is a full 64-bit id; recovery_target_xid takes the 32-bit xid
        xid: String(BigInt(xid?.xid ?? '0') & 0xffffffffn),
        before: new Date(before?.at ?? Date.now()).toISOString(),
        committedAt: new Date(committed?.at ?? Date.now()).toISOString(),
        keys: result.rows.slice(0, 1000).map((row) => row.key),
      };
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}

function recordFile(stateDir: string, component: string): string {
  return join(stateDir, 'faults', `corruption-${component}.json`);
}

/** Journal a corruption fault where a later restore step finds it. */
export function saveCorruption(stateDir: string, record: CorruptionRecord): string {
  const file = recordFile(stateDir, record.component);
  mkdirSync(join(stateDir, 'faults'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

/** The last corruption journaled for a component: what a `before: last-corruption` restore stops before. */
export function lastCorruption(stateDir: string, component: string): CorruptionRecord {
  const file = recordFile(stateDir, component);
  if (!existsSync(file)) {
    throw new DrctlError(
      'DRCTL_PG_NO_CORRUPTION_RECORD',
      `no corruption of component ${component} is journaled in the state directory, so there is no "before" to restore to`,
      { hint: 'give the restore a target_time (or xid) instead, read from the audit log or the WAL' },
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as CorruptionRecord;
}

export function describeCorruption(record: CorruptionRecord): string {
  return `${record.change} of ${record.rows} rows of ${record.table} on ${describe(record)} (xid ${record.xid}, ${record.committedAt})`;
}
