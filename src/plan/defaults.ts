/**
 * Defaults drawn from the source documents. Each names its source so the docs (docs/plan.md) and the
 * rendered runbook can say where a number came from.
 */
import type { DrillType, Retention, TestKind, TierLevel, TierPolicy } from './model.ts';
import { parseDuration } from './duration.ts';
import { kindFacts, type RetentionClass } from './schema/kinds.ts';

const ms = (text: string): number => parseDuration(text)!;

/**
 * Seed 002 ("Select your criticality tier") gives each tier an SLO and the unit of its RTO and RPO:
 * tier 0 seconds and near-zero, tier 1 minutes, tier 2 hours, tier 3 hours to days. The numbers pick
 * the upper end of each unit, so a plan that needs tighter objectives says so.
 */
export const TIER_DEFAULTS: Record<TierLevel, TierPolicy> = {
  0: {
    tier: 0,
    name: 'Mission critical',
    slo: '99.99%',
    rtoMs: ms('1m'),
    rpoMs: ms('5s'),
    acceptsShared: [],
    source: 'seed 002, tier 0: RTO in seconds, RPO approaching zero',
  },
  1: {
    tier: 1,
    name: 'Business critical',
    slo: '99.95%',
    rtoMs: ms('30m'),
    rpoMs: ms('15m'),
    // a provider-wide outage is a risk tier 1 may take; one region, power feed or identity provider is not
    acceptsShared: ['provider'],
    source: 'seed 002, tier 1: RTO and RPO in minutes',
  },
  2: {
    tier: 2,
    name: 'Business operational',
    slo: '99.9%',
    rtoMs: ms('8h'),
    rpoMs: ms('4h'),
    acceptsShared: ['*'],
    source: 'seed 002, tier 2: RTO and RPO in hours',
  },
  3: {
    tier: 3,
    name: 'Administrative',
    slo: '<99.9%',
    rtoMs: ms('72h'),
    rpoMs: ms('24h'),
    acceptsShared: ['*'],
    source: 'seed 002, tier 3: RTO hours to days, RPO in hours',
  },
};

/** Seed 004, "DR Test Schedule": tabletop quarterly, partial twice a year, full yearly, restore monthly. */
export const DRILL_SCHEDULE_DEFAULTS: Record<DrillType, number> = {
  tabletop: ms('91d'),
  partial: ms('183d'),
  full: ms('365d'),
  'backup-restore': ms('31d'),
};

/**
 * Seed 004's test schedule by tier. Tiers 0 and 1 take it as written; a tier 2 workload halves the
 * rhythm of the exercises and drops the full failover (it may wait hours), a tier 3 one keeps a yearly
 * tabletop and a quarterly restore. A plan's drills.schedule or the workload's tests.schedule overrides it.
 */
export const TEST_SCHEDULE_BY_TIER: Record<TierLevel, Partial<Record<TestKind, number>>> = {
  0: {
    tabletop: ms('91d'),
    'partial-failover': ms('183d'),
    'full-failover': ms('365d'),
    'backup-restore': ms('31d'),
  },
  1: {
    tabletop: ms('91d'),
    'partial-failover': ms('183d'),
    'full-failover': ms('365d'),
    'backup-restore': ms('31d'),
  },
  2: { tabletop: ms('183d'), 'partial-failover': ms('365d'), 'backup-restore': ms('31d') },
  3: { tabletop: ms('365d'), 'backup-restore': ms('91d') },
};

/** A drill scenario's type as the kind of test it counts for. */
export const TEST_KIND_OF_DRILL: Record<DrillType, TestKind> = {
  tabletop: 'tabletop',
  partial: 'partial-failover',
  full: 'full-failover',
  'backup-restore': 'backup-restore',
};

/** Seed 004, "Communication Plan": status page within 15 minutes, updates every 30, root cause within 72 hours. */
export const CADENCE_DEFAULTS = {
  statusPageWithinMs: ms('15m'),
  updatesEveryMs: ms('30m'),
  rootCauseWithinMs: ms('72h'),
};

/** Where messages link to when the plan does not say (drctl serve's default address). */
export const CONSOLE_URL_DEFAULT = 'http://127.0.0.1:7400';

/** A channel that fails is tried this often, waiting twice as long each time, before the message is failed. */
export const CHANNEL_DEFAULTS = {
  attempts: 5,
  backoffMs: ms('2s'),
  maxBackoffMs: ms('5m'),
  timeoutMs: ms('10s'),
  smtpPort: 587,
};

/** Plans are reviewed at least yearly unless they say otherwise (PRODUCT.md: 12 months). */
export const REVIEW_INTERVAL_DEFAULT_MS = ms('365d');

/**
 * Seed 004, "Backup Retention Policy", one row per kind of data; a component kind picks its row in
 * `KIND_FACTS` (schema/kinds.ts). `-` in the seed's table (no weekly for logs) is 0 here.
 */
export const RETENTION_DEFAULTS = {
  databases: { daily: 7, weekly: 4, monthly: 12, yearly: 7 },
  'file-shares': { daily: 30, weekly: 12, monthly: 12, yearly: 3 },
  vms: { daily: 7, weekly: 4, monthly: 6, yearly: 1 },
  logs: { daily: 30, weekly: 0, monthly: 12, yearly: 7 },
} as const satisfies Record<RetentionClass, Retention>;

/** The retention a component's backups keep when the plan does not say: its kind's row of seed 004. */
export function defaultRetention(kind: string): Retention {
  return { ...RETENTION_DEFAULTS[kindFacts(kind)?.retention ?? 'databases'] };
}

export const STEP_DEFAULTS = {
  expectedMs: ms('1m'),
  contingencyMs: 0,
  backoffMs: ms('1s'),
  maxBackoffMs: ms('30s'),
  checkTimeoutMs: ms('30s'),
  waitEveryMs: ms('1s'),
};

export const PROBE_DEFAULTS = {
  intervalMs: ms('5s'),
  timeoutMs: ms('1s'),
  failures: 3,
  successes: 2,
  expectStatus: 200,
};

/** Backups are proven by a restore at least monthly (seed 004: backup restore drills monthly). */
export const VERIFY_EVERY_DEFAULT_MS = ms('31d');

/** How long reaching and logging in to a host may take before its step fails as unreachable. */
export const HOST_CONNECT_TIMEOUT_MS = 5_000;
