/** The compliance report as people read it in a terminal, and as `--json` prints it (docs/compliance.md). */
import { formatLocation } from '../errors.ts';
import type { ComplianceReport, TestAssessment } from './assess.ts';
import type { AttestationStatus } from './attestations.ts';
import type { TrainingStatus } from './training.ts';

const day = (date: Date | undefined): string => (date === undefined ? '—' : date.toISOString().slice(0, 10));

const MARK: Record<TestAssessment['status'], string> = {
  ok: 'ok',
  'due-soon': 'due soon',
  overdue: 'OVERDUE',
  never: 'NEVER DONE',
  failed: 'FAILED',
};

export function formatCompliance(report: ComplianceReport): string {
  const lines: string[] = [`Compliance of ${report.plan.name} on ${day(report.now)}`, ''];
  for (const w of report.workloads) {
    lines.push(
      `${w.id} (tier ${w.tier}, owner ${w.owner}${w.unattended ? ', unattended drills allowed' : ''})`,
    );
    if (w.tests.length === 0) lines.push('  no tests required (no runbooks or backups)');
    const width = Math.max(4, ...w.tests.map((t) => t.id.length));
    for (const t of w.tests) {
      const last =
        t.last === undefined
          ? 'never'
          : `${day(t.last.at)} ${t.last.result ?? 'no result'} (${t.last.source} ${t.last.ref})`;
      lines.push(
        `  ${t.id.padEnd(width)}  ${MARK[t.status].padEnd(10)}  ${t.schedule.padEnd(12)}  last ${last}  next due ${t.last === undefined ? 'now' : day(t.nextDueAt)}${t.automated ? '  [automated]' : ''}`,
      );
    }
    lines.push('');
  }
  const attestations = report.attestations ?? [];
  if (attestations.length > 0) lines.push(formatAttestations(attestations));
  const training = report.training ?? [];
  if (training.length > 0) lines.push(formatTraining(training));
  if (report.issues.length > 0) {
    lines.push(`Issues (${report.issues.length})`);
    for (const issue of report.issues) {
      lines.push(`  ${issue.at ? `${formatLocation(issue.at)}  ` : ''}${issue.code}`);
      lines.push(`    ${issue.message}`, `    hint: ${issue.hint}`);
    }
    lines.push('');
  }
  const failing = report.workloads.flatMap((w) =>
    w.tests.filter((t) => t.status === 'overdue' || t.status === 'never' || t.status === 'failed'),
  );
  lines.push(
    report.ok
      ? 'compliant: every required test is within its schedule'
      : `not compliant: ${failing.length} test${failing.length === 1 ? '' : 's'} overdue, never done or failed; ${report.issues.length} issue${report.issues.length === 1 ? '' : 's'}`,
  );
  return `${lines.join('\n')}\n`;
}

export function complianceToJson(report: ComplianceReport): Record<string, unknown> {
  return {
    plan: report.plan,
    now: report.now.toISOString(),
    ok: report.ok,
    workloads: report.workloads.map((w) => ({
      ...w,
      tests: w.tests.map((t) => ({
        ...t,
        last: t.last === undefined ? null : { ...t.last, at: t.last.at.toISOString() },
        nextDueAt: t.nextDueAt?.toISOString() ?? null,
      })),
    })),
    issues: report.issues,
    training: (report.training ?? []).map((t) => ({
      ...t,
      last: t.last === undefined ? null : { ...t.last, at: t.last.at.toISOString() },
      expiresAt: t.expiresAt?.toISOString() ?? null,
    })),
    attestations: (report.attestations ?? []).map((a) => ({
      ...a,
      expiresAt: a.expiresAt?.toISOString() ?? null,
      last: a.last ?? null,
    })),
  };
}

const ATTEST_MARK: Record<AttestationStatus['status'], string> = {
  ok: 'ok',
  expired: 'EXPIRED',
  missing: 'missing',
};

/** People's work per workload: who vouched for each item and until when. */
export function formatAttestations(attestations: AttestationStatus[]): string {
  const lines = ['Attested by people (drctl attest; each holds for the review interval)'];
  const width = Math.max(...attestations.map((a) => a.workload.length + a.item.length + 1));
  for (const a of attestations) {
    const last =
      a.last === undefined
        ? 'never attested'
        : `by ${a.last.by} on ${day(new Date(a.last.at))}, until ${day(a.expiresAt)}${a.last.note ? `: ${a.last.note}` : ''}`;
    lines.push(`  ${`${a.workload}/${a.item}`.padEnd(width)}  ${ATTEST_MARK[a.status].padEnd(7)}  ${last}`);
  }
  return `${lines.join('\n')}\n`;
}

const TRAINING_MARK: Record<TrainingStatus['status'], string> = {
  current: 'current',
  stale: 'STALE',
  never: 'NEVER',
};

/** Each DR executor's last rehearsal, and until when it counts. */
export function formatTraining(training: TrainingStatus[]): string {
  const lines = ['Training of DR executors (last drill or tabletop; each counts for the review interval)'];
  const width = Math.max(...training.map((t) => t.contact.length));
  for (const t of training) {
    const last =
      t.last === undefined
        ? 'took part in no drill or tabletop'
        : `${t.last.what} on ${day(t.last.at)}, counts until ${day(t.expiresAt)}`;
    lines.push(`  ${t.contact.padEnd(width)}  ${TRAINING_MARK[t.status].padEnd(7)}  ${t.name}: ${last}`);
  }
  return `${lines.join('\n')}\n`;
}
