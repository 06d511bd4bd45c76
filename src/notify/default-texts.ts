/**
 * The words drctl sends when the plan has no template of its own: a message for each moment, the
 * deadlines a promise reminder names, and the status page's incident texts.
 */
import type { MessageEvent, Runbook } from '../plan/model.ts';
import type { RunSubject } from './run-subject.ts';

/** Built-in texts for moments the plan has no template for. */
export const DEFAULTS: Partial<Record<MessageEvent, { subject: string; body: string }>> = {
  'run-started': {
    subject: '{{workload_name}}: {{runbook}} started',
    body: 'The {{runbook}} runbook of {{workload_name}} started (run {{run}}, by {{started_by}}). Affected: {{flows}}. Expected time left: {{eta}}.',
  },
  activation: {
    subject: 'DR declared for {{workload_name}}',
    body: 'Disaster recovery is declared for {{workload_name}}; the {{runbook}} runbook runs (run {{run}}). Affected: {{flows}}.',
  },
  update: {
    subject: 'Update: {{workload_name}}',
    body: '{{incident}}. Run {{run}} is {{status}}; expected time left: {{eta}}. Affected: {{flows}}.',
  },
  'step-failed': {
    subject: '{{workload_name}}: step {{step}} failed',
    body: 'Step {{step_name}} of {{runbook}} failed: {{error}}. Escalating to {{escalate_to}}.',
  },
  'approval-waiting': {
    subject: '{{workload_name}}: {{step_name}} waits for you',
    body: '{{escalate_to}}: step {{step_name}} of {{runbook}} (run {{run}}) has waited {{waited}} for a person. {{skipped}} {{console}}',
  },
  recovered: {
    subject: '{{workload_name}} recovered',
    body: 'The {{runbook}} runbook of {{workload_name}} succeeded (run {{run}}). We keep watching.',
  },
  'run-failed': {
    subject: '{{workload_name}}: {{runbook}} {{status}}',
    body: 'The {{runbook}} runbook of {{workload_name}} ended {{status}} (run {{run}}). People are on it.',
  },
  'readiness-broken': {
    subject: '{{workload_name}}: a readiness promise is broken',
    body: '{{reason}}. You own {{workload_name}}: reminders follow until it holds again. {{skipped}} {{console}}',
  },
  'readiness-reminder': {
    subject: 'Still broken: {{workload_name}}',
    body: '{{reason}}. Broken for {{waited}}. {{skipped}} {{console}}',
  },
  'readiness-resolved': {
    subject: 'Resolved: {{workload_name}}',
    body: 'Holds again after {{waited}}: {{reason}}.',
  },
  'promise-reminder': {
    subject: '{{incident}}: {{promise}} due {{due}}',
    body: 'The communication plan promises {{promise}}; it is due {{due}} and not kept yet. {{skipped}} {{console}}',
  },
  'promise-missed': {
    subject: '{{incident}}: {{promise}} missed',
    body: 'The communication plan promised {{promise}} by {{due}}; it was not kept. Say so in the post-incident review. {{skipped}}',
  },
};

/** The two deadlines a reminder names, short enough for a subject line. */
export const PROMISE_SUBJECT = {
  'status-page': 'the status page updated',
  'root-cause': 'the root cause published',
};

export const STATUS_TEXT = {
  opened: (w: RunSubject['workload'], r: Runbook) =>
    `We are moving ${w.name} to its standby (${r.kind}). Some services are unavailable meanwhile.`,
  recovered: (w: RunSubject['workload']) =>
    `${w.name} works again. We keep watching before we close this incident.`,
  failed: (w: RunSubject['workload']) => `Recovering ${w.name} takes longer than planned; the team is on it.`,
};
