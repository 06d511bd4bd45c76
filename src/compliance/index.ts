/**
 * Compliance with the test schedule (seed 004): which tests each workload must have, when each was
 * last done and with what result, what is due or overdue, plus reviews, sign-offs and drills whose
 * targets were missed and not re-run. `complianceOf(plan, store, now)` is the one call most users need.
 */
import type { Plan } from '../plan/model.ts';
import type { RunStore } from '../store/store.ts';
import { assessCompliance, type ComplianceReport } from './assess.ts';
import { attestationsOf } from './attestations.ts';
import { collectOccurrences } from './occurrences.ts';
import { trainingOf } from './training.ts';

export {
  assessCompliance,
  assessTest,
  counts,
  describeSchedule,
  nextDue,
  requiredTests,
  FAILING_STATUSES,
  GRACE_MS,
  DUE_SOON_MS,
} from './assess.ts';
export type {
  ComplianceIssue,
  ComplianceReport,
  TestAssessment,
  TestStatus,
  WorkloadCompliance,
} from './assess.ts';
export {
  collectOccurrences,
  drillOccurrence,
  historyOccurrences,
  tabletopOccurrence,
  verificationOccurrence,
  VERIFICATIONS_COLLECTION,
} from './occurrences.ts';
export type { OccurrenceSource, TestOccurrence } from './occurrences.ts';
export { complianceToJson, formatAttestations, formatCompliance, formatTraining } from './format.ts';
export { ATTESTATIONS_COLLECTION, attestationsOf, recordAttestation } from './attestations.ts';
export type { AttestationRecord, AttestationStatus } from './attestations.ts';
export { trainingOf } from './training.ts';
export type { TrainingState, TrainingStatus } from './training.ts';

export async function complianceOf(plan: Plan, store: RunStore, now: Date): Promise<ComplianceReport> {
  const report = assessCompliance(plan, await collectOccurrences(plan, store), now);
  return {
    ...report,
    attestations: await attestationsOf(plan, store, now),
    training: await trainingOf(plan, store, now),
  };
}
export { scheduleTests, testJobId, REMINDERS_COLLECTION } from './scheduled.ts';
export type { ScheduleTestsOptions, TestReminder } from './scheduled.ts';
