/**
 * The process's pool of content workers (content-worker.ts): started on the first restore or
 * verification that needs them, kept for the next one, and never what keeps the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ContentResult, ContentTask } from './content-worker.ts';

/**
 * One per core, at least two (one can be reading from disk while another decodes) and at most four: on
 * more cores the disk, not the CPU, is the limit of a restore.
 */
const SIZE = Math.min(4, Math.max(2, availableParallelism()));

interface Pending {
  task: ContentTask;
  resolve: (result: ContentResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Run from the sources (tests, benchmarks, a checkout) the worker is TypeScript, so it first loads the
 * same tsx loader the process runs under; the built package runs its compiled JavaScript as is.
 */
function startWorker(): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./content-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSources) return new Worker(entry);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true });
}

class ContentWorkers {
  readonly size = SIZE;
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private started = 0;
  private nextId = 0;

  run(task: ContentTask): Promise<ContentResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (worker === undefined) {
        if (this.started >= this.size) return;
        worker = startWorker();
        this.started += 1;
      }
      this.assign(worker, this.queue.shift() as Pending);
    }
  }

  private assign(worker: Worker, pending: Pending): void {
    const id = (this.nextId += 1);
    worker.ref();
    const settle = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onFailure);
      worker.off('exit', onFailure);
    };
    const onMessage = (message: { id: number; result: ContentResult }): void => {
      if (message.id !== id) return;
      settle();
      worker.unref();
      this.idle.push(worker);
      pending.resolve(message.result);
      this.dispatch();
    };
    // A worker that dies takes only its own task with it; the next task starts a fresh one.
    const onFailure = (error: unknown): void => {
      settle();
      this.started -= 1;
      void worker.terminate();
      pending.reject(
        error instanceof Error ? error : new Error(`a content worker exited with code ${String(error)}`),
      );
      this.dispatch();
    };
    worker.on('message', onMessage);
    worker.once('error', onFailure);
    worker.once('exit', onFailure);
    worker.postMessage({ id, task: pending.task });
  }
}

let shared: ContentWorkers | undefined;

/** The pool, started on first use. */
export function contentWorkers(): ContentWorkers {
  shared ??= new ContentWorkers();
  return shared;
}
