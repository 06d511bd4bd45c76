/**
 * Schema migrations of the SQLite store, in order. The database's `user_version` is the number of
 * migrations applied; a database with a higher number was written by a newer drctl and is refused.
 * Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: runs, their hash-chained journal, and leases
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    workload TEXT NOT NULL,
    runbook TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    plan_file TEXT NOT NULL,
    started_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL
  );
  CREATE INDEX runs_created ON runs (created_at);
  CREATE TABLE journal (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    step TEXT,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID;
  -- the journal is append-only: an edit has to go around drctl, and audit verify catches it then
  CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
  CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
  CREATE TABLE leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 2: drill reports, kept so the console can show how RTO and RPO trend from drill to drill
  `
  CREATE TABLE drill_reports (
    id TEXT PRIMARY KEY,
    workload TEXT NOT NULL,
    scenario TEXT NOT NULL,
    plan_hash TEXT,
    started_at TEXT NOT NULL,
    passed INTEGER NOT NULL,
    detection_ms REAL,
    rto_ms REAL,
    lost_writes INTEGER NOT NULL,
    report TEXT NOT NULL
  );
  CREATE INDEX drill_reports_started ON drill_reports (workload, scenario, started_at);
  `,
  // 3: documents (tokens, incidents, schedules, ...) and hash-chained event streams (server audit, messages)
  `
  CREATE TABLE documents (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (collection, id)
  ) WITHOUT ROWID;
  CREATE INDEX documents_created ON documents (collection, created_at);
  CREATE TABLE events (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
  ) WITHOUT ROWID;
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'event streams are append-only'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'event streams are append-only'); END;
  `,
  // 4: fencing tokens; a released lease keeps its row (owner '') so the next owner's token is still larger
  `
  ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
  `,
];
