/** What a `--state` value names, told from its text alone (no store module loaded). */

/** True for a `--state` value that names a store by URL rather than a directory. */
export function looksLikeUrl(state: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(state);
}

export function isPostgresUrl(state: string): boolean {
  return /^postgres(ql)?:\/\//i.test(state);
}
