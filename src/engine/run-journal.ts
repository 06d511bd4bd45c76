/**
 * A run's journal as its driver writes it: the lease that makes this driver the run's only writer (every
 * append carries its fencing token), group commit of the records handed over while an append is in
 * flight, and patience through a store outage of any length.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JournalInput, JournalRecord, RunStatus, RunStore } from '../store/store.ts';
import { isStoreOutage } from '../store/store.ts';
import type { Redactor } from './redact.ts';
import type { RunState } from './state.ts';

/** Longest pause between tries while the store is unreachable. */
const OUTAGE_RETRY_MAX_MS = 1_000;

/** Records that go to the store in one append, with the run status written beside them. */
interface JournalBatch {
  records: JournalInput[];
  status: RunStatus | undefined;
  written: Promise<JournalRecord[]>;
}

export interface RunJournalOptions {
  store: RunStore;
  /** The run's state: its last sequence number says what this driver has already folded. */
  state: RunState;
  redactor: Redactor;
  log: Logger;
  leaseTtlMs: number;
  /** Folds a record into the driver's state: its own once written, and others' read in between. */
  apply: (record: JournalRecord) => void;
}

export class RunJournal {
  readonly #store: RunStore;
  readonly #state: RunState;
  readonly #redactor: Redactor;
  readonly #log: Logger;
  readonly #leaseTtlMs: number;
  readonly #apply: (record: JournalRecord) => void;
  readonly #owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  /** The lease's fencing token, once taken; every append carries it. */
  #token: number | undefined;
  #writeChain: Promise<unknown> = Promise.resolve();
  /** The records of the append that waits for the one in flight; more join it until it is sent. */
  #openBatch: JournalBatch | undefined;
  /** The store has been unreachable since this moment (said once in the log, and once when it is back). */
  #outageSince: number | undefined;
  /** Set when `stop()`'s grace ran out: waiting for an unreachable store ends too. */
  givingUp = false;

  constructor(options: RunJournalOptions) {
    this.#store = options.store;
    this.#state = options.state;
    this.#redactor = options.redactor;
    this.#log = options.log;
    this.#leaseTtlMs = options.leaseTtlMs;
    this.#apply = options.apply;
  }

  get #runId(): string {
    return this.#state.id;
  }

  /**
   * Takes the run's lease, then renews it with the fencing token it got: a driver that lost the lease
   * (paused or cut off past its TTL) fails the renewal and every append instead of taking it back.
   */
  async takeLease(): Promise<void> {
    const lease = await this.#store.acquireLease(this.#runId, {
      owner: this.#owner,
      pid: process.pid,
      host: hostname(),
      ttlMs: this.#leaseTtlMs,
      ...(this.#token === undefined ? {} : { token: this.#token }),
    });
    this.#token = lease.token;
  }

  /** Lets the lease go once every append is written; another process may take the run at once. */
  async release(): Promise<void> {
    await this.#writeChain;
    await this.#store.releaseLease(this.#runId, this.#owner).catch(() => undefined);
  }

  /**
   * Appends records (redacted), then folds them and any records other processes wrote in between into the
   * state. Records handed over while an append is in flight go out together in the next one (group
   * commit: one round trip and one commit for what several steps finished meanwhile); each caller still
   * learns its records are written only once they are.
   */
  append(records: JournalInput[], status?: RunStatus): Promise<JournalRecord[]> {
    const open = this.#openBatch;
    if (open !== undefined && open.status === undefined && status === undefined) {
      const from = open.records.length;
      open.records.push(...records);
      return open.written.then((all) => all.slice(from, from + records.length));
    }
    const batch: JournalBatch = { records: [...records], status, written: Promise.resolve([]) };
    this.#openBatch = batch;
    const write = this.#writeChain.then(async () => {
      if (this.#openBatch === batch) this.#openBatch = undefined;
      const redacted = batch.records.map((record) => ({
        ...record,
        data: this.#redactor.value(record.data),
      }));
      // sending the same records again is safe: the store recognises an append that had committed
      const written = await this.patiently(() =>
        this.#store.append(this.#runId, redacted, {
          leaseOwner: this.#owner,
          ...(this.#token === undefined ? {} : { fencingToken: this.#token }),
          ...(batch.status === undefined ? {} : { status: batch.status }),
        }),
      );
      const firstSeq = written[0]?.seq ?? this.#state.lastSeq + 1;
      if (firstSeq > this.#state.lastSeq + 1) {
        const lastSeq = this.#state.lastSeq;
        for (const record of await this.patiently(() => this.#store.readJournal(this.#runId, lastSeq))) {
          if (record.seq >= firstSeq) break;
          this.#apply(record);
        }
      }
      for (const record of written) this.#apply(record);
      return written;
    });
    batch.written = write;
    this.#writeChain = write.catch(() => undefined);
    return write;
  }

  /** Reads what operators wrote since the last look (approvals, decisions, cancel). */
  async catchUp(): Promise<void> {
    await this.#writeChain;
    const lastSeq = this.#state.lastSeq;
    const records = await this.patiently(() => this.#store.readJournal(this.#runId, lastSeq));
    for (const record of records) this.#apply(record);
  }

  /**
   * Runs a store call until it gets through. An outage of any length is waited out: the step in flight
   * goes on, its outcome is written once the store is back, and the lease is renewed then; if another
   * instance took the run meanwhile, the append or the renewal is fenced and this driver stands down.
   */
  async patiently<T>(work: () => Promise<T>): Promise<T> {
    for (let pause = 100; ; pause = Math.min(pause * 2, OUTAGE_RETRY_MAX_MS)) {
      try {
        const result = await work();
        if (this.#outageSince !== undefined) {
          this.#log.info(
            { unreachableMs: Date.now() - this.#outageSince },
            'the state store is reachable again; driving on',
          );
          this.#outageSince = undefined;
        }
        return result;
      } catch (error) {
        if (!isStoreOutage(error) || this.givingUp) throw error;
        if (this.#outageSince === undefined) {
          this.#outageSince = Date.now();
          this.#log.warn(
            { err: error },
            'the state store is unreachable; steps in flight go on and the run is driven on once it is back',
          );
        }
        await sleep(pause);
      }
    }
  }
}
