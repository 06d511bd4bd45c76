/**
 * Finding what a former primary committed after the fork, from its WAL: where the new primary's timeline
 * forked (its history file), and pg_waldump's records after that point — the transactions that committed,
 * with their commit times and subtransactions, and the heap records they wrote (the tables touched and
 * the place of every deleted row).
 */
import { withClient, one, type Subject } from '../../pg/client.ts';

/** A WAL record of pg_waldump that matters here. */
export interface WalRecord {
  rmgr: string;
  xid: number;
  lsn: string;
  desc: string;
}

const RECORD =
  /^rmgr: (\S+)\s+len \(rec\/tot\):\s*\d+\/\s*\d+, tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev \S+, desc: (.*)$/;

export function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) | BigInt(`0x${low ?? '0'}`);
}

/** pg_waldump's arguments for the records of `walDir` on `timeline` from `start` to `end`. */
export function walDumpArgs(walDir: string, timeline: number, start: string, end: string): string[] {
  return [
    '-p',
    walDir,
    `--timeline=${timeline}`,
    `--start=${start}`,
    `--end=${end}`,
    '-r',
    'Transaction',
    '-r',
    'Heap',
    '-r',
    'Heap2',
  ];
}

export function parseWalDump(text: string): WalRecord[] {
  const records: WalRecord[] = [];
  for (const line of text.split('\n')) {
    const match = RECORD.exec(line);
    if (match === null) continue;
    records.push({ rmgr: match[1] ?? '', xid: Number(match[2]), lsn: match[3] ?? '', desc: match[4] ?? '' });
  }
  return records;
}

/** Commits after the fork: top-level xid → commit time, and every subtransaction → its top-level xid. */
export function strandedCommits(records: readonly WalRecord[]): {
  committedAt: Map<number, string>;
  topOf: Map<number, number>;
} {
  const committedAt = new Map<number, string>();
  const topOf = new Map<number, number>();
  for (const record of records) {
    if (record.rmgr !== 'Transaction') continue;
    const commit = /^COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\S+)/.exec(record.desc);
    if (commit === null) continue;
    // pg_waldump prints the time in the server's log time zone; drctl's clusters and most servers log UTC
    const zone = commit[2] === 'UTC' || commit[2] === 'GMT' ? 'Z' : (commit[2] ?? 'Z');
    const at = new Date(`${(commit[1] ?? '').replace(' ', 'T')}${zone}`);
    committedAt.set(record.xid, Number.isNaN(at.getTime()) ? (commit[1] ?? '') : at.toISOString());
    topOf.set(record.xid, record.xid);
    const subs = /subxacts: ([\d ]+)/.exec(record.desc)?.[1];
    for (const sub of subs?.trim().split(/\s+/) ?? []) topOf.set(Number(sub), record.xid);
  }
  return { committedAt, topOf };
}

/** Where a heap record wrote: database oid, relfilenode, block and offset of the tuple. */
function heapTarget(desc: string): { db: number; node: number; blk: number; off: number } | undefined {
  const rel = /blkref #0: rel \d+\/(\d+)\/(\d+)(?: fork \S+)? blk (\d+)/.exec(desc);
  if (rel === null) return undefined;
  const off = /\boff (\d+)/.exec(desc);
  return { db: Number(rel[1]), node: Number(rel[2]), blk: Number(rel[3]), off: Number(off?.[1] ?? 0) };
}

/** A row the old primary deleted after the fork: where it was, and the top-level transaction. */
export interface StrandedDelete {
  node: number;
  blk: number;
  off: number;
  xid: number;
}

/** What the stranded transactions wrote in one database, from their WAL records. */
export interface WalChanges {
  /** relfilenode → top-level xids that wrote in it */
  touched: Map<number, Set<number>>;
  deletes: StrandedDelete[];
  /** Stranded top-level transactions that wrote in this database. */
  ours: Set<number>;
  /** Stranded top-level transactions that wrote in other databases of the cluster. */
  others: Set<number>;
  warnings: string[];
}

export function walChanges(
  records: readonly WalRecord[],
  topOf: ReadonlyMap<number, number>,
  dbOid: number,
): WalChanges {
  const changes: WalChanges = {
    touched: new Map(),
    deletes: [],
    ours: new Set(),
    others: new Set(),
    warnings: [],
  };
  // tuple slots the old side filled after the fork: deleting one of those leaves nothing to replay
  const filledAfterFork = new Set<string>();
  for (const record of records) {
    if (record.rmgr === 'Transaction') continue;
    const top = topOf.get(record.xid);
    if (top === undefined) continue;
    if (/^TRUNCATE/.test(record.desc)) {
      changes.warnings.push(
        `transaction ${top} truncated a table after the fork: its rows are not listed one by one`,
      );
      changes.ours.add(top);
      continue;
    }
    const target = heapTarget(record.desc);
    if (target === undefined) continue;
    if (target.db !== dbOid) {
      changes.others.add(top);
      continue;
    }
    changes.ours.add(top);
    if (record.rmgr === 'Heap' && /^(INSERT|HOT_UPDATE|UPDATE)\b/.test(record.desc)) {
      const off =
        /new off (\d+)/.exec(record.desc)?.[1] ??
        (/^INSERT/.test(record.desc) ? String(target.off) : undefined);
      if (off !== undefined) filledAfterFork.add(`${target.node}:${target.blk}:${off}`);
    }
    let xids = changes.touched.get(target.node);
    if (xids === undefined) changes.touched.set(target.node, (xids = new Set()));
    xids.add(top);
    if (
      record.rmgr === 'Heap' &&
      /^DELETE\b/.test(record.desc) &&
      !filledAfterFork.has(`${target.node}:${target.blk}:${target.off}`)
    ) {
      changes.deletes.push({ node: target.node, blk: target.blk, off: target.off, xid: top });
    }
  }
  return changes;
}

/** The new primary's timeline and, for each timeline it came from, the LSN where it forked away. */
export async function forkPoint(source: {
  subject: Subject;
  url: string;
}): Promise<{ timeline: number; lsnOf: Map<number, string> }> {
  return withClient(source.subject, source.url, async (client) => {
    const row = await one<{ tli: number; history: string | null }>(
      client,
      `select timeline_id as tli,
              case when timeline_id > 1 then pg_read_file(format('pg_wal/%s.history', lpad(upper(to_hex(timeline_id)), 8, '0'))) end as history
         from pg_control_checkpoint()`,
    );
    const lsnOf = new Map<number, string>();
    for (const line of (row?.history ?? '').split('\n')) {
      const match = /^(\d+)\s+([0-9A-F]+\/[0-9A-F]+)/i.exec(line.trim());
      if (match !== null) lsnOf.set(Number(match[1]), (match[2] ?? '').toUpperCase());
    }
    return { timeline: Number(row?.tli), lsnOf };
  });
}
