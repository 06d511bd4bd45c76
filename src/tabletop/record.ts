/**
 * A tabletop exercise as the store keeps it (documents collection `tabletops`): who attended, what each
 * step's walk-through found, and the open points as findings. Compliance and the auditor pack read it.
 */

export const TABLETOP_COLLECTION = 'tabletops';
export const TABLETOP_FORMAT = 'drctl.tabletop/1';

/** One runbook step as it was walked through. */
export interface TabletopStepRecord {
  id: string;
  name: string;
  /** "What would you do?" as the attendees answered it. */
  answer: string;
  /** "What is missing?"; empty when nothing is. */
  missing: string;
}

export interface TabletopFinding {
  /** DRCTL_TABLETOP_GAP: a step the attendees found something missing in. */
  code: string;
  step: string;
  message: string;
  /** `open` until a later exercise walks the step without finding anything missing. */
  status: 'open' | 'resolved';
}

export interface TabletopRecord {
  format: typeof TABLETOP_FORMAT;
  id: string;
  plan: { name: string; hash: string };
  workload: string;
  runbook: string;
  facilitator: string;
  attendees: string[];
  /** ISO timestamps. */
  startedAt: string;
  finishedAt: string;
  /**
   * `completed`: every step was walked through; `incomplete`: the input ended before the last step
   * (the record keeps what was said).
   */
  status: 'completed' | 'incomplete';
  steps: TabletopStepRecord[];
  findings: TabletopFinding[];
}
