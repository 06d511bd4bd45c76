/**
 * The plan schema: what a person writes in a plan file. It is the one source of truth for validation,
 * for the JSON Schema published to editors (`drctl schema`), and later for the API's OpenAPI.
 * Durations stay strings here; `compile.ts` turns the validated input into the model the rest of drctl uses.
 * The sections are defined by area under `schema/`; this file puts them together into one plan file.
 */
import { z } from 'zod';
import { CONTACT_CATEGORIES } from './contact-categories.ts';
import { STRATEGIES } from './strategies.ts';
import {
  BACKUP_ENGINE_NEEDS,
  BACKUP_ENGINES,
  MESSAGE_FIELDS,
  RUNBOOK_KINDS,
  RUN_SHORTHAND,
  SCHEDULE_TASKS,
  STATUS_PAGE_CHANNEL,
  TEST_KINDS,
  type BackupEngineNeeds,
  type MessageField,
} from './terms.ts';
import type { Channel } from './schema/communications.ts';
import { CHANNEL_TYPES, Communications, MESSAGE_EVENTS, WEBHOOK_SHAPES } from './schema/communications.ts';
import type { Component } from './schema/components.ts';
import { BACKUP_MEDIA, BACKUP_TYPES, REPLICATION_MODES } from './schema/components.ts';
import { DISASTERS, DRILL_ENVIRONMENTS, DRILL_TYPES, Drills, FAULT_KINDS } from './schema/drills.ts';
import { Activation, Contact, Executors } from './schema/people.ts';
import type { Runbook } from './schema/runbooks.ts';
import { Check, FAILURE_POLICIES, Step } from './schema/runbooks.ts';
import { SITE_ROLES, Site, TierOverride } from './schema/sites.ts';
import {
  Count,
  DateLike,
  Duration,
  HostPort,
  HttpStatus,
  Id,
  Interval,
  Port,
  Strategy,
  TIERS,
  Tier,
} from './schema/values.ts';
import { Workload } from './schema/workloads.ts';

export { MAX_DURATION_MS } from './rules.ts';
export {
  BACKUP_ENGINE_NEEDS,
  BACKUP_ENGINES,
  MESSAGE_FIELDS,
  RUNBOOK_KINDS,
  RUN_SHORTHAND,
  SCHEDULE_TASKS,
  STATUS_PAGE_CHANNEL,
  TEST_KINDS,
};
export type { BackupEngineNeeds, MessageField };
export { CONTACT_CATEGORIES, STRATEGIES };
export { Count, DateLike, Duration, HostPort, HttpStatus, Id, Interval, Port, Strategy, TIERS, Tier };
export { SITE_ROLES, REPLICATION_MODES, BACKUP_TYPES, BACKUP_MEDIA, Check, FAILURE_POLICIES, Step };
export {
  DRILL_TYPES,
  DISASTERS,
  FAULT_KINDS,
  DRILL_ENVIRONMENTS,
  CHANNEL_TYPES,
  WEBHOOK_SHAPES,
  MESSAGE_EVENTS,
};

const Review = z.strictObject({
  interval: Interval.optional().describe('How often the plan must be reviewed. @default 365d'),
  last: DateLike.optional().describe('When it was last reviewed.'),
  by: Id.optional(),
});

const Secrets = z.strictObject({
  env: z.array(z.string()).optional().describe('Environment variables whose values are secret.'),
  file: z.string().optional().describe('A KEY=value file of secrets, relative to the plan.'),
});

const Costs = z.strictObject({
  currency: z.string().optional().describe('@default USD'),
  standby_site_month: z
    .record(Id, z.number().min(0).max(1e12))
    .optional()
    .describe("Per site: a month of the workload's full-scale compute standing there."),
  backup_gb_month: z.number().min(0).max(1e9).optional().describe('A GB-month of backup storage.'),
  replica_gb_month: z.number().min(0).max(1e9).optional().describe('A GB-month of a live replica.'),
  standby_share: z
    .partialRecord(Strategy, z.number().min(0).max(1))
    .optional()
    .describe(
      'Share of the full-scale compute each strategy keeps running at the recovery site. @default backup-restore 0, cold-standby 0.05, warm-standby 0.3, hot-standby 1, active-active 1',
    ),
});

/** One plan file. Every section is optional so a plan can be split across included files. */
export const PlanFile = z.strictObject({
  version: z.literal(1).optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  include: z.array(z.string()).optional().describe('Other plan files, relative to this one.'),
  review: Review.optional(),
  sites: z.record(Id, Site).optional(),
  tiers: z.partialRecord(z.enum(['0', '1', '2', '3']), TierOverride).optional(),
  contacts: z.array(Contact).optional(),
  activation: Activation.optional(),
  executors: Executors.optional().describe(
    'People as a resource: the dry run and analysis schedule manual steps and approvals within these numbers. @default no limit',
  ),
  communications: Communications.optional(),
  secrets: Secrets.optional(),
  workloads: z.array(Workload).optional(),
  drills: Drills.optional(),
  costs: Costs.optional().describe('Unit costs for the yearly DR cost and the expected loss per disaster.'),
});

export type PlanFileInput = z.infer<typeof PlanFile>;
export type WorkloadInput = z.infer<typeof Workload>;
export type ComponentInput = z.infer<typeof Component>;
export type StepInput = z.infer<typeof Step>;
export type CheckInput = z.infer<typeof Check>;
export type ChannelInput = z.infer<typeof Channel>;
export type RunbookInput = z.infer<typeof Runbook>;
