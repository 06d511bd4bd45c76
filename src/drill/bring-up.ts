/**
 * Bringing a drill's environment up (environment.ts), phase by phase over one `BringUp`: the plan's fixed
 * ports mapped to where they are reachable now, the PostgreSQL clusters started, every address in the
 * workload pointed at what runs, the services put behind their fault proxies and started (dependencies
 * first), and the front door opened by the provider of its kind. Whatever a phase starts is added to
 * `cleanup`, which the caller runs if a later phase fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { FaultProxy } from '../chaos/index.ts';
import type { Switchboard } from '../chaos/index.ts';
import { DrctlError, UsageError } from '../errors.ts';
import type { Component, FrontDoor, Placement, Plan, Workload } from '../plan/model.ts';
import { providers, providerForKind } from '../providers/index.ts';
import type { RunningFrontDoor } from '../providers/index.ts';
import { PgCluster } from '../pg/cluster.ts';
import { drillStarts, drillStartsPlacement, type DrillStarts } from './starts.ts';
import { processSpecFor, supervisorFor } from '../supervise/index.ts';
import { freePort } from '../system/ports.ts';
import type { Supervisor } from '../supervise/index.ts';
import type { DrillEnvironmentOptions, RunningPlacement } from './environment.ts';

/** Strategies whose standby site runs its services all along (read-only until the failover). */
const STANDBY_RUNS: ReadonlySet<string> = new Set(['warm-standby', 'hot-standby', 'active-active']);

/** The environment variable that carries the generated database password to providers (never printed). */
export const PG_PASSWORD_ENV = 'DRCTL_DRILL_PG_PASSWORD';

/** What the phases of bringing an environment up share. */
export interface BringUp {
  readonly options: DrillEnvironmentOptions;
  readonly log: Logger;
  readonly stateDir: string;
  /** The drill's own directory: relocated data, the front door's files. */
  readonly workDir: string;
  /** The environment's copy of the plan, rewritten to what runs. */
  readonly plan: Plan;
  readonly workload: Workload;
  readonly frontDoor: FrontDoor;
  /** Undoes whatever the phases started, in reverse order. */
  readonly cleanup: Cleanup;
  readonly supervisor: Supervisor;
  /** Placements (`component@site`) with a fault proxy in front. */
  readonly proxied: ReadonlySet<string>;
  /** The plan's fixed ports → where they are reachable now. */
  readonly portMap: Map<number, number>;
  readonly running: RunningPlacement[];
  /** Throws DRCTL_DRILL_INTERRUPTED once the caller aborted (Ctrl-C). */
  abort(): void;
}

/**
 * Checks the workload can be drilled (it has a front door), makes the drill's directory and the copy of
 * the plan, and arms the supervisor (killed on exit, however drctl ends).
 */
export function prepareBringUp(options: DrillEnvironmentOptions): BringUp {
  const log = options.log ?? pino({ level: 'silent' });
  const source = options.plan.workloads.find((w) => w.id === options.workload);
  if (source === undefined) {
    throw new UsageError('DRCTL_DRILL_UNKNOWN_WORKLOAD', `the plan has no workload ${options.workload}`, {
      hint: `workloads in this plan: ${options.plan.workloads.map((w) => w.id).join(', ') || 'none'}`,
    });
  }
  if (source.frontDoor === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_NO_FRONT_DOOR',
      `workload ${source.id} has no front_door: a drill needs to know which component clients reach`,
      {
        hint: 'add front_door: { listen: "127.0.0.1:8080", component: <the service>, probe: /ready } to the workload (docs/plan.md)',
        location: source.at,
      },
    );
  }
  const stateDir = resolve(options.stateDir);
  const workDir = join(
    stateDir,
    'drills',
    `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`,
  );
  mkdirSync(workDir, { recursive: true });
  const plan = structuredClone(options.plan);
  const workload = plan.workloads.find((w) => w.id === options.workload) as Workload;
  const frontDoor = workload.frontDoor as FrontDoor;
  const cleanup = new Cleanup(log);
  const supervisor = supervisorFor(stateDir, log);
  // the last resort when drctl dies without closing (an uncaught error, a broken pipe): kill what it started
  const onExit = (): void => supervisor.closeSync();
  process.on('exit', onExit);
  cleanup.add('exit hook', () => process.off('exit', onExit));
  cleanup.add('processes', () => supervisor.close({ graceMs: 2_000 }));
  const proxied = new Set([
    ...(options.proxied ?? []),
    ...placementsOf(workload, frontDoor.component).map((p) => `${frontDoor.component}@${p.site}`),
  ]);
  return {
    ...{ options, log, stateDir, workDir, plan, workload, frontDoor, cleanup, supervisor, proxied },
    portMap: new Map(),
    running: [],
    abort: () => {
      if (options.signal?.aborted)
        throw new DrctlError(
          'DRCTL_DRILL_INTERRUPTED',
          'the drill was interrupted while its sites were starting',
          { exitCode: 2 },
        );
    },
  };
}

/** The plan's fixed ports: free ones instead (remapPorts), else the same ones, which must be free. */
export async function mapPorts(b: BringUp): Promise<void> {
  for (const [port, owner] of fixedPorts(b.workload)) {
    if (owner.kind === 'pg-cluster') continue; // the cluster picks its own ports
    if (b.options.remapPorts === true) b.portMap.set(port, await freePort());
    else {
      if (!(await portIsFree(port))) {
        throw new UsageError(
          'DRCTL_DRILL_PORT_TAKEN',
          `port ${port} of ${owner.what} is already taken on 127.0.0.1`,
          {
            hint: 'stop what listens there, or run the drill with --remap-ports (the demo always does) to use free ports',
            details: { port, component: owner.component },
          },
        );
      }
      b.portMap.set(port, port);
    }
  }
}

/**
 * A PostgreSQL cluster per postgres component whose placements carry `data_dir`: primary first, the
 * standbys streaming from it (through its proxy when it has one, so a fault between the sites cuts
 * replication too).
 */
export async function startDatabases(b: BringUp): Promise<Map<string, PgCluster>> {
  const { workload, log, cleanup } = b;
  const clusters = new Map<string, PgCluster>();
  const password = randomBytes(18).toString('base64url');
  for (const component of workload.components) {
    if (drillStarts(component) !== 'pg-cluster') continue;
    const placements = component.placement.filter((p) => drillStartsPlacement(component, p));
    if (placements.length === 0) continue;
    b.abort();
    const ordered = [...placements].sort((a, b) => Number(a.standby) - Number(b.standby));
    const database = databaseOf(ordered[0]?.url) ?? 'drctl';
    log.info(
      { component: component.id, sites: ordered.map((p) => p.site), mode: component.replication?.mode },
      'starting database cluster',
    );
    let cluster: PgCluster;
    try {
      cluster = await PgCluster.create({
        sites: ordered.map((p) => p.site),
        mode: component.replication?.mode === 'sync' ? 'sync' : 'async',
        database,
        password,
      });
    } catch (error) {
      throw siteDown(component.id, ordered[0]?.site ?? '?', error);
    }
    cleanup.add(`database ${component.id}`, () => cluster.close());
    clusters.set(component.id, cluster);
    for (const placement of ordered) {
      const node = cluster.node(placement.site);
      const key = `${component.id}@${placement.site}`;
      let port = node.port;
      let proxy: FaultProxy | undefined;
      if (b.proxied.has(key)) {
        proxy = await FaultProxy.create({ target: node.port, log });
        cleanup.add(`proxy ${key}`, () => proxy!.close());
        port = proxy.port;
      }
      const planned = portOf(placement.url);
      if (planned !== undefined) b.portMap.set(planned, port);
      placement.fields.data_dir = node.dataDir;
      if (proxy !== undefined) placement.fields.listen_port = node.port;
      b.running.push({ component: component.id, site: placement.site, kind: 'pg-cluster', port, proxy });
    }
    const [primary, ...standbys] = ordered;
    const primaryProxy = b.running.find(
      (r) => r.component === component.id && r.site === primary?.site,
    )?.proxy;
    if (primary !== undefined && primaryProxy !== undefined)
      for (const standby of standbys)
        await cluster.replicateThrough(primary.site, standby.site, primaryProxy.port);
  }
  if (clusters.size > 0)
    setEnv(cleanup, { [PG_PASSWORD_ENV]: password, PGUSER: 'postgres', PGPASSWORD: password });
  b.plan.secrets.env.push(PG_PASSWORD_ENV, 'PGPASSWORD');
  return clusters;
}

/** Every address in the workload now points at what runs; the clusters' URLs carry their credentials. */
export function pointAtRunning(b: BringUp, clusters: ReadonlyMap<string, PgCluster>): void {
  const { workload, frontDoor, portMap } = b;
  rewritePorts(workload, portMap);
  frontDoor.port = portMap.get(frontDoor.port) ?? frontDoor.port;
  if (frontDoor.admin !== undefined)
    frontDoor.admin.port = portMap.get(frontDoor.admin.port) ?? frontDoor.admin.port;
  for (const component of workload.components) {
    if (!clusters.has(component.id)) continue;
    for (const placement of component.placement) {
      const url = withCredentials(placement.url);
      placement.url = url;
      if (url !== undefined) placement.fields.url = url;
    }
  }
}

/** A proxy takes each proxied service's address; the service listens behind it. Every service finds the switchboard. */
export async function proxyServices(b: BringUp, switchboard: Switchboard): Promise<void> {
  for (const component of b.workload.components) {
    if (drillStarts(component) !== 'command') continue;
    for (const placement of component.placement) {
      const key = `${component.id}@${placement.site}`;
      const env = envOf(placement);
      env.SWITCHBOARD_URL = switchboard.url;
      const port = numberOf(placement.fields.port) ?? numberOf(env.PORT);
      let proxy: FaultProxy | undefined;
      if (b.proxied.has(key) && port !== undefined) {
        const inner = await freePort();
        proxy = await FaultProxy.create({ target: inner, listen: port, log: b.log });
        b.cleanup.add(`proxy ${key}`, () => proxy!.close());
        env.PORT = inner;
        placement.fields.ready = `127.0.0.1:${inner}`;
      }
      b.running.push({ component: component.id, site: placement.site, kind: 'command', port, proxy });
    }
  }
}

/**
 * Starts the services of the placements `which` picks (a standby's only when the strategy runs it all
 * along), dependencies first so a service finds its database.
 */
export async function startServices(b: BringUp, which: (placement: Placement) => boolean): Promise<void> {
  const { options, workload } = b;
  const readyTimeout = Math.max(1_000, options.siteTimeoutMs ?? 30_000);
  const runsFromStart = (placement: Placement): boolean =>
    !placement.standby || STANDBY_RUNS.has(workload.strategy);
  for (const component of startOrder(workload)) {
    if (drillStarts(component) !== 'command') continue;
    await Promise.all(
      component.placement
        .filter((p) => which(p) && runsFromStart(p))
        .map(async (placement) => {
          b.abort();
          const { spec, instances } = processSpecFor(b.plan, {
            component: component.id,
            site: placement.site,
            ready_timeout: readyTimeout,
          });
          try {
            await b.supervisor.start(spec, {
              instances,
              ...(options.signal === undefined ? {} : { signal: options.signal }),
            });
          } catch (error) {
            throw siteDown(component.id, placement.site, error);
          }
        }),
    );
  }
}

/** The front door, started by the provider of its kind in front of the component's placements (primary first). */
export async function openFrontDoor(b: BringUp): Promise<RunningFrontDoor> {
  const { frontDoor, workload, log, supervisor } = b;
  b.abort();
  const endpoints = placementsOf(workload, frontDoor.component)
    .sort((a, b) => Number(a.standby) - Number(b.standby))
    .map((placement) => {
      const port = b.running.find(
        (r) => r.component === frontDoor.component && r.site === placement.site,
      )?.port;
      if (port === undefined) {
        throw new DrctlError(
          'DRCTL_DRILL_NO_PORT',
          `the front door cannot reach ${frontDoor.component} at ${placement.site}: its placement has no port`,
          { hint: 'give the placement port: N (and the service PORT in env)', location: placement.at },
        );
      }
      return { site: placement.site, host: '127.0.0.1', port, standby: placement.standby };
    });
  const doorProvider = providerForKind(frontDoor.kind);
  if (doorProvider?.frontDoor === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_FRONT_DOOR_KIND',
      `no provider can start a front door of kind ${frontDoor.kind}`,
      {
        hint: `kinds that can: ${frontDoorKinds().join(', ')}`,
        location: frontDoor.at,
      },
    );
  }
  const doorDir = join(b.workDir, 'front-door');
  mkdirSync(doorDir, { recursive: true });
  let door: RunningFrontDoor;
  try {
    door = await doorProvider.frontDoor({
      endpoints,
      host: frontDoor.host,
      port: frontDoor.port,
      admin: frontDoor.admin ?? { host: '127.0.0.1', port: await freePort() },
      probe: {
        path: frontDoor.probePath,
        intervalMs: frontDoor.intervalMs,
        timeoutMs: frontDoor.timeoutMs,
        failures: frontDoor.failures,
        successes: frontDoor.successes,
      },
      fields: frontDoor.fields,
      workDir: doorDir,
      log,
      startProcess: async (spec) => {
        await supervisor.start({ ...spec, cwd: doorDir });
      },
    });
  } catch (error) {
    if (error instanceof DrctlError && error.code === 'DRCTL_ROUTER_LISTEN_FAILED') {
      throw new UsageError(
        'DRCTL_DRILL_PORT_TAKEN',
        `port ${frontDoor.port} of the front door of workload ${workload.id} is already taken on ${frontDoor.host}`,
        { hint: 'stop what listens there, or run the drill with --remap-ports', cause: error },
      );
    }
    throw siteDown(`the front door (${frontDoor.kind})`, 'all', error);
  }
  b.cleanup.add('front door', () => door.close());
  setEnv(b.cleanup, door.env);
  b.plan.secrets.env.push(...door.secretEnv);
  return door;
}

/** What to undo, in reverse order of doing it; every step runs even when one fails. */
export class Cleanup {
  readonly #steps: { what: string; undo: () => unknown }[] = [];
  constructor(private readonly log: Logger) {}

  add(what: string, undo: () => unknown): void {
    this.#steps.push({ what, undo });
  }

  async run(): Promise<void> {
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.undo();
      } catch (error) {
        this.log.warn({ err: error, what: step.what }, 'cleanup step failed');
      }
    }
  }
}

/** Sets environment variables for the life of the environment and puts the old values back on close. */
function setEnv(cleanup: Cleanup, values: Record<string, string>): void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  cleanup.add('environment variables', () => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

export function placementsOf(workload: Workload, componentId: string): Placement[] {
  return workload.components.find((c) => c.id === componentId)?.placement ?? [];
}

/** Components in dependency order (within the workload). */
export function startOrder(workload: Workload): Component[] {
  const done = new Set<string>();
  const ordered: Component[] = [];
  const visit = (component: Component, depth: number): void => {
    if (done.has(component.id) || depth > workload.components.length) return;
    for (const dep of component.dependsOn) {
      const target = workload.components.find((c) => c.id === dep);
      if (target !== undefined) visit(target, depth + 1);
    }
    if (!done.has(component.id)) {
      done.add(component.id);
      ordered.push(component);
    }
  };
  for (const component of workload.components) visit(component, 0);
  return ordered;
}

export function siteDown(component: string, site: string, error: unknown): DrctlError {
  const reason = error instanceof Error ? error.message : String(error);
  const code = error instanceof DrctlError ? ` (${error.code})` : '';
  return new DrctlError(
    'DRCTL_DRILL_SITE_DOWN',
    `site ${site} did not come up: ${component}@${site} failed to start${code}: ${reason}`,
    {
      hint: 'read the log named in the details; check the placement command, its environment and its port',
      cause: error,
      details: error instanceof DrctlError ? { ...error.details } : {},
      exitCode: 2,
    },
  );
}

interface PortOwner {
  component: string;
  kind: DrillStarts | 'front-door';
  what: string;
}

/** Every fixed 127.0.0.1 port the workload's placements and front door name, and who owns it. */
function fixedPorts(workload: Workload): Map<number, PortOwner> {
  const ports = new Map<number, PortOwner>();
  const door = workload.frontDoor;
  if (door !== undefined) {
    ports.set(door.port, {
      component: door.component,
      kind: 'front-door',
      what: `the front door of workload ${workload.id}`,
    });
    if (door.admin !== undefined)
      ports.set(door.admin.port, {
        component: door.component,
        kind: 'front-door',
        what: `the admin interface of the front door of workload ${workload.id}`,
      });
  }
  for (const component of workload.components) {
    for (const placement of component.placement) {
      const what = `component ${component.id} at site ${placement.site}`;
      const kind =
        drillStarts(component) === 'pg-cluster' && drillStartsPlacement(component, placement)
          ? 'pg-cluster'
          : 'command';
      const candidates = [
        numberOf(placement.fields.port),
        numberOf(envOf(placement).PORT),
        portOf(placement.url),
      ];
      if (Array.isArray(placement.fields.ports)) candidates.push(...placement.fields.ports.map(numberOf));
      for (const port of candidates)
        if (port !== undefined && !ports.has(port)) ports.set(port, { component: component.id, kind, what });
    }
  }
  return ports;
}

const LOCAL_ADDRESS = /\b(127\.0\.0\.1|localhost):(\d{1,5})\b/g;

/** Rewrites every local port the workload mentions: strings (URLs, host:port), and numeric port fields. */
function rewritePorts(workload: Workload, map: ReadonlyMap<number, number>): void {
  const text = (value: string): string =>
    value.replace(
      LOCAL_ADDRESS,
      (whole, host: string, port: string) => `${host}:${map.get(Number(port)) ?? port}`,
    );
  for (const component of workload.components) rewriteInPlace(component, text, map);
  for (const runbook of workload.runbooks) rewriteInPlace(runbook, text, map);
}

/**
 * Rewrites a part of a plan in place: every string through `text`, every numeric `port` or `ports` field
 * through `ports`. Source locations (`at`, `location`) name files, not ports: they are left alone.
 */
export function rewriteInPlace(
  target: object,
  text: (value: string) => string,
  ports: ReadonlyMap<number, number>,
): void {
  const rewrite = (value: unknown, key: string | undefined): unknown => {
    if (typeof value === 'string') return text(value);
    if (typeof value === 'number')
      return key !== undefined && /^ports?$/i.test(key) ? (ports.get(value) ?? value) : value;
    if (Array.isArray(value)) return value.map((item) => rewrite(item, key));
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const record = value as Record<string, unknown>;
      for (const [name, inner] of Object.entries(record))
        if (name !== 'at' && name !== 'location') record[name] = rewrite(inner, name);
      return record;
    }
    return value;
  };
  rewrite(target, undefined);
}

/**
 * Moves the workload's relative data paths (placement `path` and `data_dir`, backup `path`) under the
 * drill's work directory, and every env value naming one of them with it, so a drill never writes into
 * the plan's directory and two drills never share data.
 */
export function relocateData(plan: Plan, workload: Workload, workDir: string): void {
  const moved = new Map<string, string>();
  const move = (path: string): string => {
    if (isAbsolute(path)) return path;
    const target = join(workDir, path);
    moved.set(path, target);
    return target;
  };
  for (const component of workload.components) {
    for (const placement of component.placement) {
      if (placement.path !== undefined) {
        placement.path = move(placement.path);
        placement.fields.path = placement.path;
      }
      if (typeof placement.fields.data_dir === 'string')
        placement.fields.data_dir = move(placement.fields.data_dir);
    }
    for (const backup of component.backups) if (backup.path !== undefined) backup.path = move(backup.path);
  }
  for (const component of workload.components) {
    for (const placement of component.placement) {
      const env = envOf(placement);
      for (const [name, value] of Object.entries(env)) {
        if (typeof value === 'string' && moved.has(value)) env[name] = moved.get(value)!;
      }
    }
  }
  for (const target of moved.values()) mkdirSync(resolve(target, '..'), { recursive: true });
  void plan;
}

/** The placement's env, as a mutable record (created when absent). */
export function envOf(placement: Placement): Record<string, unknown> {
  const env = placement.fields.env;
  if (env !== null && typeof env === 'object' && !Array.isArray(env)) return env as Record<string, unknown>;
  const created: Record<string, unknown> = {};
  placement.fields.env = created;
  return created;
}

export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d{1,5}$/.test(value)) return Number(value);
  return undefined;
}

export function portOf(url: string | undefined): number | undefined {
  if (url === undefined) return undefined;
  const match = /^[a-z]+:\/\/(?:[^@/]*@)?(?:127\.0\.0\.1|localhost):(\d{1,5})/i.exec(url);
  return match === null ? undefined : Number(match[1]);
}

function databaseOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? undefined : name;
  } catch {
    return undefined;
  }
}

/** The URL with the cluster's superuser and the password by reference, so providers can log the URL. */
function withCredentials(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  return url.replace(/^(postgres(?:ql)?:\/\/)(?:[^@/]*@)?/i, `$1postgres:\${${PG_PASSWORD_ENV}}@`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = net.createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

function frontDoorKinds(): string[] {
  return providers.filter((p) => p.frontDoor !== undefined).flatMap((p) => p.kinds);
}
