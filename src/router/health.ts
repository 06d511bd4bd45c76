/**
 * The per-endpoint health state machine (see ARCHITECTURE.md). Pure: it takes probe results (and live
 * traffic's connection failures) with the time they were observed and says which transition, if any,
 * happened. No timers, no sockets, so every
 * rule about thresholds and flap damping is tested without waiting.
 */

/**
 * - `unknown`: no probe has answered yet (only at start).
 * - `up`: healthy; receives traffic unless drained.
 * - `suspect`: was up, but a live request met a refused or reset connection; receives no traffic until
 *   `successes` probes started after that pass (or goes down when `failures` probes fail).
 * - `down`: failed `failures` consecutive probes (or the first probe); receives no traffic.
 * - `suppressed`: healthy again, but went down too often lately; held out of rotation until `holdDownMs` passes.
 */
export type EndpointState = 'unknown' | 'up' | 'suspect' | 'down' | 'suppressed';

export interface HealthThresholds {
  /** Consecutive failed probes before an `up` endpoint is marked down. */
  failures: number;
  /** Consecutive successful probes before a `down` endpoint is marked up. */
  successes: number;
  /** Downs within `flapWindowMs` that make a recovery suppressed instead of up. */
  flapLimit: number;
  flapWindowMs: number;
  /** How long a flapping endpoint stays suppressed once it is healthy again. */
  holdDownMs: number;
}

export interface Transition {
  from: EndpointState;
  to: EndpointState;
  /** When the streak that caused the transition started (first failure, first success), epoch ms. */
  since: number;
  reason: string;
}

export class EndpointHealth {
  state: EndpointState = 'unknown';
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;
  /** Epoch ms of the last transition. */
  changedAt: number | undefined;
  suppressedUntil: number | undefined;
  /** Epoch ms when live traffic last made it suspect. */
  suspectedAt: number | undefined;
  private streakStart = 0;
  /** Epoch ms of each recent up → down transition, for flap damping. */
  private downs: number[] = [];

  constructor(private readonly thresholds: HealthThresholds) {}

  /**
   * Live traffic could not use the endpoint (a refused or reset connection): an `up` endpoint leaves
   * rotation at once, as HAProxy's `observe layer4` does. Only probes bring it back. Counts as a down for
   * flap damping, since the site stopped serving.
   */
  suspect(now: number, detail: string): Transition | undefined {
    if (this.state !== 'up') return undefined;
    this.suspectedAt = now;
    this.consecutiveSuccesses = 0;
    this.downs.push(now);
    this.streakStart = now;
    return this.move('suspect', now, `live traffic failed${suffix(detail)}`);
  }

  /**
   * Record one probe result observed at `now` (epoch ms); returns the transition it caused, if any.
   * `startedAt` is when the probe was sent: a suspect endpoint only counts successes of probes sent after
   * the failure that made it suspect.
   */
  observe(ok: boolean, now: number, detail = '', startedAt = now): Transition | undefined {
    if (ok && this.state === 'suspect' && startedAt < (this.suspectedAt ?? 0)) return undefined;
    const previousFailures = this.consecutiveFailures;
    const previousSuccesses = this.consecutiveSuccesses;
    if (ok) {
      this.consecutiveSuccesses += 1;
      this.consecutiveFailures = 0;
      if (previousSuccesses === 0) this.streakStart = now;
    } else {
      this.consecutiveFailures += 1;
      this.consecutiveSuccesses = 0;
      if (previousFailures === 0) this.streakStart = now;
    }
    const t = this.thresholds;

    switch (this.state) {
      case 'unknown':
        // Nothing to damp at start: the first answer decides, so a router is usable as soon as it is created.
        return this.move(
          ok ? 'up' : 'down',
          now,
          ok ? 'first probe succeeded' : `first probe failed${suffix(detail)}`,
        );
      case 'up':
        if (!ok && this.consecutiveFailures >= t.failures) {
          this.downs.push(now);
          return this.move(
            'down',
            now,
            `${this.consecutiveFailures} consecutive probes failed${suffix(detail)}`,
          );
        }
        return undefined;
      case 'suspect':
        // Already counted as a down for flap damping when it became suspect.
        if (!ok && this.consecutiveFailures >= t.failures)
          return this.move(
            'down',
            now,
            `${this.consecutiveFailures} consecutive probes failed${suffix(detail)}`,
          );
        if (ok && this.consecutiveSuccesses >= t.successes) return this.recover(now);
        return undefined;
      case 'down':
        if (ok && this.consecutiveSuccesses >= t.successes) return this.recover(now);
        return undefined;
      case 'suppressed':
        if (!ok) {
          // It never served while suppressed, so this is not another flap; it just has to earn its way back.
          this.suppressedUntil = undefined;
          return this.move('down', now, `probe failed while suppressed${suffix(detail)}`);
        }
        if (this.suppressedUntil !== undefined && now >= this.suppressedUntil) {
          this.suppressedUntil = undefined;
          return this.move('up', now, 'stayed healthy through the hold-down');
        }
        return undefined;
    }
  }

  /** Enough good probes after a down or a suspicion: up, unless it has gone down too often lately. */
  private recover(now: number): Transition {
    const t = this.thresholds;
    this.downs = this.downs.filter((at) => now - at <= t.flapWindowMs);
    if (this.downs.length >= t.flapLimit) {
      this.suppressedUntil = now + t.holdDownMs;
      return this.move(
        'suppressed',
        now,
        `went down ${this.downs.length} times in ${t.flapWindowMs} ms; held out until it stays healthy`,
      );
    }
    return this.move('up', now, `${this.consecutiveSuccesses} consecutive probes succeeded`);
  }

  private move(to: EndpointState, now: number, reason: string): Transition {
    const transition: Transition = { from: this.state, to, since: this.streakStart, reason };
    this.state = to;
    this.changedAt = now;
    return transition;
  }
}

function suffix(detail: string): string {
  return detail === '' ? '' : `: ${detail}`;
}
