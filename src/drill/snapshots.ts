/**
 * Snapshots shipped in a drill environment (environment.ts) for components whose replication is
 * `snapshot`, and the standbys seeded from them.
 */
import type { Logger } from 'pino';
import type { Component, Plan, Workload } from '../plan/model.ts';
import { providerForKind } from '../providers/index.ts';
import type { ActionContext } from '../providers/index.ts';
import { siteDown } from './bring-up.ts';
import type { SnapshotRecord } from './environment.ts';

/**
 * Ships snapshots of the components whose replication is `snapshot`: the provider's `backup` action from
 * the primary placement to the backup site, every `replication.every` (else the first backup policy's
 * interval). Warm standby on one machine needs this loop; in production the schedule runs it.
 */
export class SnapshotScheduler {
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
