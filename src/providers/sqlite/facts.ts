/** What the SQLite provider finds out about a database file, here or on a host, and its error codes. */
import { DrctlError } from '../../errors.ts';
import { describe } from '../../backup/errors.ts';
import type { Subject } from '../../backup/errors.ts';

export const SQLITE_ERRORS = {
  OPEN_FAILED: 'DRCTL_SQLITE_OPEN_FAILED',
  INTEGRITY_FAILED: 'DRCTL_SQLITE_INTEGRITY_FAILED',
  VALIDATION_FAILED: 'DRCTL_SQLITE_VALIDATION_FAILED',
  QUERY_FAILED: 'DRCTL_SQLITE_QUERY_FAILED',
} as const;

export interface DatabaseFacts {
  integrity: string[];
  pageSize: number;
  pageCount: number;
  tables: Record<string, number>;
}

export function integrityError(subject: Subject, what: string, facts: DatabaseFacts): DrctlError {
  return new DrctlError(
    SQLITE_ERRORS.INTEGRITY_FAILED,
    `${describe(subject)}: ${what} fails PRAGMA integrity_check: ${facts.integrity.slice(0, 3).join('; ')}`,
    {
      hint: 'Do not use this copy. Restore an older backup that verifies, or repair the source (.recover in the sqlite3 shell) and back it up again.',
      details: { integrity: facts.integrity.slice(0, 20) },
    },
  );
}
