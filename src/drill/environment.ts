/**
 * The environment of a drill, brought up from the plan on this machine: for one workload, a PostgreSQL
 * cluster per postgres component whose placements carry `data_dir` (primary at the primary site, a
 * streaming standby at the standby placement, sync or async per `replication.mode`), the process
 * placements started by the supervisor, a fault proxy in front of each site of the front door's component
 * (and of any placement a scenario cuts off), a switchboard, snapshots shipped on the component's schedule
 * (`replication.mode: snapshot`), and the front door itself, started by the provider of `front_door.kind`
 * (drctl's traffic router in priority mode by default, or HAProxy driven through its runtime API).
 *
 * The environment works on a copy of the compiled plan, rewritten to what it really started: relative data
 * paths moved under the drill's work directory, the database URLs and data directories of the clusters, the
 * fault proxies' addresses, and (with `remapPorts`) free ports instead of the plan's fixed ones. Runbooks,
 * the monitor and the engine are handed that copy, so everything they address is what runs.
 *
 * Everything started is stopped by `close()`; a process that dies without it still kills its children
 * (supervisor and cluster exit hooks).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { FaultProxy, Switchboard } from '../chaos/index.ts';
import { DrctlError, UsageError } from '../errors.ts';
import type { Component, FrontDoor, Placement, Plan, Workload } from '../plan/model.ts';
import { providers, providerForKind } from '../providers/index.ts';
import type { ActionContext, RunningFrontDoor } from '../providers/index.ts';
import { PgCluster } from '../pg/cluster.ts';
import { drillStarts, drillStartsPlacement, type DrillStarts } from './starts.ts';
import { processSpecFor, supervisorFor } from '../supervise/index.ts';
import type { Supervisor } from '../supervise/index.ts';
import { freePort } from '../system/ports.ts';

/** Strategies whose standby site runs its services all along (read-only until the failover). */
const STANDBY_RUNS: ReadonlySet<string> = new Set(['warm-standby', 'hot-standby', 'active-active']);

/** The environment variable that carries the generated database password to providers (never printed). */
export const PG_PASSWORD_ENV = 'DRCTL_DRILL_PG_PASSWORD';

export interface DrillEnvironmentOptions {
  plan: Plan;
  workload: string;
  /** State directory: pid files and logs of the processes, and the drill's data under `drills/<id>/`. */
  stateDir: string;
  /**
   * Replace every fixed 127.0.0.1 port the workload uses (front door, services, databases) with a free one,
   * in the environment's copy of the plan, so a drill never collides with something already listening.
   * Without it a port already taken is an error naming the port and the component. @default false
   */
  remapPorts?: boolean;
  /** Placements (`component@site`) a scenario cuts off with network faults: they get a fault proxy in front. */
  proxied?: readonly string[];
  /** How long a site may take to come up. @default 30000 */
  siteTimeoutMs?: number;
  /** @default a silent logger */
  log?: Logger;
  /** Aborts bringing the environment up (Ctrl-C); what was started is stopped. */
  signal?: AbortSignal;
}

/** A component's placement as it runs: where clients reach it, and what to signal for a process fault. */
export interface RunningPlacement {
  component: string;
  site: string;
  kind: DrillStarts;
  /** Where the rest of the environment reaches it (the proxy when there is one). */
  port: number | undefined;
  proxy: FaultProxy | undefined;
}

/** A snapshot shipped by the environment's scheduler. */
export interface SnapshotRecord {
  component: string;
  site: string;
  at: number;
  ok: boolean;
  summary: string;
}

export class DrillEnvironment {
  /** The rewritten copy of the plan: what runs. */
  readonly plan: Plan;
  readonly workload: Workload;
  readonly frontDoor: FrontDoor;
  /** The front door clients use, started by the provider of `front_door.kind`. */
  readonly door: RunningFrontDoor;
  readonly switchboard: Switchboard;
  readonly supervisor: Supervisor;
  readonly workDir: string;
  readonly clusters: ReadonlyMap<string, PgCluster>;
  readonly placements: readonly RunningPlacement[];
  /** Snapshots shipped so far (warm standby). */
  readonly snapshots: readonly SnapshotRecord[];
  readonly #log: Logger;
  readonly #cleanup: Cleanup;
  readonly #scheduler: SnapshotScheduler;
  #closed: Promise<void> | undefined;

  private constructor(parts: {
    plan: Plan;
    workload: Workload;
    frontDoor: FrontDoor;
    door: RunningFrontDoor;
    switchboard: Switchboard;
    supervisor: Supervisor;
    workDir: string;
    clusters: Map<string, PgCluster>;
    placements: RunningPlacement[];
    log: Logger;
    cleanup: Cleanup;
    scheduler: SnapshotScheduler;
  }) {
    this.plan = parts.plan;
    this.workload = parts.workload;
    this.frontDoor = parts.frontDoor;
    this.door = parts.door;
    this.switchboard = parts.switchboard;
    this.supervisor = parts.supervisor;
    this.workDir = parts.workDir;
    this.clusters = parts.clusters;
    this.placements = parts.placements;
    this.#log = parts.log;
    this.#cleanup = parts.cleanup;
    this.#scheduler = parts.scheduler;
    this.snapshots = parts.scheduler.records;
  }

  /** The front door clients use. */
  get url(): string {
    return this.door.url;
  }

  static async create(options: DrillEnvironmentOptions): Promise<DrillEnvironment> {
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
    const timeoutMs = options.siteTimeoutMs ?? 30_000;
    const abort = (): void => {
      if (options.signal?.aborted)
        throw new DrctlError(
          'DRCTL_DRILL_INTERRUPTED',
          'the drill was interrupted while its sites were starting',
          { exitCode: 2 },
        );
    };

    try {
      relocateData(plan, workload, workDir);

      // ---- ports: what the plan says → where it is reachable now
      const portMap = new Map<number, number>();
      const owners = fixedPorts(workload);
      for (const [port, owner] of owners) {
        if (owner.kind === 'pg-cluster') continue; // the cluster picks its own ports
        if (options.remapPorts === true) portMap.set(port, await freePort());
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
          portMap.set(port, port);
        }
      }

      // ---- databases
      const clusters = new Map<string, PgCluster>();
      const running: RunningPlacement[] = [];
      const password = randomBytes(18).toString('base64url');
      for (const component of workload.components) {
        if (drillStarts(component) !== 'pg-cluster') continue;
        const placements = component.placement.filter((p) => drillStartsPlacement(component, p));
        if (placements.length === 0) continue;
        abort();
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
          if (proxied.has(key)) {
            proxy = await FaultProxy.create({ target: node.port, log });
            cleanup.add(`proxy ${key}`, () => proxy!.close());
            port = proxy.port;
          }
          const planned = portOf(placement.url);
          if (planned !== undefined) portMap.set(planned, port);
          placement.fields.data_dir = node.dataDir;
          if (proxy !== undefined) placement.fields.listen_port = node.port;
          running.push({ component: component.id, site: placement.site, kind: 'pg-cluster', port, proxy });
        }
        // the standbys stream through the primary's proxy, so a fault between the sites cuts replication too
        const [primary, ...standbys] = ordered;
        const primaryProxy = running.find(
          (r) => r.component === component.id && r.site === primary?.site,
        )?.proxy;
        if (primary !== undefined && primaryProxy !== undefined)
          for (const standby of standbys)
            await cluster.replicateThrough(primary.site, standby.site, primaryProxy.port);
      }
      if (clusters.size > 0)
        setEnv(cleanup, { [PG_PASSWORD_ENV]: password, PGUSER: 'postgres', PGPASSWORD: password });
      plan.secrets.env.push(PG_PASSWORD_ENV, 'PGPASSWORD');

      // ---- every address in the workload now points at what runs
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

      const switchboard = await Switchboard.create({});
      cleanup.add('switchboard', () => switchboard.close());

      // ---- services: a proxy takes each proxied site's address; the service listens behind it
      for (const component of workload.components) {
        if (drillStarts(component) !== 'command') continue;
        for (const placement of component.placement) {
          const key = `${component.id}@${placement.site}`;
          const env = envOf(placement);
          env.SWITCHBOARD_URL = switchboard.url;
          const port = numberOf(placement.fields.port) ?? numberOf(env.PORT);
          let proxy: FaultProxy | undefined;
          if (proxied.has(key) && port !== undefined) {
            const inner = await freePort();
            proxy = await FaultProxy.create({ target: inner, listen: port, log });
            cleanup.add(`proxy ${key}`, () => proxy!.close());
            env.PORT = inner;
            placement.fields.ready = `127.0.0.1:${inner}`;
          }
          running.push({ component: component.id, site: placement.site, kind: 'command', port, proxy });
        }
      }
      const supervisorTimeout = Math.max(1_000, timeoutMs);
      const runsFromStart = (placement: Placement): boolean =>
        !placement.standby || STANDBY_RUNS.has(workload.strategy);
      const startPlacements = async (which: (placement: Placement) => boolean): Promise<void> => {
        // dependencies first, so a service finds its database
        for (const component of startOrder(workload)) {
          if (drillStarts(component) !== 'command') continue;
          await Promise.all(
            component.placement
              .filter((p) => which(p) && runsFromStart(p))
              .map(async (placement) => {
                abort();
                const { spec, instances } = processSpecFor(plan, {
                  component: component.id,
                  site: placement.site,
                  ready_timeout: supervisorTimeout,
                });
                try {
                  await supervisor.start(spec, {
                    instances,
                    ...(options.signal === undefined ? {} : { signal: options.signal }),
                  });
                } catch (error) {
                  throw siteDown(component.id, placement.site, error);
                }
              }),
          );
        }
      };
      await startPlacements((p) => !p.standby);
      // a warm standby is seeded from the first snapshot before its read-only service opens it
      const scheduler = new SnapshotScheduler(plan, workload, stateDir, log);
      cleanup.add('snapshots', () => scheduler.stop());
      await scheduler.start();
      await scheduler.seedStandbys();
      await startPlacements((p) => p.standby);

      // ---- the front door
      abort();
      const endpoints = placementsOf(workload, frontDoor.component)
        .sort((a, b) => Number(a.standby) - Number(b.standby))
        .map((placement) => {
          const port = running.find(
            (r) => r.component === frontDoor.component && r.site === placement.site,
          )?.port;
          if (port === undefined) {
            throw new DrctlError(
              'DRCTL_DRILL_NO_PORT',
              `the front door cannot reach ${frontDoor.component} at ${placement.site}: its placement has no port`,
              {
                hint: 'give the placement port: N (and the service PORT in env)',
                location: placement.at,
              },
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
      const doorDir = join(workDir, 'front-door');
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
            {
              hint: 'stop what listens there, or run the drill with --remap-ports',
              cause: error,
            },
          );
        }
        throw siteDown(`the front door (${frontDoor.kind})`, 'all', error);
      }
      cleanup.add('front door', () => door.close());
      setEnv(cleanup, door.env);
      plan.secrets.env.push(...door.secretEnv);

      const environment = new DrillEnvironment({
        plan,
        workload,
        frontDoor,
        door,
        switchboard,
        supervisor,
        workDir,
        clusters,
        placements: running,
        log,
        cleanup,
        scheduler,
      });
      log.info({ frontDoor: door.url, workDir }, 'drill environment up');
      return environment;
    } catch (error) {
      await cleanup.run();
      throw error;
    }
  }

  /** The running placement of a component at a site, or a clear error. */
  placement(component: string, site: string): RunningPlacement {
    const found = this.placements.find((p) => p.component === component && p.site === site);
    if (found === undefined) {
      throw new DrctlError(
        'DRCTL_DRILL_UNKNOWN_TARGET',
        `${component}@${site} is not running in this drill's environment`,
        {
          hint: `running: ${this.placements.map((p) => `${p.component}@${p.site}`).join(', ')}`,
        },
      );
    }
    return found;
  }

  /** Stop shipping snapshots from a site: a lost site's disk is gone with it. */
  siteLost(site: string): void {
    this.#scheduler.stopFrom(site);
  }

  /** Stops everything the environment started, in reverse order. Safe to call more than once. */
  close(): Promise<void> {
    this.#closed ??= this.#cleanup.run().then(() => this.#log.info({}, 'drill environment stopped'));
    return this.#closed;
  }
}

/** What to undo, in reverse order of doing it; every step runs even when one fails. */
class Cleanup {
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

/**
 * Ships snapshots of the components whose replication is `snapshot`: the provider's `backup` action from
 * the primary placement to the backup site, every `replication.every` (else the first backup policy's
 * interval). Warm standby on one machine needs this loop; in production the schedule runs it.
 */
class SnapshotScheduler {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly records: SnapshotRecord[] = [];

  constructor(
    private readonly plan: Plan,
    private readonly workload: Workload,
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  /** Restores the newest snapshot at each standby placement of a snapshot-replicated component. */
  async seedStandbys(): Promise<void> {
    for (const component of this.#components()) {
      const restore = providerForKind(component.kind)?.actions.restore;
      if (restore === undefined) continue;
      for (const placement of component.placement.filter((p) => p.standby)) {
        try {
          const params = restore.params.parse({ component: component.id, site: placement.site, force: true });
          await restore.run(params, this.context());
        } catch (error) {
          throw siteDown(component.id, placement.site, error);
        }
      }
    }
  }

  #components(): Component[] {
    return this.workload.components.filter(
      (c) => c.replication?.mode === 'snapshot' && providerForKind(c.kind)?.actions.backup !== undefined,
    );
  }

  async start(): Promise<void> {
    for (const component of this.#components()) {
      const backup = providerForKind(component.kind)?.actions.backup;
      const everyMs = component.replication?.everyMs ?? component.backups[0]?.everyMs;
      const primary = component.placement.find((p) => !p.standby);
      if (backup === undefined || everyMs === undefined || primary === undefined) continue;
      const key = `${component.id}@${primary.site}`;
      const ship = async (): Promise<void> => {
        const at = Date.now();
        try {
          const params = backup.params.parse({
            component: component.id,
            site: primary.site,
            ...(component.replication?.to ? { to: component.replication.to } : {}),
          });
          const result = await backup.run(params, this.context());
          this.records.push({
            component: component.id,
            site: primary.site,
            at,
            ok: true,
            summary: result.summary,
          });
        } catch (error) {
          this.records.push({
            component: component.id,
            site: primary.site,
            at,
            ok: false,
            summary: error instanceof Error ? error.message : String(error),
          });
          this.log.warn({ err: error, component: component.id }, 'snapshot failed');
        }
      };
      // one snapshot before the drill starts, so the standby site always has something to restore
      await ship();
      const tick = (): void => {
        if (!this.#timers.has(key)) return;
        const run = ship().finally(() => {
          this.#running.delete(run);
          if (this.#timers.has(key)) this.#timers.set(key, setTimeout(tick, everyMs));
        });
        this.#running.add(run);
      };
      this.#timers.set(key, setTimeout(tick, everyMs));
    }
  }

  stopFrom(site: string): void {
    for (const [key, timer] of this.#timers) {
      if (key.endsWith(`@${site}`)) {
        clearTimeout(timer);
        this.#timers.delete(key);
      }
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#abort.abort();
    await Promise.allSettled([...this.#running]);
  }

  private context(): ActionContext {
    return {
      signal: this.#abort.signal,
      log: this.log,
      plan: this.plan,
      stateDir: this.stateDir,
      evidence: () => undefined,
    };
  }
}

function placementsOf(workload: Workload, componentId: string): Placement[] {
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

function siteDown(component: string, site: string, error: unknown): DrctlError {
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
  const rewrite = (value: unknown, key: string | undefined): unknown => {
    if (typeof value === 'string')
      return value.replace(
        LOCAL_ADDRESS,
        (whole, host: string, port: string) => `${host}:${map.get(Number(port)) ?? port}`,
      );
    if (typeof value === 'number')
      return key !== undefined && /^ports?$/i.test(key) ? (map.get(value) ?? value) : value;
    if (Array.isArray(value)) return value.map((item) => rewrite(item, key));
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const record = value as Record<string, unknown>;
      // source locations name files, not ports
      for (const [name, inner] of Object.entries(record))
        if (name !== 'at' && name !== 'location') record[name] = rewrite(inner, name);
      return record;
    }
    return value;
  };
  for (const component of workload.components) rewrite(component, undefined);
  for (const runbook of workload.runbooks) rewrite(runbook, undefined);
}

/**
 * Moves the workload's relative data paths (placement `path` and `data_dir`, backup `path`) under the
 * drill's work directory, and every env value naming one of them with it, so a drill never writes into
 * the plan's directory and two drills never share data.
 */
function relocateData(plan: Plan, workload: Workload, workDir: string): void {
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
