/**
 * The canary: a small table drills write to before a fault and read after the failover, to count the
 * writes a client saw acknowledged that the new primary does not have — the data actually lost.
 */
import type pg from 'pg';

export const CANARY_TABLE = 'drctl_canary';

export async function ensureCanaryTable(client: pg.Client): Promise<void> {
  await client.query(
    `create table if not exists ${CANARY_TABLE} (seq bigint primary key, written_at timestamptz not null default clock_timestamp())`,
  );
}

/** Write one canary row; resolves only when the server acknowledged the commit. */
export async function writeCanary(client: pg.Client, seq: number): Promise<void> {
  await client.query(`insert into ${CANARY_TABLE} (seq) values ($1)`, [seq]);
}

/** Every sequence number the canary table holds. */
export async function readCanary(client: pg.Client): Promise<Set<number>> {
  const result = await client.query<{ seq: string }>(`select seq::text as seq from ${CANARY_TABLE}`);
  return new Set(result.rows.map((row) => Number(row.seq)));
}

export interface AcknowledgedWrite {
  seq: number;
  /** When the client saw the acknowledgement (ms since the epoch). */
  ackedAt: number;
}

export interface CanaryLoss {
  acknowledged: number;
  lost: number[];
  /** Time between the first and the last lost acknowledgement: how much time's worth of writes vanished. */
  lostSeconds: number;
}

/** Compare what the client saw acknowledged with what the database holds. */
export function canaryLoss(
  acknowledged: readonly AcknowledgedWrite[],
  present: ReadonlySet<number>,
): CanaryLoss {
  const lost = acknowledged.filter((write) => !present.has(write.seq));
  const first = lost[0];
  const last = lost[lost.length - 1];
  return {
    acknowledged: acknowledged.length,
    lost: lost.map((write) => write.seq),
    lostSeconds: first === undefined || last === undefined ? 0 : (last.ackedAt - first.ackedAt) / 1000,
  };
}
