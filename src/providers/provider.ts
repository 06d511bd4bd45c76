/**
 * The provider interface. A provider acts on one kind of real system (PostgreSQL, files, HTTP, processes,
 * shell, the traffic router). It declares its actions and checks as data: each with a parameter schema
 * (checked when the plan is validated), whether it is idempotent, its undo, and the evidence it returns.
 * The engine reads these facts and never branches on a provider's name or kind.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Component, Plan } from '../plan/model.ts';
import type { ProcessSpec } from '../supervise/index.ts';
import type { StepProcess } from '../system/guarded-spawn.ts';

/** What an action or check receives from the engine. Cancellation is cooperative through `signal`. */
export interface ActionContext {
  signal: AbortSignal;
  log: Logger;
  plan: Plan;
  /** Directory for files the provider keeps between runs (backup catalogues, process pid files). */
  stateDir: string;
  /** The run the step belongs to, for files an action keeps with it (a reconciliation file); absent outside runs. */
  runId?: string;
  /** The step's id in its run: with `runId`, the durable identity of what the action does. Absent outside runs. */
  stepId?: string;
  /** Attach a piece of evidence to the running step; values pass through secret redaction. */
  evidence(name: string, value: unknown): void;
  /**
   * Tell the engine a process acting for the step started (`spawnGuarded` returns what to pass). The
   * engine journals it, so a driver taking the run over waits until it is gone before running the step
   * again. Absent outside a run (checks of the monitor, tests).
   */
  processStarted?(process: StepProcess): void;
}

export interface ActionResult {
  /** One line for people: what was done. */
  summary: string;
  /**
   * Structured outputs, kept as evidence. An action that leaves a component's data at a known point in time
   * (a promoted standby's last replayed transaction, a restored backup's time, a point-in-time target) says
   * so as `dataAsOf` (ISO 8601): messages tell people how current the data is from it.
   */
  output?: Record<string, unknown>;
}

export interface CheckResult {
  ok: boolean;
  /** One line for people: what was observed. */
  message: string;
  observed?: unknown;
}

export interface ProviderAction<Params extends z.ZodType = z.ZodType> {
  description: string;
  params: Params;
  /** Safe to run again when a crash left it unfinished. */
  idempotent: boolean;
  /**
   * Safe to run again after a crash with these parameters although not idempotent in general: the action
   * itself finds out whether the interrupted attempt completed (a marker it left on the host, see
   * `runOnce` in src/exec/) and then does not repeat it. The engine re-runs such a step on resume instead
   * of asking a person.
   */
  resumable?(params: z.output<Params>): boolean;
  /** Name of the action in the same provider that reverses this one. */
  undo?: string;
  /** Names of the evidence this action attaches. */
  evidence: readonly string[];
  /**
   * How long after the action succeeds clients still use what it replaced (a DNS record set's TTL: their
   * caches hold the old answer that long). The analysis adds it to the critical path as time until
   * clients move. Absent: clients see the change at once. `observedAs` names what the provider's readiness
   * observes of the same delay (a readiness fact's `clientsMove.key`): the TTL the server serves now.
   */
  clientsMove?(params: z.output<Params>): { ms: number; reason: string; observedAs?: string } | undefined;
  run(params: z.output<Params>, ctx: ActionContext): Promise<ActionResult>;
}

export interface ProviderCheck<Params extends z.ZodType = z.ZodType> {
  description: string;
  params: Params;
  run(params: z.output<Params>, ctx: ActionContext): Promise<CheckResult>;
}

/** A fact about a component that readiness compares with what the plan promises. */
export interface ReadinessFact {
  component: string;
  site: string | undefined;
  /** e.g. replication-lag, backup-age, reachable, backup-verified. */
  name: string;
  ok: boolean;
  value?: number | string | boolean;
  limit?: number | string;
  message: string;
  /**
   * The fact observes how long clients take to move after an action (the TTL a DNS server serves): the
   * analysis judges the longer of it and the plan's figure for the steps whose `clientsMove.observedAs`
   * is `key`.
   */
  clientsMove?: { key: string; ms: number };
}

/** What a preflight check proves: the four questions, and the people the runbook needs. */
export type PreflightKind =
  /** the target answers (database, host, HTTP endpoint, socket) */
  | 'reachable'
  /** the credentials the step uses are accepted */
  | 'credentials'
  /** the programs the step runs exist, with their versions */
  | 'tool'
  /** room to do it: free disk for the newest backup, the port free, the standby in recovery and streaming */
  | 'capacity'
  /** approvers and escalation contacts exist and can act (a token with the right role) */
  | 'people';

/**
 * One check of whether a step can still run, changing nothing. `run` returns undefined when the check
 * does not apply to these parameters (a GET-only probe of a PUT request); it is cut at the preflight's
 * timeout and reported as timed out.
 */
export interface PreflightCheck {
  name: string;
  kind: PreflightKind;
  run(params: unknown, ctx: ActionContext): Promise<CheckResult | undefined>;
}

/** Keeps a preflight check's parameter type tied to the action's schema where it is declared. */
export function definePreflight<Params extends z.ZodType>(
  _action: ProviderAction<Params>,
  check: {
    name: string;
    kind: PreflightKind;
    run(params: z.output<Params>, ctx: ActionContext): Promise<CheckResult | undefined>;
  },
): PreflightCheck {
  return check as unknown as PreflightCheck;
}

/** What a drill tells a provider that can be a workload's front door (`front_door.kind`). */
export interface FrontDoorOptions {
  /** One endpoint per site of the front door's component, the primary first. */
  endpoints: { site: string; host: string; port: number; standby: boolean }[];
  /** Where clients connect. */
  host: string;
  port: number;
  /** Where its admin interface listens, when it has one it can place (HAProxy's runtime API). */
  admin: { host: string; port: number };
  /** How the front door checks a site (the plan's `front_door` probe settings). */
  probe: { path: string; intervalMs: number; timeoutMs: number; failures: number; successes: number };
  /** The `front_door` fields as written, provider-specific ones included (an admin address, check options). */
  fields: Record<string, unknown>;
  /** A directory of its own for configuration files. */
  workDir: string;
  log: Logger;
  /** Starts a long-lived process through the execution layer; it is stopped with the drill. */
  startProcess(spec: ProcessSpec): Promise<void>;
}

/** A front door a provider started for a drill. */
export interface RunningFrontDoor {
  /** Where clients send requests, e.g. http://127.0.0.1:PORT. */
  url: string;
  /** Environment the runbooks need to drive it (an admin URL, a token); `secretEnv` names the secret ones. */
  env: Record<string, string>;
  secretEnv: string[];
  /** The site it sends traffic to now, when it can tell. */
  activeSite(): Promise<string | undefined>;
  /** What a drill report keeps of it: its state now and its events since `since` (epoch ms). */
  evidence(since: number): Promise<{ name: string; value: unknown }[]>;
  close(): Promise<void>;
}

/**
 * How a drill on this machine brings up a component of the provider's kinds. A component whose provider
 * declares nothing is left where the plan says and reached there.
 */
export type DrillSupport =
  /** the drill's supervisor runs each placement's command (behind a fault proxy when a fault needs one) */
  | { starts: 'command' }
  /**
   * the placements with `field` set (their data directory) become one local PostgreSQL cluster, the
   * primary first, the standbys streaming through the primary's fault proxy
   */
  | { starts: 'pg-cluster'; field: string };

/**
 * The backup engine a provider runs (a backup policy's `engine:` names it; drctl's own engine is run by
 * the provider of the component's kind): which of its actions back up, prune, check and restore, as
 * verifications and scheduled backups call them.
 */
export interface BackupSupport {
  actions: { backup: string; prune: string; check: string; restore: string };
  /** The restore action's parameter naming the backup to restore. */
  snapshotParam: string;
  /** The backup action's parameter for a schedule's `type:` (full, diff, incr), when the engine has kinds of backup. */
  typeParam?: string;
  /**
   * Where a verification reaches the scratch server started on its restore (`restore_to: { postgres: true }`),
   * listening on `port`; absent when the engine's restores are not servers.
   */
  scratchServerUrl?(
    plan: Plan,
    component: string,
    options: { to: string | undefined; stateDir: string },
    port: number,
  ): string;
}

/** What an isolated test failover tells a provider making a copy of a component (docs/drills.md). */
export interface IsolatedCopyOptions {
  /** The site whose placement the copy stands in for (the recovery site). */
  site: string;
  /** A scratch directory of the drill's own, removed with it. */
  dir: string;
  ctx: ActionContext;
}

/** A copy of a component made for an isolated test failover. */
export interface IsolatedCopy {
  /** The placement fields that reach the copy (`url`, `path`, `data_dir`, …); they replace the site's. */
  fields: Record<string, unknown>;
  /** What was copied, for people: "a base backup of the standby at west". */
  from: string;
  /** How current the copy's data is (ISO 8601), when the provider can tell. */
  dataAsOf?: string;
  /** Stops and removes the copy; returns what it removed, for the report. */
  remove(): Promise<string[]>;
}

/**
 * How a provider takes part in an isolated test failover: where a copy would come from, making it, and
 * a read-only picture of the real component that the drill compares before and after to prove it
 * untouched.
 */
export interface Isolation {
  /** Where a copy of the component at the site would come from, or why there is nothing. Reaches nothing. */
  source(component: Component, site: string): { from: string } | { none: string };
  copy(component: Component, options: IsolatedCopyOptions): Promise<IsolatedCopy>;
  /** Rows, replication and backups of every placement, read only; compared as JSON before and after. */
  fingerprint(component: Component, ctx: ActionContext): Promise<Record<string, unknown>>;
}

export interface Provider {
  /** The prefix of its actions in plans: `postgres` for `postgres.promote`. */
  name: string;
  description: string;
  /** Component kinds this provider serves (for `sql:` checks and readiness). */
  kinds: readonly string[];
  actions: Record<string, ProviderAction>;
  checks: Record<string, ProviderCheck>;
  /** Run a query against a component's placement at a site; rows as arrays of column values. */
  query?(component: Component, site: string, sql: string, ctx: ActionContext): Promise<unknown[][]>;
  readiness?(component: Component, ctx: ActionContext): Promise<ReadinessFact[]>;
  /** Per action name: the checks `drctl preflight` runs for a step using it (docs/preflight.md). */
  preflight?: Record<string, readonly PreflightCheck[]>;
  /** Starts a front door of this kind for a drill (the plan's `front_door.kind` names the provider kind). */
  frontDoor?(options: FrontDoorOptions): Promise<RunningFrontDoor>;
  /** The backup engine it runs, for verifications and scheduled backups (verify/). */
  backup?: BackupSupport;
  /** What a drill starts for its components (drill/). */
  drill?: DrillSupport;
  /** Copies for isolated test failovers, for the kinds that hold data. */
  isolation?: Isolation;
  /**
   * What its actions about a component need on the plan's hosts they run on: programs (`drctl hosts check`
   * reports their versions) and paths where data lands (it reports the free disk there). Empty when the
   * component is none of its business.
   */
  hostNeeds?(component: Component, plan: Plan): HostNeed[];
}

/** Programs and paths an action needs on one host of the plan. */
export interface HostNeed {
  host: string;
  tools: readonly string[];
  /** Absolute paths on the host (or their nearest existing parent) whose free disk matters. */
  paths: readonly string[];
}

/** Keeps an action's parameter type tied to its schema where it is declared. */
export function defineAction<Params extends z.ZodType>(action: ProviderAction<Params>): ProviderAction {
  return action as unknown as ProviderAction;
}

export function defineCheck<Params extends z.ZodType>(check: ProviderCheck<Params>): ProviderCheck {
  return check as unknown as ProviderCheck;
}
