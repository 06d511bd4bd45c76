/**
 * What every route and service of the server shares: the store, the loaded plans, the engine that drives
 * the runs started here, the live event bus (fed to SSE), the metrics registry, the logger, the options,
 * and the supervisors of runs, drills, readiness and the journal watcher. `createContext` is the one
 * place the server opens its store.
 */
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { Engine } from '../engine/index.ts';
import type { EngineHooks } from '../engine/index.ts';
import { providers as registry } from '../providers/index.ts';
import { DEFAULT_STATE_DIR, looksLikeUrl, openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import { DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, EventBus, PlanSet } from './core.ts';
import type { CoreContext, ResolvedServerOptions, ServerOptions } from './core.ts';
import { DrillSupervisor } from './drills.ts';
import { ReadinessCache } from './readiness.ts';
import { RunSupervisor } from './runs.ts';
import { RunWatcher } from './watcher.ts';
import { redactingLogger } from '../system/logger.ts';

export * from './core.ts';

export interface ServerContext extends CoreContext {
  /** The runs this server drives: start, resume, cancel, stop. */
  runs: RunSupervisor;
  /** The drills this server runs: started through the API, the console or the test schedule. */
  drills: DrillSupervisor;
  /** Publishes new journal records on the bus. */
  watcher: RunWatcher;
  /** The latest readiness reports and their per-workload summary. */
  readiness: ReadinessCache;
  /** Where --status-listen ended up listening (its port resolved), once the services started. */
  statusAddress?: string;
}

/** A part of the server that runs beside the HTTP routes for as long as the server does (services.ts). */
export interface ServerService {
  name: string;
  start(ctx: ServerContext): Promise<void>;
  stop(): Promise<void>;
}

/** The lease a server's drivers hold when nothing says otherwise: short, so takeover is quick. */
export const DEFAULT_SERVER_LEASE_TTL_MS = 5_000;

export async function createContext(options: ServerOptions): Promise<ServerContext> {
  const providers = options.providers ?? registry;
  const plans = await PlanSet.load(options.plans, providers);
  const logger =
    options.logger ??
    redactingLogger({
      level: options.debug ? 'debug' : 'info',
      // the plans' redactor of the moment: a reload brings new secrets
      redact: (line) => plans.redactor.text(line),
      echo: (line) => void process.stderr.write(line),
    });
  const resolved: ResolvedServerOptions = {
    ...options,
    state: resolve(
      looksLikeUrl(options.state)
        ? (options.stateDir ?? process.env.DRCTL_STATE_DIR ?? DEFAULT_STATE_DIR)
        : options.state,
    ),
    stateStore: looksLikeUrl(options.state) ? options.state : resolve(options.state),
    leaseTtlMs: options.leaseTtlMs ?? options.engine?.leaseTtlMs ?? DEFAULT_SERVER_LEASE_TTL_MS,
    listen: options.listen ?? DEFAULT_LISTEN,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    pollMs: options.pollMs ?? 250,
    readinessEveryMs: options.readinessEveryMs ?? 30_000,
    preflightEveryMs: options.preflightEveryMs ?? 30 * 60_000,
    sessionTtlMs: options.sessionTtlMs ?? 12 * 60 * 60 * 1000,
    insecureListen: options.insecureListen ?? false,
  };
  // awaited: the PostgreSQL store opens asynchronously
  const store: RunStore = await openStore(resolved.stateStore);
  const hooks: EngineHooks[] = [];
  const engine = new Engine({
    store,
    providers,
    stateDir: resolved.state,
    logger: logger.child({ part: 'engine' }),
    hooks,
    ...(options.engine?.pollMs === undefined ? {} : { pollMs: options.engine.pollMs }),
    leaseTtlMs: resolved.leaseTtlMs,
  });
  const base = {
    store,
    plans,
    engine,
    bus: new EventBus(),
    metrics: new Registry(),
    logger,
    options: resolved,
    providers,
    hooks,
  };
  const watcher = new RunWatcher(base);
  // runs driven here reach SSE clients the moment their journal moves, not at the next poll
  const look = (event: { runId: string }): void => void watcher.check(event.runId);
  hooks.push({
    onRunStart: look,
    onStepStart: look,
    onStepWaiting: look,
    onStepComplete: look,
    onStepError: look,
    onRunComplete: look,
  });
  return {
    ...base,
    watcher,
    runs: new RunSupervisor(base),
    drills: new DrillSupervisor(base),
    readiness: new ReadinessCache(base),
  };
}
