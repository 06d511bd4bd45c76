/**
 * Where drctl keeps its state. The interface (`RunStore`) is what the engine and the CLI use;
 * `openStore` picks the implementation from the `--state` value: a directory is SQLite, a
 * `postgres://` URL is PostgreSQL (several instances, see postgres/ARCHITECTURE.md).
 */
import { UsageError } from '../errors.ts';
import type { PostgresStoreOptions } from './postgres/index.ts';
import { SqliteStore } from './sqlite/index.ts';
import type { SqliteStoreOptions } from './sqlite/index.ts';
import type { RunStore } from './store.ts';
import { isPostgresUrl, looksLikeUrl } from './url.ts';

export type * from './store.ts';
export { FINAL_RUN_STATUSES } from './store.ts';
export { verifyChain, verifyEvents, canonicalJson, GENESIS_HASH } from './chain.ts';
export type { ChainReport, ChainProblem } from './chain.ts';
export { SqliteStore, STATE_DB_FILE } from './sqlite/index.ts';
export type { SqliteStoreOptions } from './sqlite/index.ts';

export { DEFAULT_STATE_DIR } from './state-dir.ts';

// the PostgreSQL store (and pg) loads only when a URL names it: import PostgresStore from ./postgres/index.ts
export { isPostgresUrl, looksLikeUrl } from './url.ts';
export type { PostgresStoreOptions } from './postgres/index.ts';

/** The stores `--state` can name, for messages. */
export const SUPPORTED_STORES = 'a directory (SQLite) or a postgres:// URL (PostgreSQL)';

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  postgres?: PostgresStoreOptions;
}

/**
 * Opens the state store `state` names, creating and migrating it when needed: a `postgres://` (or
 * `postgresql://`) URL opens the PostgreSQL store, any other URL is refused (DRCTL_STORE_UNSUPPORTED),
 * anything else is a SQLite state directory.
 */
export async function openStore(state: string, options: OpenStoreOptions = {}): Promise<RunStore> {
  if (isPostgresUrl(state)) {
    const { PostgresStore } = await import('./postgres/index.ts');
    return PostgresStore.open(state, options.postgres);
  }
  if (looksLikeUrl(state)) {
    throw new UsageError(
      'DRCTL_STORE_UNSUPPORTED',
      `--state ${state.replace(/\/\/[^@/]*@/, '//***@')} names a store drctl does not have`,
      {
        hint: `--state takes ${SUPPORTED_STORES}`,
      },
    );
  }
  return SqliteStore.open(state, options.sqlite);
}
