import { DrctlError } from '../errors.ts';
import type { EndpointState } from './health.ts';

/** Every event carries a sequence number and two clocks: `at` (epoch ms) and `monotonic` (performance.now()). */
export interface EventStamp {
  seq: number;
  /** Date.now() when it happened. */
  at: number;
  /** performance.now() when it happened: for durations measured in the same process. */
  monotonic: number;
}

export interface EndpointHealthEvent extends EventStamp {
  /** `endpoint-suspect`: live traffic met a refused or reset connection (passive health). */
  type: 'endpoint-up' | 'endpoint-suspect' | 'endpoint-down' | 'endpoint-suppressed';
  site: string;
  from: EndpointState;
  /** Epoch ms of the first probe of the streak that caused it (first failure for a down; the failed request for a suspect). */
  since: number;
  reason: string;
}

export interface EndpointDrainEvent extends EventStamp {
  type: 'endpoint-drained' | 'endpoint-undrained';
  site: string;
}

export interface ActiveChangedEvent extends EventStamp {
  type: 'active-changed';
  /** The site that took traffic before (the first of `previous`), null when none did. */
  from: string | null;
  /** The site that takes traffic now (the first of `serving`), null when none does. */
  to: string | null;
  previous: string[];
  serving: string[];
  /** What caused it: a health transition, a drain, a switch or an override. */
  cause: 'health' | 'drain' | 'switch' | 'start';
}

export interface OverrideEvent extends EventStamp {
  type: 'override-set' | 'override-cleared';
  site: string | null;
}

export type RouterEvent = EndpointHealthEvent | EndpointDrainEvent | ActiveChangedEvent | OverrideEvent;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RouterEventInput = DistributiveOmit<RouterEvent, keyof EventStamp>;

/** A bounded event history with listeners and a promise-returning wait, for drills and tests. */
export class EventLog {
  private readonly events: RouterEvent[] = [];
  private readonly listeners = new Set<(event: RouterEvent) => void>();
  private seq = 0;

  constructor(private readonly size: number) {}

  emit(input: RouterEventInput): RouterEvent {
    this.seq += 1;
    const event = { ...input, seq: this.seq, at: Date.now(), monotonic: performance.now() } as RouterEvent;
    this.events.push(event);
    if (this.events.length > this.size) this.events.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  history(afterSeq = 0): RouterEvent[] {
    return this.events.filter((event) => event.seq > afterSeq);
  }

  on(listener: (event: RouterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first event (after `afterSeq`, already recorded ones included) that matches; rejects with
   * DRCTL_ROUTER_WAIT_TIMEOUT when none comes within `timeoutMs`.
   */
  wait(
    match: (event: RouterEvent) => boolean,
    options: { afterSeq?: number; timeoutMs?: number } = {},
  ): Promise<RouterEvent> {
    const found = this.history(options.afterSeq ?? 0).find(match);
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new DrctlError('DRCTL_ROUTER_WAIT_TIMEOUT', `no matching router event within ${timeoutMs} ms`, {
            hint: 'check the router status: the endpoint may never have changed state',
          }),
        );
      }, timeoutMs);
      const off = this.on((event) => {
        if (!match(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  get lastSeq(): number {
    return this.seq;
  }
}
