/**
 * `drctl serve --export-dir DIR`: a copy of what a person needs when every drctl instance and the state
 * database are down. On start, on every plan change and as every run moves (its end included), serve
 * writes into DIR:
 *
 *   runbooks/<plan>.md, runbooks/<plan>.html   the rendered runbooks (src/render/), with the plan's hash
 *   runs/<run>.jsonl                           the run's latest journal export (as `drctl audit export`)
 *   index.md                                   what is there: plans with their hash, runs with their status
 *
 * Every file is written to a temporary name and renamed, so a reader (or a sync to another site) never
 * sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportRun } from '../engine/index.ts';
import type { Plan } from '../plan/index.ts';
import { renderHtml, renderMarkdown } from '../render/index.ts';
import type { RunRecord } from '../store/index.ts';
import type { ServerContext } from './context.ts';
import type { ServerService } from './context.ts';

/** Writes `content` to `file` through a temporary file in the same directory and a rename. */
export function writeAtomically(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, content);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** A plan's name as a file name. */
export function planFileName(plan: Plan): string {
  return (
    plan.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'plan'
  );
}

export class ExportDirectory {
  readonly dir: string;
  readonly #ctx: Pick<ServerContext, 'store' | 'plans' | 'logger'>;
  #planHashes = '';
  /** The journal head last exported, per run. */
  readonly #exported = new Map<string, number>();
  #chain: Promise<void> = Promise.resolve();

  constructor(dir: string, ctx: Pick<ServerContext, 'store' | 'plans' | 'logger'>) {
    this.dir = resolve(dir);
    this.#ctx = ctx;
    mkdirSync(join(this.dir, 'runbooks'), { recursive: true });
    mkdirSync(join(this.dir, 'runs'), { recursive: true });
  }

  /** Queues `work` behind what is being written: one writer at a time, in order. */
  #queue(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work).catch((error: unknown) => {
      this.#ctx.logger.warn({ err: error, dir: this.dir }, 'writing the export directory failed');
    });
    this.#chain = next;
    return next;
  }

  /** Renders the runbooks again when the served plans changed since the last time. */
  plans(): Promise<void> {
    return this.#queue(async () => {
      const plans = this.#ctx.plans.list();
      const hashes = plans.map((plan) => plan.hash).join(',');
      if (hashes === this.#planHashes) return;
      const now = new Date();
      for (const plan of plans) {
        const name = planFileName(plan);
        writeAtomically(join(this.dir, 'runbooks', `${name}.md`), renderMarkdown(plan, { now }));
        writeAtomically(join(this.dir, 'runbooks', `${name}.html`), renderHtml(plan, { now }));
      }
      this.#planHashes = hashes;
      await this.#index();
    });
  }

  /** Exports the runs whose journal moved since their last export (all of them the first time). */
  runs(only?: string): Promise<void> {
    return this.#queue(async () => {
      const runs =
        only === undefined
          ? await this.#ctx.store.listRuns({ limit: 1000 })
          : [await this.#ctx.store.getRun(only)].filter((run): run is RunRecord => run !== undefined);
      let moved = false;
      for (const run of runs) {
        if (this.#exported.get(run.id) === run.headSeq) continue;
        const lines: string[] = [];
        for await (const line of exportRun(this.#ctx.store, run.id)) lines.push(line);
        writeAtomically(join(this.dir, 'runs', `${run.id}.jsonl`), `${lines.join('\n')}\n`);
        this.#exported.set(run.id, lines.length);
        moved = true;
      }
      if (moved) await this.#index();
    });
  }

  async #index(): Promise<void> {
    const runs = await this.#ctx.store.listRuns({ limit: 1000 });
    const lines = [
      '# drctl export',
      '',
      `Written by drctl serve at ${new Date().toISOString()}. Open the runbooks in a browser or any text`,
      "editor; each run's journal is one JSON record per line, hash-chained (`drctl audit verify` checks it).",
      '',
      '## Runbooks',
      '',
      ...this.#ctx.plans
        .list()
        .map(
          (plan) =>
            `- ${plan.name} (plan hash ${plan.hash.slice(0, 12)}): [HTML](runbooks/${planFileName(plan)}.html), [Markdown](runbooks/${planFileName(plan)}.md)`,
        ),
      '',
      '## Runs (newest first)',
      '',
      ...runs
        .filter((run) => this.#exported.has(run.id))
        .map(
          (run) =>
            `- [${run.id}](runs/${run.id}.jsonl) ${run.workload}/${run.runbook}: ${run.status}, ${run.headSeq} records, updated ${run.updatedAt.toISOString()}`,
        ),
      '',
    ];
    writeAtomically(join(this.dir, 'index.md'), lines.join('\n'));
  }

  /** Waits for what is queued. */
  idle(): Promise<void> {
    return this.#chain;
  }
}

/** The export directory as a server service: plans looked at every second, runs as their journals move. */
export function exportService(): ServerService {
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let directory: ExportDirectory | undefined;
  const pending = new Map<string, NodeJS.Timeout>();
  return {
    name: 'export',
    async start(ctx) {
      if (ctx.options.exportDir === undefined) return;
      const exports = new ExportDirectory(ctx.options.exportDir, ctx);
      directory = exports;
      await exports.plans();
      await exports.runs();
      // the plans change on POST /plans/reload; looking is cheap (their hashes, in memory)
      timer = setInterval(() => void exports.plans(), 1_000);
      timer.unref();
      unsubscribe = ctx.bus.subscribe((event) => {
        if (event.type !== 'run' || event.runId === undefined) return;
        const runId = event.runId;
        const final = ['succeeded', 'failed', 'cancelled', 'rolled-back'].includes(String(event.data.status));
        // a run's end is written at once; progress at most once a second per run
        if (final) {
          clearTimeout(pending.get(runId));
          pending.delete(runId);
          void exports.runs(runId);
        } else if (!pending.has(runId)) {
          pending.set(
            runId,
            setTimeout(() => {
              pending.delete(runId);
              void exports.runs(runId);
            }, 1_000),
          );
        }
      });
    },
    async stop() {
      clearInterval(timer);
      unsubscribe?.();
      for (const pendingTimer of pending.values()) clearTimeout(pendingTimer);
      pending.clear();
      await directory?.idle();
    },
  };
}
