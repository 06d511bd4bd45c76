/**
 * Restore verifications: restore a backup somewhere harmless and prove it good (checksums, files,
 * queries, an HTTP probe of a service started on it); results are store documents readiness reads.
 * The implementation is in verification.ts.
 */
export * from './verification.ts';
