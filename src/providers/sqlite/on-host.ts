/**
 * SQLite databases on a host of the plan, through the host's own `sqlite3` command-line shell: a
 * consistent copy made there with `.backup` (the same online backup API the local path uses) and checked
 * with `PRAGMA integrity_check` before it is streamed to the repository, and the same facts read from a
 * database restored there.
 */
import { basename } from 'node:path';
import { DrctlError } from '../../errors.ts';
import { runChecked, shellQuote } from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import { BACKUP_ERRORS, describe } from '../../backup/errors.ts';
import type { Subject } from '../../backup/errors.ts';
import type { Manifest } from '../../backup/manifest.ts';
import type { ResolvedTarget } from '../../backup/resolve.ts';
import { integrityError } from './facts.ts';
import type { DatabaseFacts } from './facts.ts';

/** One row of facts about a database, as the sqlite3 shell's JSON output mode prints it. */
const FACTS_SQL = `select
  (select group_concat(integrity_check, char(10)) from pragma_integrity_check) as integrity,
  (select page_size from pragma_page_size) as pageSize,
  (select page_count from pragma_page_count) as pageCount,
  (select json_group_array(name) from (select name from sqlite_master
     where type = 'table' and name not like 'sqlite_%' order by name)) as tables`;

function sqlName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function firstRow(out: string): Record<string, unknown> {
  const rows = JSON.parse(out.trim() === '' ? '[]' : out) as Record<string, unknown>[];
  return rows[0] ?? {};
}

/** Integrity, page size and count, and each table's row count, of a database file on a host. */
export async function hostFacts(executor: Executor, path: string): Promise<DatabaseFacts> {
  const sqlite = (sql: string): Promise<string> =>
    runChecked(executor, `sqlite3 -bail -json ${shellQuote(path)} ${shellQuote(sql)}`, {
      what: `sqlite3 on ${path}`,
    }).then((result) => result.stdout);
  const row = firstRow(await sqlite(FACTS_SQL));
  const names = JSON.parse(String(row.tables ?? '[]')) as string[];
  const tables: Record<string, number> = {};
  if (names.length > 0) {
    const counts = JSON.parse(
      await sqlite(
        names
          .map((name) => `select ${shellSafe(name)} as name, count(*) as n from ${sqlName(name)}`)
          .join(' union all '),
      ),
    ) as { name: string; n: number }[];
    for (const { name, n } of counts) tables[name] = n;
  }
  return {
    integrity: String(row.integrity ?? '').split('\n'),
    pageSize: Number(row.pageSize),
    pageCount: Number(row.pageCount),
    tables,
  };
}

/** A string literal for SQL. */
function shellSafe(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Back up a live database on the data's host: a consistent copy beside nothing of the application's (a
 * fresh temporary directory there), checked, then backed up as a directory holding that one file, and
 * removed. The manifest names the database, not the copy.
 */
export async function backupOnHost(
  target: ResolvedTarget,
  source: string,
  subject: Subject,
  options: { compression: 'auto' | 'max' | 'off'; signal: AbortSignal; kind: string },
): Promise<Manifest> {
  const host = target.data;
  const name = shellQuote(basename(source));
  const made = await runChecked(
    host,
    [
      `[ -f ${shellQuote(source)} ] || { echo missing; exit 0; }`,
      'd=$(mktemp -d) || exit 1',
      `sqlite3 -bail ${shellQuote(source)} ".backup '$d/copy'" && mv "$d/copy" "$d"/${name} && echo "$d"`,
    ].join('\n'),
    { what: `copying ${source} with sqlite3 .backup`, signal: options.signal },
  );
  const dir = made.stdout.trim();
  if (dir === 'missing')
    throw new DrctlError(
      BACKUP_ERRORS.SOURCE_MISSING,
      `${describe(subject)}: database ${source} does not exist on ${host.where}`,
      {
        hint: "Check the component's placement path and host at that site, or pass source explicitly.",
        details: { source, host: host.host?.name },
      },
    );
  try {
    const facts = await hostFacts(host, `${dir}/${basename(source)}`);
    if (facts.integrity.join() !== 'ok') throw integrityError(subject, `the backup copy of ${source}`, facts);
    return await target.repository.backupDirectory(dir, {
      kind: options.kind,
      site: target.site,
      compression: options.compression,
      signal: options.signal,
      from: host,
      sourceName: source,
      meta: { integrity: 'ok', pageSize: facts.pageSize, pageCount: facts.pageCount, tables: facts.tables },
    });
  } finally {
    await host.run(`rm -rf ${shellQuote(dir)}`).catch(() => undefined);
  }
}
