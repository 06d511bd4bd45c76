/** The plan's unit costs, with seed 002's shares of full-scale compute each strategy keeps standing. */
import type { SourceLocation } from '../errors.ts';
import type { Costs, Strategy } from './model.ts';
import type { PlanFileInput } from './schema.ts';

/**
 * How much of the full-scale compute each strategy keeps running at the recovery site (seed 002: cold
 * standby is "not running", warm standby "scaled down", hot standby "fully provisioned").
 */
export const STANDBY_SHARE: Record<Strategy, number> = {
  'backup-restore': 0,
  'cold-standby': 0.05,
  'warm-standby': 0.3,
  'hot-standby': 1,
  'active-active': 1,
};

export function compileCosts(input: NonNullable<PlanFileInput['costs']>, at: SourceLocation): Costs {
  return {
    currency: input.currency ?? 'USD',
    standbySiteMonth: input.standby_site_month ?? {},
    backupGbMonth: input.backup_gb_month ?? 0,
    replicaGbMonth: input.replica_gb_month ?? 0,
    standbyShare: { ...STANDBY_SHARE, ...input.standby_share },
    at,
  };
}
