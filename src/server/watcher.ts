/**
 * Live run events from the journal itself. Whoever writes a run (this server's engine, `drctl run` in
 * another process, `drctl approve` from a shell), the store is the one truth: the watcher publishes
 * every new journal record on the bus, once, in order. Runs driven here are looked at the moment an
 * engine hook fires; all runs are polled every `pollMs` for changes made by other processes.
 */
import type { JournalRecord, RunRecord } from '../store/index.ts';
import type { CoreContext } from './core.ts';

export class RunWatcher {
  readonly #ctx: Pick<CoreContext, 'store' | 'bus' | 'logger' | 'options'>;
  /** Newest sequence number published, per run. */
  readonly #seen = new Map<string, number>();
  readonly #chains = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(ctx: Pick<CoreContext, 'store' | 'bus' | 'logger' | 'options'>) {
    this.#ctx = ctx;
  }

  /** Starts from what the store holds now: history is read through the API, not replayed as events. */
  async start(): Promise<void> {
    for (const run of await this.#ctx.store.listRuns({ limit: 1000 })) this.#seen.set(run.id, run.headSeq);
    this.#timer = setInterval(() => {
      this.#polling ??= this.poll().finally(() => (this.#polling = undefined));
    }, this.#ctx.options.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
    await Promise.all(this.#chains.values());
  }

  /** One look at every recent run's head. */
  async poll(): Promise<void> {
    try {
      const runs = await this.#ctx.store.listRuns({ limit: 200 });
      await Promise.all(
        runs
          .filter((run) => run.headSeq > (this.#seen.get(run.id) ?? 0))
          .map((run) => this.check(run.id, run)),
      );
    } catch (error) {
      this.#ctx.logger.warn({ err: error }, 'watching the store for run changes failed');
    }
  }

  /** Publishes the run's records not published yet (serialized per run, so each goes out once, in order). */
  check(runId: string, known?: RunRecord): Promise<void> {
    const previous = this.#chains.get(runId) ?? Promise.resolve();
    const next = previous
      .then(() => this.#publishNew(runId, known))
      .catch((error: unknown) => {
        this.#ctx.logger.warn({ run: runId, err: error }, 'publishing run events failed');
      });
    this.#chains.set(runId, next);
    void next.finally(() => {
      if (this.#chains.get(runId) === next) this.#chains.delete(runId);
    });
    return next;
  }

  async #publishNew(runId: string, known: RunRecord | undefined): Promise<void> {
    const after = this.#seen.get(runId) ?? 0;
    const records = await this.#ctx.store.readJournal(runId, after);
    if (records.length === 0) return;
    for (const record of records) this.#ctx.bus.publish(journalEvent(record));
    const last = records.at(-1) as JournalRecord;
    this.#seen.set(runId, last.seq);
    const run = known?.headSeq === last.seq ? known : await this.#ctx.store.getRun(runId);
    if (run !== undefined) {
      this.#ctx.bus.publish({
        type: 'run',
        runId,
        at: last.at.toISOString(),
        data: {
          id: run.id,
          workload: run.workload,
          runbook: run.runbook,
          status: run.status,
          headSeq: last.seq,
          startedBy: run.startedBy,
        },
      });
    }
  }
}

export function journalEvent(record: JournalRecord) {
  return {
    type: 'journal',
    runId: record.runId,
    at: record.at.toISOString(),
    data: {
      seq: record.seq,
      type: record.type,
      step: record.step,
      actor: record.actor,
      at: record.at.toISOString(),
      data: record.data,
    },
  };
}
