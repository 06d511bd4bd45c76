/**
 * The monitor inside `drctl serve --monitor`: every instance probes every watched workload, but only the
 * workload's leader starts its failover. Leadership is the store's lease `monitor:<workload>`, renewed
 * every third of the lease TTL (the same lease, database clock and fencing token runs use). The start is
 * also fenced: the leader renews with its token just before, then claims the start with a versioned
 * document (`monitor-failovers/<workload>`), so a leader that was paused past its lease and comes back
 * finds the claim taken and starts nothing. Two instances never start two failovers.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DrctlError, hasCode } from '../errors.ts';
import { Monitor } from '../monitor/index.ts';
import type { MonitorOptions } from '../monitor/index.ts';
import type { Plan } from '../plan/index.ts';
import type { RunStore } from '../store/index.ts';
import type { ServerContext } from './context.ts';
import type { ServerService } from './context.ts';

/** Where the monitors of all instances record which failover they started, per workload. */
export const MONITOR_FAILOVERS = 'monitor-failovers';

const FINAL_BAD = new Set(['failed', 'cancelled', 'rolled-back']);

export const monitorLeaseKey = (workload: string): string => `monitor:${workload}`;

/** The leases this instance holds or wants, renewed in the background. */
class Leadership {
  readonly owner = `${hostname()}:${process.pid}:monitor:${randomUUID()}`;
  readonly #store: RunStore;
  readonly #ttlMs: number;
  readonly #held = new Map<string, number>();
  readonly #keys = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  constructor(store: RunStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  want(key: string): void {
    this.#keys.add(key);
  }

  /** The fencing token while this instance leads `key`. */
  token(key: string): number | undefined {
    return this.#held.get(key);
  }

  start(onError: (error: unknown) => void): void {
    const renew = (): void => {
      this.#renewing ??= this.renew()
        .catch(onError)
        .finally(() => (this.#renewing = undefined));
    };
    renew();
    this.#timer = setInterval(renew, Math.max(50, this.#ttlMs / 3));
    this.#timer.unref();
  }

  /** Takes or renews every wanted lease; a lease held by a live other instance is left to it. */
  async renew(): Promise<void> {
    for (const key of this.#keys) {
      const token = this.#held.get(key);
      try {
        const lease = await this.#store.acquireLease(key, {
          owner: this.owner,
          pid: process.pid,
          host: hostname(),
          ttlMs: this.#ttlMs,
          ...(token === undefined ? {} : { token }),
        });
        this.#held.set(key, lease.token);
      } catch (error) {
        this.#held.delete(key);
        const code = error instanceof DrctlError ? error.code : undefined;
        if (code !== 'DRCTL_RUN_LOCKED' && code !== 'DRCTL_RUN_LEASE_LOST') throw error;
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing;
    for (const key of this.#held.keys())
      await this.#store.releaseLease(key, this.owner).catch(() => undefined);
    this.#held.clear();
  }
}

/**
 * The leader's start: skip when another leader's failover for this workload stands, claim the start
 * (compare-and-set on the document's version), renew the lease with its token (a leader that lost it
 * finds out here), then start the run and record it.
 */
function fencedStart(
  ctx: Pick<ServerContext, 'store' | 'runs'>,
  plan: Plan,
  leadership: Leadership,
  ttlMs: number,
): MonitorOptions['startRunbook'] {
  return async (request) => {
    const key = monitorLeaseKey(request.workload);
    const token = leadership.token(key);
    if (token === undefined) throw notLeader(request.workload);
    const previous = await ctx.store.getDocument(MONITOR_FAILOVERS, request.workload);
    const runId = previous?.data.runId;
    if (typeof runId === 'string') {
      const run = await ctx.store.getRun(runId);
      if (run !== undefined && !FINAL_BAD.has(run.status)) return { runId };
    } else if (previous !== undefined && previous.data.claimedBy !== leadership.owner) {
      // another leader claimed the start and has not recorded its run: it may be starting it now
      const age = Date.now() - Date.parse(String(previous.data.at));
      if (!(age > 2 * ttlMs)) throw notLeader(request.workload);
    }
    const claimed = await ctx.store.putDocument(
      MONITOR_FAILOVERS,
      request.workload,
      { claimedBy: leadership.owner, token, at: new Date().toISOString() },
      { expectVersion: previous?.version ?? 0 },
    );
    // renewed with the token after the claim: a leader paused past its lease finds out here, and the
    // next leader waits out this claim before it claims again (see postgres/ARCHITECTURE.md)
    await ctx.store.acquireLease(key, {
      owner: leadership.owner,
      pid: process.pid,
      host: hostname(),
      ttlMs,
      token,
    });
    // as the CLI's monitor starts it (engine-start.ts): automatic at once, else behind the activation gate
    const driver = await ctx.runs.start({
      plan,
      runbook: request.runbook,
      workload: request.workload,
      startedBy: 'monitor',
      trigger: { automatic: request.automatic, reason: request.reason },
      ...(request.automatic
        ? {}
        : {
            activation: {
              approvers: plan.activation?.approvers ?? [],
              quorum: plan.activation?.quorum ?? 1,
              reason: request.reason,
            },
          }),
    });
    const newRun = driver.runId;
    await ctx.store.putDocument(
      MONITOR_FAILOVERS,
      request.workload,
      { runId: newRun, claimedBy: leadership.owner, token, at: new Date().toISOString() },
      { expectVersion: claimed.version },
    );
    return { runId: newRun };
  };
}

function notLeader(workload: string): DrctlError {
  return new DrctlError(
    'DRCTL_MONITOR_NOT_LEADER',
    `this instance no longer leads workload ${workload}; its leader decides the failover`,
    { hint: 'nothing to do: the instance holding the lease monitor:<workload> starts it' },
  );
}

/** `drctl serve --monitor`: one Monitor per served plan, failovers started by each workload's leader. */
export function monitorService(): ServerService {
  const monitors: Monitor[] = [];
  let leadership: Leadership | undefined;
  return {
    name: 'monitor',
    async start(ctx) {
      if (ctx.options.monitor !== true) return;
      const ttlMs = ctx.options.leaseTtlMs;
      leadership = new Leadership(ctx.store, ttlMs);
      const lead = leadership;
      for (const plan of ctx.plans.list()) {
        const latched: Record<string, string> = {};
        for (const workload of plan.workloads) {
          const doc = await ctx.store.getDocument(MONITOR_FAILOVERS, workload.id);
          const runId = doc?.data.runId;
          if (typeof runId !== 'string') continue;
          const run = await ctx.store.getRun(runId);
          if (run !== undefined && !FINAL_BAD.has(run.status)) latched[workload.id] = runId;
        }
        let monitor: Monitor;
        try {
          monitor = Monitor.start({
            plan,
            logger: ctx.logger.child({ part: 'monitor', plan: plan.name }),
            startRunbook: fencedStart(ctx, plan, lead, ttlMs),
            runStatus: async (runId) => (await ctx.store.getRun(runId))?.status,
            latched,
            leads: (workload) => lead.token(monitorLeaseKey(workload)) !== undefined,
          });
        } catch (error) {
          if (hasCode(error, 'DRCTL_MONITOR_NOTHING_TO_WATCH')) {
            ctx.logger.info({ plan: plan.name }, 'no workload of this plan has probes: not monitored');
            continue;
          }
          throw error;
        }
        for (const watched of monitor.status()) lead.want(monitorLeaseKey(watched.workload));
        monitor.on('event', (event) => {
          if (event.type === 'probe') return;
          ctx.bus.publish({ type: 'monitor', at: new Date().toISOString(), data: { ...event } });
        });
        monitors.push(monitor);
      }
      lead.start((error) => ctx.logger.warn({ err: error }, 'renewing monitor leadership failed'));
    },
    async stop() {
      await Promise.all(monitors.map((monitor) => monitor.stop()));
      await leadership?.stop();
    },
  };
}
