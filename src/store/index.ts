/**
 * Where drctl keeps its state. The interface (`RunStore`) is what the engine and the CLI use;
 * `openStore` picks the implementation (SQLite in the state directory today).
 */
import { SqliteStore } from './sqlite/index.ts';
import type { SqliteStoreOptions } from './sqlite/index.ts';
import type { RunStore } from './store.ts';

export type * from './store.ts';
export { FINAL_RUN_STATUSES } from './store.ts';
export { verifyChain, verifyEvents, canonicalJson, GENESIS_HASH } from './chain.ts';
export type { ChainReport, ChainProblem } from './chain.ts';
export { SqliteStore, STATE_DB_FILE } from './sqlite/index.ts';
export type { SqliteStoreOptions } from './sqlite/index.ts';

export { DEFAULT_STATE_DIR } from './state-dir.ts';

/** Opens the state store in `stateDir`, creating it and migrating its schema when needed. */
export function openStore(stateDir: string, options: SqliteStoreOptions = {}): RunStore {
  return SqliteStore.open(stateDir, options);
}
