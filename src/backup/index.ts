/**
 * drctl's backup repository: the on-disk format the files and SQLite providers write (content-defined
 * chunks, optional compression, crash-safe publication), its retention rule, and how a backup action's
 * parameters resolve to a component, a placement and a repository.
 */
export * from './repository.ts';
export * from './manifest.ts';
export * from './retention.ts';
export * from './errors.ts';
export * from './resolve.ts';
export { COMPRESSIONS, type Compression } from './chunks.ts';
