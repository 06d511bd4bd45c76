/**
 * The canary writer: the client of the reference disaster. It writes an order through the front door on a
 * fixed schedule and remembers every write the service acknowledged and every write that failed, so a drill
 * can say what the client saw (how long writes failed) and what it lost (acknowledged orders missing from
 * the database that survived). Definitions are in docs/drills.md.
 */
import { randomBytes } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as fetchThrough } from 'undici';
import { failureReason, now } from './clock.ts';

export interface CanaryOptions {
  /** Base URL of the front door, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** How often a write is started. Writes overlap when the service is slow. @default 10 */
  intervalMs?: number;
  /** A write that has no answer after this long counts as failed. @default 1000 */
  timeoutMs?: number;
  /** Path the orders are POSTed to. @default '/orders' */
  path?: string;
  /** Prefix of the order ids, so the canary's orders can be told apart from others. @default `canary-<random>` */
  idPrefix?: string;
  /** Catalogue item the orders are for. @default 'canary' */
  item?: string;
  /** Writes allowed in flight at once; a tick beyond it is skipped and counted, not queued. @default 200 */
  maxInFlight?: number;
  /**
   * How the front door's name becomes an address, for a front door that is a DNS name served by the
   * team's own servers (e.g. asked of a given resolver on every connection). @default the system's resolver
   */
  lookup?: LookupFunction;
}

/** A write the service acknowledged: it answered 2xx with the order's id. Times are epoch milliseconds. */
export interface CanaryAck {
  /** The canary's own sequence number: the order writes were started in. */
  seq: number;
  /** The order id the canary chose; what the surviving database is searched for. */
  id: string;
  sentAt: number;
  ackAt: number;
  status: number;
  /** The site that answered, when the service says (`site` in its answer). */
  site?: string;
}

/** A write that did not get an acknowledgement: refused, reset, timed out or answered without the order. */
export interface CanaryFailure {
  seq: number;
  id: string;
  sentAt: number;
  /** When the failure was seen by the client. */
  at: number;
  /** `timeout`, a socket error code (`ECONNREFUSED`), or `http 503 read-only`. */
  reason: string;
  status?: number;
}

export interface CanaryResult {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  idPrefix: string;
  startedAt: number;
  stoppedAt: number;
  /** Writes started. */
  sent: number;
  /** Ticks skipped because `maxInFlight` writes were already waiting. */
  skipped: number;
  acks: CanaryAck[];
  failures: CanaryFailure[];
}

/** A running canary. `acks` and `failures` grow while it runs; `stop` waits for writes in flight. */
export interface CanaryRun {
  readonly acks: readonly CanaryAck[];
  readonly failures: readonly CanaryFailure[];
  readonly sent: number;
  /** Resolves when `count` more writes have been acknowledged (or the canary stops). */
  waitForAcks(count: number): Promise<void>;
  stop(): Promise<CanaryResult>;
}

export const Canary = {
  start(options: CanaryOptions): CanaryRun {
    const intervalMs = options.intervalMs ?? 10;
    const timeoutMs = options.timeoutMs ?? 1000;
    const maxInFlight = options.maxInFlight ?? 200;
    const idPrefix = options.idPrefix ?? `canary-${randomBytes(4).toString('hex')}`;
    const target = new URL(options.path ?? '/orders', options.url).toString();
    const item = options.item ?? 'canary';
    const startedAt = now();
    const acks: CanaryAck[] = [];
    const failures: CanaryFailure[] = [];
    const inFlight = new Set<Promise<void>>();
    // no kept-alive connections (pipelining 0): every write resolves the name again, so it follows a switch
    const agent =
      options.lookup === undefined
        ? undefined
        : new Agent({ connect: { lookup: options.lookup }, pipelining: 0 });
    const post: typeof fetch =
      agent === undefined
        ? fetch
        : // undici's fetch and the global one differ only in their types' origin
          (((input: string, init: RequestInit) =>
            fetchThrough(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch);
    const waiters: { until: number; resolve: () => void }[] = [];
    let seq = 0;
    let skipped = 0;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;

    const settleWaiters = (): void => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        const waiter = waiters[i];
        if (waiter !== undefined && (stopped || acks.length >= waiter.until)) {
          waiters.splice(i, 1);
          waiter.resolve();
        }
      }
    };

    const write = async (n: number): Promise<void> => {
      const id = `${idPrefix}-${n}`;
      const sentAt = now();
      try {
        const response = await post(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, item, qty: 1 }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        const at = now();
        const body = parseJson(text);
        // Only the service's own answer about this order counts: a router's 2xx error page does not.
        if (response.ok && body?.id === id) {
          const ack: CanaryAck = { seq: n, id, sentAt, ackAt: at, status: response.status };
          if (typeof body.site === 'string') ack.site = body.site;
          acks.push(ack);
          settleWaiters();
          return;
        }
        const detail = typeof body?.error === 'string' ? ` ${body.error}` : '';
        failures.push({
          seq: n,
          id,
          sentAt,
          at,
          reason: `http ${response.status}${detail}`,
          status: response.status,
        });
      } catch (error) {
        failures.push({ seq: n, id, sentAt, at: now(), reason: failureReason(error) });
      }
    };

    // Fixed rate against the start time, so a slow tick does not shift every later write.
    const tick = (): void => {
      if (stopped) return;
      if (inFlight.size >= maxInFlight) skipped++;
      else {
        seq++;
        const promise: Promise<void> = write(seq).finally(() => inFlight.delete(promise));
        inFlight.add(promise);
      }
      const elapsed = now() - startedAt;
      const next = Math.ceil((elapsed + 0.001) / intervalMs) * intervalMs;
      timer = setTimeout(tick, Math.max(0, next - elapsed));
    };
    tick();

    return {
      acks,
      failures,
      get sent() {
        return seq;
      },
      waitForAcks(count) {
        const until = acks.length + count;
        return new Promise((resolve) => {
          waiters.push({ until, resolve });
          settleWaiters();
        });
      },
      async stop() {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        settleWaiters();
        await Promise.allSettled([...inFlight]);
        if (agent !== undefined && !agent.closed) await agent.close();
        const bySeq = (a: { seq: number }, b: { seq: number }): number => a.seq - b.seq;
        return {
          url: target,
          intervalMs,
          timeoutMs,
          idPrefix,
          startedAt,
          stoppedAt: now(),
          sent: seq,
          skipped,
          acks: [...acks].sort(bySeq),
          failures: [...failures].sort(bySeq),
        };
      },
    };
  },
};

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What the client saw of one fault. Times are epoch milliseconds; durations milliseconds. */
export interface OutageMeasurement {
  /** When the fault had taken effect (the killed process was seen exiting, the proxy was switched). */
  faultAt: number;
  /** False when no write failed after the fault: the client saw nothing. */
  impacted: boolean;
  /** The first write that failed after the fault (by the order writes were started). */
  firstFailure: CanaryFailure | undefined;
  /** The first acknowledged write started after that failure and after the fault. */
  firstSuccess: CanaryAck | undefined;
  /** First failure (not before the fault) → acknowledgement of the first success. */
  outageMs: number | undefined;
  /** Fault → acknowledgement of the first success after it: the RTO as the client saw it. */
  rtoMs: number | undefined;
  /** Writes that failed between the first failure and the first success. */
  failedWrites: number;
  /** Writes that failed after the first success: the service flapped after it came back. */
  failuresAfterRecovery: number;
}

/**
 * Measures the outage one fault caused. `faultAt` is when the fault had taken effect. A failure counts when it
 * was seen at or after the fault, so a write in flight when the site died counts too; recovery is the first
 * acknowledged write started after both the fault and the first failure, so an answer already on its way
 * from the dying site does not end the outage.
 */
export function measureOutage(
  result: { acks: readonly CanaryAck[]; failures: readonly CanaryFailure[] },
  faultAt: number,
): OutageMeasurement {
  const firstFailure = minBy(
    result.failures.filter((f) => f.at >= faultAt),
    (f) => f.seq,
  );
  if (firstFailure === undefined) {
    return {
      faultAt,
      impacted: false,
      firstFailure: undefined,
      firstSuccess: undefined,
      outageMs: 0,
      rtoMs: 0,
      failedWrites: 0,
      failuresAfterRecovery: 0,
    };
  }
  // Writes complete out of order, so an answer to a write started before the fault proves nothing about
  // recovery, even when it arrives after the first failure.
  const firstSuccess = minBy(
    result.acks.filter((a) => a.seq > firstFailure.seq && a.sentAt >= faultAt),
    (a) => a.seq,
  );
  const start = Math.max(firstFailure.sentAt, faultAt);
  const endSeq = firstSuccess?.seq ?? Infinity;
  return {
    faultAt,
    impacted: true,
    firstFailure,
    firstSuccess,
    outageMs: firstSuccess === undefined ? undefined : firstSuccess.ackAt - start,
    rtoMs: firstSuccess === undefined ? undefined : firstSuccess.ackAt - faultAt,
    failedWrites: result.failures.filter((f) => f.seq >= firstFailure.seq && f.seq < endSeq).length,
    failuresAfterRecovery: result.failures.filter((f) => f.seq > endSeq).length,
  };
}

/**
 * Which acknowledged orders the surviving database holds: the ids themselves, or a function that receives the
 * acknowledged ids and answers those it found (one query, e.g. `SELECT id FROM orders WHERE id = ANY($1)`).
 */
export type PresentOrders =
  Iterable<string> | ((ids: string[]) => Promise<Iterable<string>> | Iterable<string>);

/** Acknowledged writes missing after recovery: the RPO as measured. */
export interface LossMeasurement {
  /** Acknowledged writes that were looked for. */
  acknowledged: number;
  /** The acknowledged writes not found, in the order they were written. */
  lost: CanaryAck[];
  count: number;
  /** Acknowledgement time of the first and last lost write. */
  firstLostAt: number | undefined;
  lastLostAt: number | undefined;
  /** Seconds of data lost, in ms: last lost acknowledgement − first lost acknowledgement (0 for a single one). */
  spanMs: number;
}

export async function measureLoss(
  acks: readonly CanaryAck[],
  present: PresentOrders,
): Promise<LossMeasurement> {
  const ids = acks.map((a) => a.id);
  const found = new Set(typeof present === 'function' ? await present(ids) : present);
  const lost = acks.filter((a) => !found.has(a.id)).sort((a, b) => a.seq - b.seq);
  const firstLostAt = minBy(lost, (a) => a.ackAt)?.ackAt;
  const lastLostAt = minBy(lost, (a) => -a.ackAt)?.ackAt;
  return {
    acknowledged: acks.length,
    lost,
    count: lost.length,
    firstLostAt,
    lastLostAt,
    spanMs: firstLostAt === undefined || lastLostAt === undefined ? 0 : lastLostAt - firstLostAt,
  };
}

function minBy<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || key(item) < key(best)) best = item;
  return best;
}
