/** SQL text shared by reading stranded rows, writing them to a file and replaying them. */

export type Row = Record<string, unknown>;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** `schema.table` as the reconciliation file names it, quoted for SQL. */
export function qualifiedLabel(table: string): string {
  const [schema = '', ...rest] = table.split('.');
  return qualified(schema, rest.join('.'));
}

export function literal(value: unknown): string {
  return `'${JSON.stringify(value).replace(/'/g, "''")}'`;
}

/** The row of `table` whose key columns equal those of `image` (a row as JSON). */
export function keyMatch(table: string, key: readonly string[], image: unknown): string {
  const columns = key.map(quoteIdent).join(', ');
  return `(${columns}) = (select ${columns} from jsonb_populate_record(null::${table}, ${literal(image)}::jsonb))`;
}
