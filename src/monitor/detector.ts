/**
 * The site-loss detector for one workload: a pure state machine fed with probe results, one per component
 * and site. It decides nothing about runs; it says when a site becomes suspect, when its loss is confirmed
 * and when it recovers. See ARCHITECTURE.md for the states and why transients never confirm a loss.
 */

/** What the detector knows about one site of a workload. */
export type SiteState =
  /** no probe result yet */
  | 'unknown'
  /** every component probed at the site answers */
  | 'up'
  /** a component at the site is failing, the loss is not confirmed (window not over, or no other site answers) */
  | 'suspect'
  /** confirmed: failing for the whole window, for enough probes in a row, while another site answers */
  | 'lost';

export interface DetectorProbe {
  component: string;
  site: string;
  ok: boolean;
  /**
   * When the probe started (ms since epoch): a failure is dated from when the site was asked. A probe still
   * unanswered at its silence deadline is reported failed then; its result, when it comes, replaces that.
   */
  startedAt: number;
  /** When its result came in. */
  at: number;
}

export interface DetectorComponent {
  id: string;
  /** Failed probes in a row needed, at least. */
  failures: number;
}

export interface DetectorOptions {
  workload: string;
  /** How long a component must fail without a single success. */
  detectAfterMs: number;
  components: readonly DetectorComponent[];
  /** Sites whose loss means a failover (those with a placement that is not a standby). */
  watchedSites: readonly string[];
  /** Every site probed for this workload, standby sites included. */
  sites: readonly string[];
}

export type DetectorTransition =
  | {
      type: 'site-suspect';
      workload: string;
      site: string;
      component: string;
      firstFailureAt: number;
      at: number;
    }
  | {
      type: 'site-lost';
      workload: string;
      site: string;
      component: string;
      firstFailureAt: number;
      confirmedAt: number;
      reason: string;
      answering: string[];
    }
  | {
      type: 'site-recovered';
      workload: string;
      site: string;
      wasLost: boolean;
      firstFailureAt: number;
      at: number;
      downMs: number;
    }
  /** Emitted once per streak when the window is over but no other site answers: nothing to fail over to. */
  | {
      type: 'site-unconfirmed';
      workload: string;
      site: string;
      component: string;
      firstFailureAt: number;
      at: number;
      reason: string;
    };

/**
 * One component at one site. Probes overlap (a new one starts every interval while slow ones are still out),
 * so results can arrive out of order: the streak is kept in the order probes _started_, and a result speaks
 * only for the moment its probe asked. A failure that started before the latest passing probe is stale: the
 * site answered since, so it counts toward nothing.
 */
interface Streak {
  /** Start of the latest-started passing probe; -Infinity before the first. */
  passStartedAt: number;
  /** Starts of the failed probes that began after it, oldest first: the failures in a row. */
  failedStarts: number[];
}

interface SiteRecord {
  state: SiteState;
  firstFailureAt: number;
  unconfirmedSaid: boolean;
}

/** Failed probes remembered per component and site; more than any `failures` a plan needs in practice. */
const KEPT_FAILURES = 256;

export class SiteLossDetector {
  readonly #options: DetectorOptions;
  readonly #streaks = new Map<string, Streak>();
  readonly #sites = new Map<string, SiteRecord>();
  readonly #failuresNeeded: Map<string, number>;

  constructor(options: DetectorOptions) {
    this.#options = options;
    this.#failuresNeeded = new Map(
      options.components.map((c) => [c.id, Math.min(KEPT_FAILURES, Math.max(1, c.failures))]),
    );
    for (const site of options.sites)
      this.#sites.set(site, { state: 'unknown', firstFailureAt: 0, unconfirmedSaid: false });
  }

  state(site: string): SiteState {
    return this.#sites.get(site)?.state ?? 'unknown';
  }

  /** Takes one probe result; returns the transitions it caused (usually none). */
  observe(probe: DetectorProbe): DetectorTransition[] {
    const key = `${probe.component}@${probe.site}`;
    const streak = this.#streaks.get(key) ?? { passStartedAt: -Infinity, failedStarts: [] };
    this.#streaks.set(key, streak);
    if (probe.ok) {
      // one success resets the window, for the probes that started before it
      if (probe.startedAt >= streak.passStartedAt) {
        streak.passStartedAt = probe.startedAt;
        streak.failedStarts = streak.failedStarts.filter((at) => at > probe.startedAt);
      }
    } else if (probe.startedAt > streak.passStartedAt && !streak.failedStarts.includes(probe.startedAt)) {
      // (a probe reported silent and then timed out is one failure, not two)
      const i = streak.failedStarts.findIndex((at) => at > probe.startedAt);
      streak.failedStarts.splice(i === -1 ? streak.failedStarts.length : i, 0, probe.startedAt);
      // a long outage is one failure per interval: keep the oldest (the window's start) and the newest
      if (streak.failedStarts.length > KEPT_FAILURES) streak.failedStarts.splice(1, 1);
    }
    const out: DetectorTransition[] = [];
    // a result at one site can confirm the loss of another (the standby starts answering)
    for (const site of this.#options.sites) out.push(...this.#evaluate(site, probe.at));
    return out;
  }

  #evaluate(site: string, now: number): DetectorTransition[] {
    const record = this.#sites.get(site);
    if (record === undefined) return [];
    const { workload, detectAfterMs } = this.#options;
    const failing = this.#failingAt(site);
    if (failing === undefined) {
      if (!this.#anyResultAt(site)) return [];
      const previous = record.state;
      record.state = 'up';
      record.unconfirmedSaid = false;
      if (previous === 'suspect' || previous === 'lost') {
        return [
          {
            type: 'site-recovered',
            workload,
            site,
            wasLost: previous === 'lost',
            firstFailureAt: record.firstFailureAt,
            at: now,
            downMs: now - record.firstFailureAt,
          },
        ];
      }
      return [];
    }
    const out: DetectorTransition[] = [];
    if (record.state === 'up' || record.state === 'unknown') {
      record.state = 'suspect';
      record.firstFailureAt = failing.since;
      out.push({
        type: 'site-suspect',
        workload,
        site,
        component: failing.component,
        firstFailureAt: failing.since,
        at: now,
      });
    }
    if (record.state !== 'suspect' || !this.#options.watchedSites.includes(site)) return out;
    const confirmed = this.#confirmed(site, now);
    if (confirmed === undefined) return out;
    const answering = this.#options.sites.filter((other) => other !== site && this.#answers(other));
    const reason = `${confirmed.component} at ${site} failed ${confirmed.count} probes in a row for ${now - confirmed.since}ms (window ${detectAfterMs}ms)`;
    if (answering.length === 0) {
      if (!record.unconfirmedSaid) {
        record.unconfirmedSaid = true;
        out.push({
          type: 'site-unconfirmed',
          workload,
          site,
          component: confirmed.component,
          firstFailureAt: confirmed.since,
          at: now,
          reason: `${reason}, but no other site answers`,
        });
      }
      return out;
    }
    record.state = 'lost';
    out.push({
      type: 'site-lost',
      workload,
      site,
      component: confirmed.component,
      firstFailureAt: confirmed.since,
      confirmedAt: now,
      reason: `${reason}; ${answering.join(', ')} answers`,
      answering,
    });
    return out;
  }

  /** The earliest failure streak at the site, if any component there is failing. */
  #failingAt(site: string): { component: string; since: number } | undefined {
    let found: { component: string; since: number } | undefined;
    for (const component of this.#options.components) {
      const streak = this.#streaks.get(`${component.id}@${site}`);
      const since = streak?.failedStarts[0];
      if (since !== undefined && (found === undefined || since < found.since))
        found = { component: component.id, since };
    }
    return found;
  }

  /** A component at the site that meets both conditions: the window and the count. */
  #confirmed(site: string, now: number): { component: string; since: number; count: number } | undefined {
    for (const component of this.#options.components) {
      const streak = this.#streaks.get(`${component.id}@${site}`);
      const since = streak?.failedStarts[0];
      if (streak === undefined || since === undefined) continue;
      const count = streak.failedStarts.length;
      if (
        now - since >= this.#options.detectAfterMs &&
        count >= (this.#failuresNeeded.get(component.id) ?? 1)
      ) {
        return { component: component.id, since, count };
      }
    }
    return undefined;
  }

  #anyResultAt(site: string): boolean {
    return this.#options.components.some((c) => this.#streaks.has(`${c.id}@${site}`));
  }

  /** The site answers when a component's latest-started probe there passed. */
  #answers(site: string): boolean {
    return this.#options.components.some((c) => {
      const streak = this.#streaks.get(`${c.id}@${site}`);
      return streak !== undefined && streak.passStartedAt > -Infinity && streak.failedStarts.length === 0;
    });
  }
}
