/**
 * What drctl knows of a component kind from the words of the plan alone: whether its components hold
 * data even when the plan says nothing of copies (analysis reads it), and which row of seed 004's backup
 * retention table its backups follow by default (`RETENTION_DEFAULTS` in defaults.ts). One table, so the
 * compiler, the backup actions and analysis cannot disagree about a kind; it names the providers' kinds
 * and the plan's generic words alike (a `storage` or `key-vault` component no provider serves).
 *
 * A kind not listed holds data only when the plan gives it replication, backups or references, and its
 * backups keep the databases row (docs/plan.md says so).
 */
export type RetentionClass = 'databases' | 'file-shares' | 'vms' | 'logs';

export interface KindFacts {
  /** Its components hold data (analysis asks for copies of them). */
  holdsData: boolean;
  /** Seed 004's row its backups keep by default. */
  retention?: RetentionClass;
}

export const KIND_FACTS: Readonly<Record<string, KindFacts>> = {
  postgres: { holdsData: true, retention: 'databases' },
  postgresql: { holdsData: true, retention: 'databases' },
  mysql: { holdsData: true, retention: 'databases' },
  sqlite: { holdsData: true, retention: 'databases' },
  database: { holdsData: true, retention: 'databases' },
  files: { holdsData: true, retention: 'file-shares' },
  'file-share': { holdsData: false, retention: 'file-shares' },
  directory: { holdsData: false, retention: 'file-shares' },
  storage: { holdsData: true, retention: 'file-shares' },
  blob: { holdsData: true, retention: 'file-shares' },
  'object-storage': { holdsData: true },
  'key-vault': { holdsData: true },
  vm: { holdsData: false, retention: 'vms' },
  // a program's state is kept like a machine's, not like business data
  process: { holdsData: false, retention: 'vms' },
  'virtual-machine': { holdsData: false, retention: 'vms' },
  logs: { holdsData: false, retention: 'logs' },
  log: { holdsData: false, retention: 'logs' },
};

/** The facts of a kind (own keys only: a kind named `constructor` is not a kind the table knows). */
export function kindFacts(kind: string): KindFacts | undefined {
  return Object.hasOwn(KIND_FACTS, kind) ? KIND_FACTS[kind] : undefined;
}
