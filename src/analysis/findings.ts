/**
 * What analysis reports: findings, each with a stable code, a severity, a place in the plan, a message
 * naming the thing and a hint saying how to fix it. The catalogue below is the one list of codes;
 * docs/analysis.md describes each of them and tests match on them.
 */
import type { SourceLocation } from '../errors.ts';

/** How much a finding matters. */
export type Severity =
  /** The plan cannot keep a promise it makes (RTO, RPO, an approval nobody can give): `drctl analyze` exits 1. */
  | 'error'
  /** A weakness that will hurt on the day (no backup contact, stale drill, weakest link). */
  | 'warning'
  /** Worth knowing (spending more than the tier needs, an assumed default). */
  | 'info';

export const SEVERITIES = ['error', 'warning', 'info'] as const satisfies readonly Severity[];

/** Every finding code with its severity and the source document it comes from. */
export const FINDINGS = {
  DRCTL_RTO_EXCEEDED: { severity: 'error', seed: '000' },
  DRCTL_SITE_RTO_EXCEEDED: { severity: 'error', seed: '000' },
  DRCTL_PEOPLE_RTO: { severity: 'error', seed: '000' },
  DRCTL_TTL_EXCEEDS_RTO: { severity: 'error', seed: '001' },
  DRCTL_TTL_MISSES_RTO: { severity: 'error', seed: '001' },
  DRCTL_RPO_EXCEEDED: { severity: 'error', seed: '003' },
  DRCTL_RPO_ASSUMED: { severity: 'info', seed: '004' },
  DRCTL_DATA_UNPROTECTED: { severity: 'error', seed: '003' },
  DRCTL_BACKUP_321: { severity: 'warning', seed: '004' },
  DRCTL_CROSS_STORE_INCONSISTENT: { severity: 'warning', seed: '003' },
  DRCTL_WEAKEST_LINK: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_TOO_WEAK: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_OVERSPEND: { severity: 'info', seed: '002' },
  DRCTL_OBJECTIVE_LOOSER_THAN_TIER: { severity: 'warning', seed: '002' },
  DRCTL_STANDBY_MISSING: { severity: 'warning', seed: '002' },
  DRCTL_RECOVERY_RUNBOOK_MISSING: { severity: 'warning', seed: '002' },
  DRCTL_FAILBACK_MISSING: { severity: 'warning', seed: '002' },
  DRCTL_RECOVERY_ORDER: { severity: 'warning', seed: '000' },
  DRCTL_STEP_UNVERIFIED: { severity: 'warning', seed: '000' },
  DRCTL_STEP_UNKNOWN_TARGET: { severity: 'error', seed: '000' },
  DRCTL_APPROVAL_NO_APPROVERS: { severity: 'error', seed: '002' },
  DRCTL_APPROVAL_QUORUM: { severity: 'error', seed: '002' },
  DRCTL_APPROVAL_SINGLE_POINT: { severity: 'warning', seed: '000' },
  DRCTL_CONTACT_NO_BACKUP: { severity: 'warning', seed: '000' },
  DRCTL_ACTIVATION_MISSING: { severity: 'warning', seed: '002' },
  DRCTL_SIGNOFF_MISSING: { severity: 'warning', seed: '002' },
  DRCTL_SIGNOFF_STALE: { severity: 'warning', seed: '002' },
  DRCTL_REVIEW_MISSING: { severity: 'warning', seed: '000' },
  DRCTL_REVIEW_STALE: { severity: 'warning', seed: '000' },
  DRCTL_INSTRUCTIONS_STALE: { severity: 'warning', seed: '000' },
  DRCTL_DRILL_OVERDUE: { severity: 'warning', seed: '004' },
  DRCTL_DRILL_FAILED: { severity: 'warning', seed: '004' },
  DRCTL_STRATEGY_HOT_REPLICATION: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_WARM_SNAPSHOT: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_ACTIVE_ROUTING: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_RESTORE_UNVERIFIED: { severity: 'warning', seed: '002' },
  DRCTL_STRATEGY_COLD_PROVISION: { severity: 'warning', seed: '002' },
  DRCTL_SHARED_FAILURE_DOMAIN: { severity: 'warning', seed: '001' },
  DRCTL_CONTROL_PLANE_BLOCKED: { severity: 'warning', seed: '002' },
  DRCTL_PEOPLE_AWAY: { severity: 'warning', seed: '000' },
  DRCTL_CONTACT_CATEGORY_MISSING: { severity: 'warning', seed: '000' },
  DRCTL_COST_CHEAPER_STRATEGY: { severity: 'info', seed: '002' },
  // drctl's own rule: no seed asks for it, every runbook that is printed does
  DRCTL_SECRET_INLINE: { severity: 'warning', seed: '—' },
} as const satisfies Record<string, { severity: Severity; seed: string }>;

export type FindingCode = keyof typeof FINDINGS;

export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** One sentence naming the thing (workload, runbook, step, component, contact) and what is wrong. */
  message: string;
  /** How to fix it. */
  hint: string;
  location: SourceLocation;
  /** Ids of what the finding is about, for tools (`workload`, `runbook`, `step`, `component`, `contact`). */
  subject: FindingSubject;
}

export interface FindingSubject {
  workload?: string;
  runbook?: string;
  step?: string;
  component?: string;
  contact?: string;
}

export function finding(
  code: FindingCode,
  location: SourceLocation,
  message: string,
  hint: string,
  subject: FindingSubject = {},
): Finding {
  return { code, severity: FINDINGS[code].severity, message, hint, location, subject };
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then by file, line and column, so the output reads top to bottom like the plan. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    byText(a.location.file, b.location.file) ||
    a.location.line - b.location.line ||
    a.location.column - b.location.column ||
    byText(a.code, b.code)
  );
}

// code-point order: stable across locales and much cheaper than localeCompare on thousands of findings
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}
