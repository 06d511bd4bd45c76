/**
 * A backup location's files where they are: on this machine, or on the database's host (the placement's
 * `host:`), where pg_basebackup runs with the host's programs and the archiver ships WAL into the same
 * location. Base backups and point-in-time restores are written once against `BackupFiles`.
 *
 * Layout: `<location>/base/<id>/` (a finished backup holds `drctl-backup.json`; a `.partial` one never
 * counts) and `<location>/wal/` (archived WAL segments).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runChecked, shellQuote } from '../../exec/index.ts';
import { chownToServer, runAsServer, runPgTool, type PgBinaries } from '../../pg/binaries.ts';
import { hostTool, type HostPrograms, type ServerFiles } from './server-files.ts';

/** What drctl writes beside a finished base backup. A backup without it is incomplete and never used. */
export const BACKUP_RECORD = 'drctl-backup.json';

export interface BackupFiles {
  /** For messages: `this machine` or `host db-east (198.18.0.3)`. */
  readonly where: string;
  /** Create the directories, owned and writable by the server's OS user; rejects when they are not. */
  prepare(dirs: readonly string[]): Promise<void>;
  /** Run one of the server's programs (pg_basebackup, pg_verifybackup) to completion. */
  tool: ServerFiles['tool'];
  /** The text of a finished copy's backup_label and the bytes of its files. */
  inspect(dir: string): Promise<{ label: string; bytes: number }>;
  /** Write the record into the copy, then rename it to its final name: only now does it count. */
  seal(partial: string, final: string, record: string): Promise<void>;
  remove(dir: string): Promise<void>;
  /** The records of the finished backups under `baseDir`, with their directories; unreadable ones skipped. */
  records(baseDir: string): Promise<Array<{ path: string; text: string }>>;
}

export function localBackupFiles(binaries: PgBinaries): BackupFiles {
  return {
    where: 'this machine',
    async prepare(dirs) {
      for (const dir of dirs) {
        mkdirSync(dir, { recursive: true });
        chownToServer(dir);
      }
      await runAsServer('/bin/sh', ['-c', 'for d; do test -w "$d" || exit 1; done', 'sh', ...dirs]);
    },
    tool: (program, args, options) => runPgTool(binaries, program, args, options),
    inspect: async (dir) => ({
      label: readFileSync(join(dir, 'backup_label'), 'utf8'),
      bytes: dirBytes(dir),
    }),
    async seal(partial, final, record) {
      writeFileSync(join(partial, BACKUP_RECORD), record);
      renameSync(partial, final);
    },
    remove: async (dir) => rmSync(dir, { recursive: true, force: true }),
    records: async (baseDir) => localRecords(baseDir),
  };
}

/** `BackupFiles.records` on this machine, at once. */
export function localRecords(baseDir: string): Array<{ path: string; text: string }> {
  if (!existsSync(baseDir)) return [];
  const found: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(baseDir)) {
    const file = join(baseDir, name, BACKUP_RECORD);
    if (!name.endsWith('.partial') && existsSync(file))
      found.push({ path: join(baseDir, name), text: readFileSync(file, 'utf8') });
  }
  return found;
}

/** The location on a host, through its executor; its login user is the server's OS user. */
export function hostBackupFiles(host: HostPrograms): BackupFiles {
  const { executor } = host;
  const run = (script: string, what: string) =>
    runChecked(executor, script, { what: `${what} on ${executor.where}` });
  return {
    where: executor.where,
    async prepare(dirs) {
      const quoted = dirs.map(shellQuote).join(' ');
      await run(`mkdir -p ${quoted} && for d in ${quoted}; do test -w "$d" || exit 1; done`, 'preparing');
    },
    tool: (program, args, options) => hostTool(host, program, args, options),
    async inspect(dir) {
      const P = shellQuote(dir);
      // the label's text, then the bytes of every file under the copy
      const result = await run(
        `cat ${P}/backup_label && echo && find ${P} -type f -printf '%s\\n' | awk '{ s += $1 } END { print "bytes " s + 0 }'`,
        `reading the backup in ${dir}`,
      );
      const bytes = Number(/^bytes (\d+)$/m.exec(result.stdout)?.[1] ?? 0);
      return { label: result.stdout, bytes };
    },
    async seal(partial, final, record) {
      await run(
        `printf '%s' ${shellQuote(record)} > ${shellQuote(join(partial, BACKUP_RECORD))} && mv ${shellQuote(partial)} ${shellQuote(final)}`,
        `finishing the backup in ${final}`,
      );
    },
    async remove(dir) {
      await run(`rm -rf ${shellQuote(dir)}`, `removing ${dir}`);
    },
    async records(baseDir) {
      // one line per finished backup: its directory, a tab, its record on one line
      const result = await run(
        `for f in ${shellQuote(baseDir)}/*/${BACKUP_RECORD}; do [ -f "$f" ] || continue; d=$(dirname "$f"); case "$d" in *.partial) continue;; esac; printf '%s\\t' "$d"; tr -d '\\n' < "$f"; echo; done`,
        `listing the backups in ${baseDir}`,
      );
      return result.stdout
        .split('\n')
        .filter((line) => line.includes('\t'))
        .map((line) => ({
          path: line.slice(0, line.indexOf('\t')),
          text: line.slice(line.indexOf('\t') + 1),
        }));
    },
  };
}

function dirBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += dirBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}
