/**
 * The server's options, its live event bus (fed to SSE), the plans it serves, and the core of what every
 * route and service shares (context.ts adds the supervisors built on it).
 */
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Redactor, planSecrets } from '../engine/index.ts';
import type { Engine, EngineHooks } from '../engine/index.ts';
import { loadPlan } from '../plan/index.ts';
import type { Plan } from '../plan/index.ts';
import { checkStepActions, providers as registry } from '../providers/index.ts';
import type { Provider } from '../providers/index.ts';
import type { RunStore } from '../store/index.ts';
import { ApiError } from './errors.ts';

export interface ServerOptions {
  /** Plan files the server serves and starts runs from. */
  plans: readonly string[];
  /**
   * The state store, as for `drctl run`: a directory (SQLite) or a `postgres://` URL (PostgreSQL, shared
   * by several instances; see docs/store.md).
   */
  state: string;
  /**
   * This instance's own files (provider files, logs) when `state` is a URL.
   * @default $DRCTL_STATE_DIR, else `.drctl`
   */
  stateDir?: string;
  /**
   * How long a run's lease lasts without renewal: within about this long of an instance dying or being
   * cut off, another instance takes its runs over. @default 5000
   */
  leaseTtlMs?: number;
  /** Address to listen on, `host:port`. @default '127.0.0.1:7070' */
  listen?: string;
  /** PEM certificate and key files: the server speaks HTTPS. @default plain HTTP */
  tlsCert?: string;
  tlsKey?: string;
  /** Allow plain HTTP on an address other than loopback. @default false */
  insecureListen?: boolean;
  /** Largest request body, in bytes. @default 1048576 */
  bodyLimitBytes?: number;
  /** How often the store is read for runs other processes changed. @default 250 */
  pollMs?: number;
  /** How often readiness is checked in the background. @default 30000 */
  readinessEveryMs?: number;
  /** How often every plan's preflight runs in the background; 0 turns it off. @default 1800000 (30 minutes) */
  preflightEveryMs?: number;
  /** How long a console session lasts. @default 43200000 (12 hours) */
  sessionTtlMs?: number;
  /** @default every provider drctl ships */
  providers?: readonly Provider[];
  /** @default pino at info level on stderr */
  logger?: Logger;
  /** The engine's poll and lease settings, for tests. @default the engine's defaults */
  engine?: { pollMs?: number; leaseTtlMs?: number };
  /** Services to run, by name. @default every service in services.ts */
  services?: readonly string[];
  /** A second address serving only the public status page. @default the status page is on `listen` only */
  statusListen?: string;
  /**
   * Run the monitor (automatic failover) for the served plans' workloads; with several instances on one
   * store, each workload's leader (a lease) starts its failover. @default false
   */
  monitor?: boolean;
  /**
   * A directory kept readable for when everything is down: rendered runbooks (HTML, Markdown) and each
   * run's latest journal export, written atomically on start, on every plan change and as runs move.
   * @default none
   */
  exportDir?: string;
  /** Debug-level logs. @default false */
  debug?: boolean;
}

import { DEFAULT_LISTEN } from './defaults.ts';

export { DEFAULT_LISTEN };
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** One thing that happened, as the console and SSE clients receive it. */
export interface LiveEvent {
  /** `journal` (a run's record), `run` (its status or head moved), or another area's own type. */
  type: string;
  runId?: string;
  at: string;
  data: Record<string, unknown>;
}

/** Live events inside the server: engine hooks and the store watcher publish, SSE streams subscribe. */
export class EventBus {
  readonly #emitter = new EventEmitter();

  constructor() {
    // every SSE client is a listener
    this.#emitter.setMaxListeners(0);
  }

  publish(event: LiveEvent): void {
    this.#emitter.emit('event', event);
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }

  get listeners(): number {
    return this.#emitter.listenerCount('event');
  }
}

/** The plans the server was started with, reloadable without a restart. */
export class PlanSet {
  readonly files: readonly string[];
  #plans: Plan[] = [];
  #redactor = new Redactor({});

  private constructor(files: readonly string[]) {
    this.files = files.map((file) => resolve(file));
  }

  static async load(files: readonly string[], providers: readonly Provider[]): Promise<PlanSet> {
    const set = new PlanSet(files);
    await set.reload(providers);
    return set;
  }

  /** Loads every plan file again; on a bad plan the old set stays and the error is thrown. */
  async reload(providers: readonly Provider[] = registry): Promise<void> {
    const plans = await Promise.all(
      this.files.map((file) => loadPlan(file, { checks: [(plan) => checkStepActions(plan, providers)] })),
    );
    const secrets: Record<string, string> = {};
    for (const plan of plans) Object.assign(secrets, planSecrets(plan));
    this.#plans = plans;
    this.#redactor = new Redactor(secrets);
  }

  list(): readonly Plan[] {
    return this.#plans;
  }

  /** The plan named `name`, or the only one when there is one and no name is given. */
  get(name?: string): Plan {
    if (name === undefined) {
      const [only, ...others] = this.#plans;
      if (only !== undefined && others.length === 0) return only;
      throw new ApiError(400, 'DRCTL_API_PLAN_REQUIRED', 'this server serves several plans: name one', {
        field: 'body.plan',
        hint: `plans: ${this.#plans.map((plan) => plan.name).join(', ')}`,
      });
    }
    const plan = this.#plans.find((candidate) => candidate.name === name);
    if (plan === undefined) {
      throw ApiError.notFound(
        'DRCTL_API_PLAN_NOT_FOUND',
        `this server serves no plan named ${name}`,
        `plans: ${this.#plans.map((candidate) => candidate.name).join(', ')}`,
      );
    }
    return plan;
  }

  /** The plan a run was started from (by its root file), if the server serves it. */
  byFile(file: string): Plan | undefined {
    return this.#plans.find(
      (plan) => plan.files[0] !== undefined && resolve(plan.files[0]) === resolve(file),
    );
  }

  /** Replaces every secret value of every plan in what the server answers and logs. */
  get redactor(): Redactor {
    return this.#redactor;
  }
}

export type ResolvedServerOptions = Required<
  Pick<
    ServerOptions,
    | 'listen'
    | 'bodyLimitBytes'
    | 'pollMs'
    | 'readinessEveryMs'
    | 'preflightEveryMs'
    | 'sessionTtlMs'
    | 'insecureListen'
  >
> &
  Omit<ServerOptions, 'logger' | 'providers'> & {
    /** This instance's local state directory (the SQLite store's directory, or `stateDir`). */
    state: string;
    /** What the store was opened from: the SQLite directory or the `postgres://` URL. */
    stateStore: string;
    leaseTtlMs: number;
  };

/**
 * What the server's parts share, made before them: the runs, drills, watcher and readiness supervisors
 * take the part of it they use, and `ServerContext` (context.ts) adds them.
 */
export interface CoreContext {
  store: RunStore;
  plans: PlanSet;
  /** Drives the runs started or resumed through this server. */
  engine: Engine;
  bus: EventBus;
  /** This server's own Prometheus registry (not prom-client's global one). */
  metrics: Registry;
  logger: Logger;
  /** The options with their defaults applied. */
  options: ResolvedServerOptions;
  providers: readonly Provider[];
  /** Engine hooks areas add before the first run starts (metrics, notifications). */
  hooks: EngineHooks[];
}
