/**
 * Reading what a repository says about itself, wherever it is: a manifest's text checked against its
 * checksum and format, and the repository's format (repository.json). Shared by the repository on this
 * machine and the one on a host, so both refuse and report the same things the same way.
 */
import { randomBytes } from 'node:crypto';
import { DrctlError } from '../errors.ts';
import { BACKUP_ERRORS, describe } from './errors.ts';
import type { Subject } from './errors.ts';
import { sha256Of } from './io.ts';
import { CHUNKED_FORMAT, LEGACY_FORMAT, MANIFEST_FORMAT } from './manifest.ts';
import type { Manifest, RestoreResult } from './manifest.ts';

/** Whose repository, where: what errors about it name. */
export interface RepositoryPlace {
  subject: Subject;
  /** The repository's path, with its host when it is on one. */
  where: string;
}

export function formatUnsupported(place: RepositoryPlace, why: string, cause?: unknown): DrctlError {
  return new DrctlError(
    BACKUP_ERRORS.FORMAT_UNSUPPORTED,
    `${describe(place.subject)}: the backup repository ${place.where} is not one this drctl reads: ${why}; it reads formats ${LEGACY_FORMAT} to ${MANIFEST_FORMAT}`,
    {
      hint: 'Use the drctl version that wrote it (or a newer one). Nothing in the repository was changed.',
      details: { repository: place.where, supported: [LEGACY_FORMAT, MANIFEST_FORMAT] },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Refuse a repository.json of a format this drctl does not read; undefined text: no file (format 1 or new). */
export function repositoryFormat(place: RepositoryPlace, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let format: unknown;
  try {
    format = (JSON.parse(text) as { format?: unknown }).format;
  } catch (error) {
    throw formatUnsupported(place, 'its repository.json cannot be read', error);
  }
  if (format !== undefined && format !== CHUNKED_FORMAT && format !== MANIFEST_FORMAT)
    throw formatUnsupported(place, `it is of format ${String(format)}`);
  return format as number | undefined;
}

/** A backup's manifest from its text: DRCTL_BACKUP_MANIFEST_INVALID when damaged. */
export function parseManifest(place: RepositoryPlace, id: string, text: string): Manifest {
  const invalid = (why: string, cause?: unknown): DrctlError =>
    new DrctlError(
      BACKUP_ERRORS.MANIFEST_INVALID,
      `${describe(place.subject)}: manifest of backup "${id}" is damaged: ${why}`,
      {
        hint: 'Do not restore from this backup; restore an older one and take a fresh backup. Run files.verify on the others.',
        details: { repository: place.where, backup: id, file: `backups/${id}/manifest.json` },
        ...(cause === undefined ? {} : { cause }),
      },
    );
  let parsed: Manifest;
  try {
    parsed = JSON.parse(text) as Manifest;
  } catch (error) {
    throw invalid('not valid JSON', error);
  }
  const { checksum, ...rest } = parsed;
  if (typeof checksum !== 'string' || sha256Of(JSON.stringify(rest)) !== checksum)
    throw invalid('checksum mismatch');
  if (typeof parsed.format === 'number' && parsed.format > MANIFEST_FORMAT)
    throw formatUnsupported(place, `backup "${id}" is of format ${parsed.format}`);
  if (![MANIFEST_FORMAT, CHUNKED_FORMAT, LEGACY_FORMAT].includes(parsed.format))
    throw invalid(`unknown format ${String(parsed.format)}`);
  return parsed;
}

export function noBackup(place: RepositoryPlace, id: string | undefined, cause?: unknown): DrctlError {
  return id === undefined
    ? new DrctlError(BACKUP_ERRORS.NOT_FOUND, `${describe(place.subject)}: no backup in ${place.where}`, {
        hint: 'Take a backup first (files.backup or sqlite.backup), or check the backup policy path.',
        details: { repository: place.where },
      })
    : new DrctlError(
        BACKUP_ERRORS.NOT_FOUND,
        `${describe(place.subject)}: no backup "${id}" in ${place.where}`,
        {
          hint: 'List the backups with files.list (or sqlite.list) and pass one of their ids, or omit the id for the newest.',
          details: { repository: place.where, backup: id },
          ...(cause === undefined ? {} : { cause }),
        },
      );
}

/** Backups newest last, by start time then id: the order `list` answers in, here or on a host. */
export function byStart(a: Manifest, b: Manifest): number {
  return a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id);
}

/** What a restore reports. */
export function restoreResult(
  manifest: Manifest,
  target: string,
  alreadyRestored: boolean,
  replaced: boolean,
): RestoreResult {
  return {
    backup: manifest.id,
    target,
    files: manifest.entries.length,
    bytes: manifest.stats.bytes,
    alreadyRestored,
    replaced,
    dataAsOf: manifest.startedAt,
  };
}

/** A new backup's id: when it started, and a few random bytes. */
export function backupId(time: Date): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}
