/**
 * Schema migrations of the PostgreSQL store, in order; `S` stands for the store's schema (default
 * `drctl`). `S.schema_version` holds how many have been applied; a higher number was written by a newer
 * drctl and is refused. Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: everything the SQLite store has after its migration 4, in one step
  `
  CREATE TABLE S.runs (
    id text PRIMARY KEY,
    workload text NOT NULL,
    runbook text NOT NULL,
    plan_hash text NOT NULL,
    plan_file text NOT NULL,
    started_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    status text NOT NULL,
    head_seq bigint NOT NULL,
    head_hash text NOT NULL
  );
  CREATE INDEX runs_created ON S.runs (created_at);
  CREATE TABLE S.journal (
    run_id text NOT NULL REFERENCES S.runs (id),
    seq bigint NOT NULL,
    -- text, not timestamptz or jsonb: the hash covers these exact strings
    at text NOT NULL,
    type text NOT NULL,
    step text,
    actor text NOT NULL,
    data text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (run_id, seq)
  );
  CREATE FUNCTION S.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
  CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON S.journal
    FOR EACH ROW EXECUTE FUNCTION S.refuse_change();
  -- a lease per key (a run id, or monitor:<workload>); a released lease keeps its row (owner '') so the
  -- fencing token keeps growing. expires_at is on the database's clock, never an instance's.
  CREATE TABLE S.leases (
    key text PRIMARY KEY,
    owner text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    -- the advisory lock the holder's store keeps while its database session lives (classid, objid)
    session_a integer NOT NULL,
    session_b integer NOT NULL,
    token bigint NOT NULL,
    expires_at timestamptz NOT NULL
  );
  CREATE TABLE S.drill_reports (
    id text PRIMARY KEY,
    workload text NOT NULL,
    scenario text NOT NULL,
    plan_hash text,
    started_at timestamptz NOT NULL,
    passed boolean NOT NULL,
    detection_ms double precision,
    rto_ms double precision,
    lost_writes integer NOT NULL,
    report text NOT NULL
  );
  CREATE INDEX drill_reports_started ON S.drill_reports (workload, scenario, started_at);
  CREATE TABLE S.documents (
    collection text NOT NULL,
    id text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (collection, id)
  );
  CREATE INDEX documents_created ON S.documents (collection, created_at);
  CREATE TABLE S.events (
    stream text NOT NULL,
    seq bigint NOT NULL,
    at text NOT NULL,
    type text NOT NULL,
    actor text NOT NULL,
    data text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (stream, seq)
  );
  CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON S.events
    FOR EACH ROW EXECUTE FUNCTION S.refuse_change();

  -- One round trip per journal append: the writer computed the chain from the head it last saw; this
  -- checks that head, the lease and its fencing token under the run's row lock, then inserts. When the
  -- head moved because this very append already committed (the answer was lost in a failover), the
  -- records are there with the same hashes: 'duplicate', and the writer treats it as done.
  CREATE FUNCTION S.append(
    p_run text, p_prev_seq bigint, p_prev_hash text, p_owner text, p_token bigint, p_status text,
    p_ats text[], p_types text[], p_steps text[], p_actors text[], p_datas text[], p_prevs text[], p_hashes text[]
  ) RETURNS text LANGUAGE plpgsql AS $$
  DECLARE
    head record;
    held record;
    n integer := coalesce(array_length(p_hashes, 1), 0);
  BEGIN
    SELECT head_seq, head_hash INTO head FROM S.runs WHERE id = p_run FOR UPDATE;
    IF NOT FOUND THEN RETURN 'not-found'; END IF;
    IF head.head_seq <> p_prev_seq OR head.head_hash <> p_prev_hash THEN
      IF n > 0 AND EXISTS (
        SELECT 1 FROM S.journal WHERE run_id = p_run AND seq = p_prev_seq + n AND hash = p_hashes[n]
      ) THEN
        RETURN 'duplicate';
      END IF;
      RETURN 'moved:' || head.head_seq;
    END IF;
    IF p_owner IS NOT NULL OR p_token IS NOT NULL THEN
      SELECT owner, token INTO held FROM S.leases WHERE key = p_run FOR SHARE;
      IF NOT FOUND OR held.owner = '' OR held.owner <> coalesce(p_owner, held.owner)
         OR held.token <> coalesce(p_token, held.token) THEN
        RETURN 'fenced';
      END IF;
    END IF;
    INSERT INTO S.journal (run_id, seq, at, type, step, actor, data, prev_hash, hash)
      SELECT p_run, p_prev_seq + r.i, r.at, r.type, r.step, r.actor, r.data, r.prev, r.hash
      FROM unnest(p_ats, p_types, p_steps, p_actors, p_datas, p_prevs, p_hashes)
        WITH ORDINALITY AS r(at, type, step, actor, data, prev, hash, i);
    UPDATE S.runs SET head_seq = p_prev_seq + n, head_hash = coalesce(p_hashes[n], head_hash),
      updated_at = now(), status = coalesce(p_status, status)
      WHERE id = p_run;
    RETURN 'ok';
  END $$;
  `,
  // 2: leases across a failover or a restart of the database. A lease row says on which server (address,
  // port and start time: a restarted or promoted server is a new one) its holder last renewed it, and
  // S.servers when drctl first reached each server. A holder that has not renewed on the current server
  // yet is not judged dead by its missing advisory lock (no session survives a failover) nor by an
  // expiry that passed while nobody could reach the database: it gets a full lease TTL from the moment
  // drctl first reached this server to renew.
  `
  ALTER TABLE S.leases ADD COLUMN server text NOT NULL DEFAULT '';
  CREATE TABLE S.servers (
    server text PRIMARY KEY,
    first_seen timestamptz NOT NULL
  );
  CREATE FUNCTION S.server_id() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(host(inet_server_addr()), 'local') || ':' || coalesce(inet_server_port()::text, '')
      || '@' || pg_postmaster_start_time()::text $$;
  CREATE FUNCTION S.server_since() RETURNS timestamptz LANGUAGE plpgsql AS $$
  DECLARE
    since timestamptz;
  BEGIN
    SELECT first_seen INTO since FROM S.servers WHERE server = S.server_id();
    IF NOT FOUND THEN
      INSERT INTO S.servers (server, first_seen) VALUES (S.server_id(), now()) ON CONFLICT DO NOTHING;
      SELECT first_seen INTO since FROM S.servers WHERE server = S.server_id();
    END IF;
    RETURN since;
  END $$;
  `,
];
