/**
 * The hash chain every store writes and `drctl audit verify` checks. A record's hash covers its run,
 * sequence number, time, type, step, actor, data and the previous record's hash, in a canonical JSON form,
 * so editing, reordering or deleting any record breaks the chain at that record.
 */
import { createHash } from 'node:crypto';
import { DrctlError, UsageError } from '../errors.ts';
import type { EventInput, EventRecord, JournalInput, JournalRecord, RunRecord } from './store.ts';

/** The hash the first record of a run chains to. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

export interface HashedFields {
  runId: string;
  seq: number;
  at: string;
  type: string;
  step: string | undefined;
  actor: string;
  /** The record's data, already in canonical JSON. */
  dataJson: string;
}

export function recordHash(prevHash: string, fields: HashedFields): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(
      JSON.stringify([
        fields.runId,
        fields.seq,
        fields.at,
        fields.type,
        fields.step ?? null,
        fields.actor,
        fields.dataJson,
      ]),
    )
    .digest('hex');
}

export interface ChainProblem {
  /** The first record that does not check out (for a deleted tail: the first missing sequence number). */
  seq: number;
  type: string | undefined;
  step: string | undefined;
  reason: string;
}

export interface ChainReport {
  ok: boolean;
  records: number;
  headHash: string;
  problem: ChainProblem | undefined;
}

/** Records appended to a run's journal, as every store writes them. */
export interface JournalChain {
  records: JournalRecord[];
  /** Each record's data in canonical JSON, as hashed and as stored. */
  dataJson: string[];
  /** The journal's head after the last of them. */
  head: { seq: number; hash: string };
}

/** Sequence numbers and hashes of `inputs` appended after `head`, with one timestamp for them all. */
export function chainRecords(
  runId: string,
  head: { seq: number; hash: string },
  inputs: readonly JournalInput[],
): JournalChain {
  const now = new Date();
  const at = now.toISOString();
  let { seq, hash: prevHash } = head;
  const records: JournalRecord[] = [];
  const dataJson: string[] = [];
  for (const input of inputs) {
    seq += 1;
    const json = canonicalJson(input.data);
    const hash = recordHash(prevHash, {
      runId,
      seq,
      at,
      type: input.type,
      step: input.step,
      actor: input.actor,
      dataJson: json,
    });
    records.push({
      runId,
      seq,
      at: now,
      type: input.type,
      step: input.step,
      actor: input.actor,
      data: input.data,
      prevHash,
      hash,
    });
    dataJson.push(json);
    prevHash = hash;
  }
  return { records, dataJson, head: { seq, hash: prevHash } };
}

/** Walks a run's journal and names the first record that was edited, inserted, reordered or deleted. */
export function verifyChain(
  run: Pick<RunRecord, 'id' | 'headSeq' | 'headHash'>,
  records: readonly JournalRecord[],
): ChainReport {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  const fail = (record: JournalRecord | undefined, seq: number, reason: string): ChainReport => ({
    ok: false,
    records: records.length,
    headHash: prevHash,
    problem: { seq, type: record?.type, step: record?.step, reason },
  });
  for (const record of records) {
    if (record.seq !== expectedSeq) {
      return fail(record, expectedSeq, `record ${expectedSeq} is missing (the next record is ${record.seq})`);
    }
    if (record.prevHash !== prevHash) {
      return fail(record, record.seq, 'its previous-hash does not match the record before it');
    }
    const hash = recordHash(prevHash, {
      runId: run.id,
      seq: record.seq,
      at: record.at.toISOString(),
      type: record.type,
      step: record.step,
      actor: record.actor,
      dataJson: canonicalJson(record.data),
    });
    if (hash !== record.hash)
      return fail(record, record.seq, 'its content does not match its hash (it was edited)');
    prevHash = hash;
    expectedSeq += 1;
  }
  if (run.headSeq !== expectedSeq - 1) {
    return fail(
      undefined,
      expectedSeq,
      `the run's head says ${run.headSeq} records but the journal holds ${expectedSeq - 1}`,
    );
  }
  if (run.headHash !== prevHash) {
    return fail(records.at(-1), expectedSeq - 1, "the run's head hash does not match the last record");
  }
  return { ok: true, records: records.length, headHash: prevHash, problem: undefined };
}

/** The next record of an event stream, chained to `head` (the stream's newest record, if any). */
export function chainEvent(
  stream: string,
  head: { seq: number; hash: string } | undefined,
  input: EventInput,
  at = new Date(),
): EventRecord {
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? GENESIS_HASH;
  const hash = recordHash(prevHash, {
    runId: stream,
    seq,
    at: at.toISOString(),
    type: input.type,
    step: undefined,
    actor: input.actor,
    dataJson: canonicalJson(input.data),
  });
  return { stream, seq, at, type: input.type, actor: input.actor, data: input.data, prevHash, hash };
}

/** Checks an event stream read in order from its first record, the way `verifyChain` checks a run. */
export function verifyEvents(stream: string, records: readonly EventRecord[]): ChainReport {
  const asJournal = records.map((record) => ({ ...record, runId: stream, step: undefined }));
  const last = records.at(-1);
  return verifyChain(
    { id: stream, headSeq: last?.seq ?? 0, headHash: last?.hash ?? GENESIS_HASH },
    asJournal,
  );
}

/** The store's answer when a document changed since it was read. */
export function documentConflict(
  collection: string,
  id: string,
  expected: number,
  actual: number,
): DrctlError {
  return new DrctlError(
    'DRCTL_STORE_CONFLICT',
    `${collection}/${id} changed while this change was being made`,
    {
      exitCode: 2,
      hint: 'read it again and retry',
      details: { expected, actual },
    },
  );
}

/** The store's answer when a writer no longer holds the lease it writes under (it was fenced). */
export function leaseLost(key: string): UsageError {
  return new UsageError('DRCTL_RUN_LEASE_LOST', `this process no longer holds the lease of ${key}`, {
    hint: 'another drctl process took it over; follow the run with `drctl status`',
  });
}

/** The store's answer when a run's journal moved past the head a writer expected. */
export function headConflict(runId: string, expected: number, actual: number): DrctlError {
  return new DrctlError('DRCTL_STORE_CONFLICT', `run ${runId} changed while this change was being made`, {
    exitCode: 2,
    hint: 'try again',
    details: { expected, actual },
  });
}
