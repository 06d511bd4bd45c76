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
import type { Logger } from 'pino';
import { Switchboard } from '../chaos/index.ts';
import type { FaultProxy } from '../chaos/index.ts';
import { DrctlError } from '../errors.ts';
import type { FrontDoor, Plan, Workload } from '../plan/model.ts';
import type { RunningFrontDoor } from '../providers/index.ts';
import type { PgCluster } from '../pg/cluster.ts';
import type { DrillStarts } from './starts.ts';
import type { Supervisor } from '../supervise/index.ts';
import {
  mapPorts,
  openFrontDoor,
  pointAtRunning,
  prepareBringUp,
  proxyServices,
  relocateData,
  startDatabases,
  startServices,
} from './bring-up.ts';
import type { Cleanup } from './bring-up.ts';
import { SnapshotScheduler } from './snapshots.ts';

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

  /** Brings the workload's environment up (bring-up.ts); on any failure, what was started is stopped. */
  static async create(options: DrillEnvironmentOptions): Promise<DrillEnvironment> {
    const b = prepareBringUp(options);
    const { plan, workload, log, cleanup } = b;
    try {
      relocateData(plan, workload, b.workDir);
      await mapPorts(b);
      const clusters = await startDatabases(b);
      pointAtRunning(b, clusters);
      const switchboard = await Switchboard.create({});
      cleanup.add('switchboard', () => switchboard.close());
      await proxyServices(b, switchboard);
      await startServices(b, (p) => !p.standby);
      // a warm standby is seeded from the first snapshot before its read-only service opens it
      const scheduler = new SnapshotScheduler(plan, workload, b.stateDir, log);
      cleanup.add('snapshots', () => scheduler.stop());
      await scheduler.start();
      await scheduler.seedStandbys();
      await startServices(b, (p) => p.standby);
      const door = await openFrontDoor(b);
      const environment = new DrillEnvironment({
        ...{ plan, workload, frontDoor: b.frontDoor, door, switchboard, supervisor: b.supervisor },
        ...{ workDir: b.workDir, clusters, placements: b.running, log, cleanup, scheduler },
      });
      log.info({ frontDoor: door.url, workDir: b.workDir }, 'drill environment up');
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
