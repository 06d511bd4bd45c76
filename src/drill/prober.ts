/**
 * The prober: a reader beside the canary writer. It GETs a URL on an interval, one request at a time, and
 * records whether each read succeeded, so a drill can show read availability (reads often survive a fault
 * that stops writes: a read-only standby, or the switchboard turning only the orders module off).
 */
import { failureReason, now, sleep } from './clock.ts';

export interface ProberOptions {
  /** Full URL to read, e.g. `http://127.0.0.1:8080/catalog`. */
  url: string;
  /** Time between the starts of two reads. @default 100 */
  intervalMs?: number;
  /** A read with no answer after this long fails. @default 1000 */
  timeoutMs?: number;
  /** Which statuses count as available. @default 200-399 */
  ok?: (status: number) => boolean;
}

export interface ProbeSample {
  /** When the read started, epoch milliseconds. */
  at: number;
  ok: boolean;
  latencyMs: number;
  status?: number;
  reason?: string;
}

/** A stretch of time where every read failed. */
export interface UnavailableWindow {
  from: number;
  to: number;
  ms: number;
}

export interface ProberResult {
  url: string;
  intervalMs: number;
  startedAt: number;
  stoppedAt: number;
  samples: ProbeSample[];
  /** Successful reads / reads, from 0 to 1; 1 when nothing was read. */
  availability: number;
  /** From the first failed read of a run of failures to the next successful read (or the last failure). */
  unavailable: UnavailableWindow[];
}

export interface ProberRun {
  readonly samples: readonly ProbeSample[];
  stop(): Promise<ProberResult>;
}

export const Prober = {
  start(options: ProberOptions): ProberRun {
    const intervalMs = options.intervalMs ?? 100;
    const timeoutMs = options.timeoutMs ?? 1000;
    const isOk = options.ok ?? ((status: number) => status >= 200 && status < 400);
    const samples: ProbeSample[] = [];
    const stopping = new AbortController();
    const startedAt = now();

    const loop = async (): Promise<void> => {
      while (!stopping.signal.aborted) {
        const at = now();
        try {
          const response = await fetch(options.url, { signal: AbortSignal.timeout(timeoutMs) });
          await response.arrayBuffer();
          const ok = isOk(response.status);
          samples.push({
            at,
            ok,
            latencyMs: now() - at,
            status: response.status,
            ...(ok ? {} : { reason: `http ${response.status}` }),
          });
        } catch (error) {
          samples.push({ at, ok: false, latencyMs: now() - at, reason: failureReason(error) });
        }
        await sleep(Math.max(0, at + intervalMs - now()), stopping.signal);
      }
    };
    const running = loop();

    return {
      samples,
      async stop() {
        stopping.abort();
        await running;
        return summarise(options.url, intervalMs, startedAt, now(), samples);
      },
    };
  },
};

export function summarise(
  url: string,
  intervalMs: number,
  startedAt: number,
  stoppedAt: number,
  samples: ProbeSample[],
): ProberResult {
  const unavailable: UnavailableWindow[] = [];
  let from: number | undefined;
  let lastFailure = 0;
  for (const sample of samples) {
    if (!sample.ok) {
      from ??= sample.at;
      lastFailure = sample.at + sample.latencyMs;
    } else if (from !== undefined) {
      unavailable.push({ from, to: sample.at, ms: sample.at - from });
      from = undefined;
    }
  }
  if (from !== undefined) unavailable.push({ from, to: lastFailure, ms: lastFailure - from });
  const good = samples.filter((s) => s.ok).length;
  return {
    url,
    intervalMs,
    startedAt,
    stoppedAt,
    samples: [...samples],
    availability: samples.length === 0 ? 1 : good / samples.length,
    unavailable,
  };
}
