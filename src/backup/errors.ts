/**
 * Error codes of the backup core shared by the files and SQLite providers, and the one place that turns
 * a file-system error on a backup location into an error a person can act on.
 */
import { DrctlError } from '../errors.ts';

export const BACKUP_ERRORS = {
  COMPONENT_UNKNOWN: 'DRCTL_BACKUP_COMPONENT_UNKNOWN',
  PLACEMENT_MISSING: 'DRCTL_BACKUP_PLACEMENT_MISSING',
  LOCATION_MISSING: 'DRCTL_BACKUP_LOCATION_MISSING',
  SOURCE_MISSING: 'DRCTL_BACKUP_SOURCE_MISSING',
  TARGET_FULL: 'DRCTL_BACKUP_TARGET_FULL',
  TARGET_READ_ONLY: 'DRCTL_BACKUP_TARGET_READ_ONLY',
  TARGET_UNUSABLE: 'DRCTL_BACKUP_TARGET_UNUSABLE',
  LOCKED: 'DRCTL_BACKUP_LOCKED',
  NOT_FOUND: 'DRCTL_BACKUP_NOT_FOUND',
  MANIFEST_INVALID: 'DRCTL_BACKUP_MANIFEST_INVALID',
  VERIFY_FAILED: 'DRCTL_BACKUP_VERIFY_FAILED',
  RESTORE_TARGET_NOT_EMPTY: 'DRCTL_BACKUP_RESTORE_TARGET_NOT_EMPTY',
  CANCELLED: 'DRCTL_BACKUP_CANCELLED',
  FORMAT_UNSUPPORTED: 'DRCTL_BACKUP_FORMAT_UNSUPPORTED',
} as const;

/** Who an error is about: people act on "component docs at site west", not on a path alone. */
export interface Subject {
  component: string;
  site: string;
}

export function describe(subject: Subject): string {
  return `component "${subject.component}" at site "${subject.site}"`;
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

export function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = errnoOf(error);
  return code !== undefined && codes.includes(code);
}

/**
 * Classify a failed write to a backup location or restore target. Anything that is not a known
 * "full", "read-only" or "not a directory" condition is rethrown unchanged: guessing would hide the cause.
 */
export function locationError(error: unknown, subject: Subject, path: string, doing: string): unknown {
  if (error instanceof DrctlError) return error;
  const code = errnoOf(error);
  const where = `${describe(subject)}: cannot ${doing} ${path}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DrctlError(BACKUP_ERRORS.TARGET_FULL, `${where}: no space left (${code})`, {
      hint: 'Free space at the backup location, prune old backups (files.prune), or point the backup policy at a larger volume. Nothing partial was kept as a backup.',
      details: { path, errno: code },
      cause: error,
    });
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new DrctlError(
      BACKUP_ERRORS.TARGET_READ_ONLY,
      `${where}: the location is read-only or not writable (${code})`,
      {
        hint: 'Remount the location read-write or grant drctl write access, or choose another path in the backup policy.',
        details: { path, errno: code },
        cause: error,
      },
    );
  }
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
    return new DrctlError(
      BACKUP_ERRORS.TARGET_UNUSABLE,
      `${where}: a path component is not a directory (${code})`,
      {
        hint: 'Check the path: part of it is an existing file. Point the backup policy or the action at a directory.',
        details: { path, errno: code },
        cause: error,
      },
    );
  }
  return error;
}

export function cancelled(subject: Subject, doing: string): DrctlError {
  return new DrctlError(BACKUP_ERRORS.CANCELLED, `${describe(subject)}: ${doing} was cancelled`, {
    hint: 'Run the step again; an interrupted backup or restore leaves nothing that looks complete.',
  });
}

export function targetNotEmpty(subject: Subject, target: string): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.RESTORE_TARGET_NOT_EMPTY,
    `${describe(subject)}: restore target ${target} already holds data`,
    {
      hint: 'Restore to an empty or new path, or pass force: true to replace what is there (it is moved aside and removed only after the restore completes).',
      details: { target },
    },
  );
}

export function sourceMissing(
  subject: Subject,
  source: string,
  cause: unknown,
  why = 'does not exist or cannot be read',
): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.SOURCE_MISSING,
    `${describe(subject)}: backup source ${source} ${why}`,
    {
      hint: "Check the component's placement path at that site, or pass source explicitly.",
      details: { source },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export function verifyFailed(
  subject: Subject,
  repository: string,
  path: string,
  why: string,
  cause?: unknown,
): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.VERIFY_FAILED,
    `${describe(subject)}: backup file ${path} is damaged: ${why}`,
    {
      hint: 'Do not trust this backup: restore an older one that verifies, take a new backup, and check the storage at the backup site.',
      details: { repository, file: path },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}
