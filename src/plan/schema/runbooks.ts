/** Runbooks and their steps: checks, undo, approvals, waits and retries. */
import { z } from 'zod';
import * as rules from '../rules.ts';
import { RUNBOOK_KINDS } from '../terms.ts';
import { Id, Duration, Interval, Count, HttpStatus } from './values.ts';

export const HttpCheck = z.strictObject({
  url: z.string(),
  method: z.string().optional(),
  status: HttpStatus.optional().describe('@default 200'),
  body_contains: z.string().optional(),
  json: z.record(z.string(), z.unknown()).optional().describe('Dotted JSON path → expected value.'),
  latency: Interval.optional().describe('Latency budget.'),
});

export const Check = z
  .strictObject({
    name: z.string().optional(),
    run: z.string().optional().describe('Shell command; passes when it exits 0.'),
    http: z.union([z.string(), HttpCheck]).optional(),
    sql: z
      .string()
      .optional()
      .describe(
        'Query on the component; passes when the first column of the first row is true or expect matches.',
      ),
    component: Id.optional(),
    site: Id.optional(),
    check: z.string().optional().describe('Provider check, written provider.check.'),
    with: z.record(z.string(), z.unknown()).optional(),
    expect: z.unknown().optional(),
    timeout: Interval.optional(),
    evidence: z.string().optional().describe('What this check proves, for the runbook and the report.'),
  })
  .refine(rules.hasOneCheckKind, {
    message: 'a check needs exactly one of run, http, sql or check',
  });

export const Undo = z.strictObject({
  run: z.string().optional(),
  action: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
  description: z.string().optional(),
});

export const Approval = z
  .strictObject({
    by: z.array(Id).optional().describe('Contacts who may approve.'),
    role: z.string().optional().describe('Or any contact holding this role.'),
    quorum: Count(1, 100).optional().describe('@default 1'),
    four_eyes: z
      .boolean()
      .optional()
      .describe('The approver may not be the person who started the run. @default true'),
  })
  .refine(rules.quorumWithinApprovers, {
    message: 'the quorum is more than the approvers named in by; lower the quorum or name more approvers',
    path: ['quorum'],
  });

export const Wait = z.strictObject({
  for: Duration.optional().describe('Wait this long.'),
  until: Check.optional().describe('Or until this check passes.'),
  every: Interval.optional().describe('How often to re-check. @default 1s'),
  deadline: Interval.optional().describe('Give up after this long.'),
});

/** Retries of a step: bounded, so a step that keeps failing cannot spin writing journal records. */
const MAX_ATTEMPTS = Count(0, 100);
export const Retries = z.union([
  MAX_ATTEMPTS,
  z
    .strictObject({
      attempts: MAX_ATTEMPTS,
      backoff: Duration.optional(),
      max_backoff: Duration.optional(),
    })
    .refine(rules.backoffWithinMax, {
      message: 'backoff is longer than max_backoff; make max_backoff at least backoff',
      path: ['max_backoff'],
    }),
]);

export const FAILURE_POLICIES = ['abort', 'continue', 'rollback', 'escalate'] as const;

export const Step = z.strictObject({
  id: Id,
  name: z.string().optional(),
  description: z.string().optional(),
  needs: z.array(Id).optional().describe('Steps that must finish first.'),
  prerequisite: z.string().optional().describe('What must be true before starting, in plain words.'),
  owner: Id.optional().describe('Contact who performs the step.'),
  expected: Duration.optional().describe('Expected duration. @default 1m'),
  contingency: Duration.optional().describe('Extra time allowed on top of expected. @default 0s'),
  timeout: Interval.optional().describe('Stop the step after this long.'),
  retries: Retries.optional(),
  idempotent: z.boolean().optional().describe('Safe to run again after a crash mid-step. @default false'),
  run: z.string().optional().describe('Shell command.'),
  action: z.string().optional().describe('Provider action, written provider.action.'),
  with: z.record(z.string(), z.unknown()).optional().describe('Parameters of the action.'),
  manual: z.string().optional().describe('Instructions for a person; an operator confirms it done.'),
  approval: Approval.optional(),
  wait: Wait.optional(),
  validate: z.array(Check).optional().describe('Checks after the step; their results are its evidence.'),
  evidence: z.array(z.string()).optional().describe('Evidence a person must attach.'),
  on_failure: z.enum(FAILURE_POLICIES).optional().describe('@default abort'),
  escalate_to: Id.optional(),
  control_plane: z
    .string()
    .optional()
    .describe(
      "The provider whose management API (portal, CLI, cloud API) this step needs; it cannot run when that provider's control plane is out of reach.",
    ),
  undo: Undo.optional().describe('How to roll this step back.'),
});

export const Runbook = z.strictObject({
  kind: z
    .enum(RUNBOOK_KINDS)
    .optional()
    .describe('@default the runbook name when it is one of the kinds, else custom'),
  description: z.string().optional(),
  prerequisites: z.array(z.string()).optional(),
  post_requisites: z.array(z.string()).optional(),
  steps: z.array(Step).min(1),
});
