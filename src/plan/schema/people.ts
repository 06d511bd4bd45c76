/** People: contacts and their on-call hours, who may declare a disaster, and how many executors work at once. */
import { z } from 'zod';
import * as rules from '../rules.ts';
import { CONTACT_CATEGORIES } from '../contact-categories.ts';
import { Id, Duration, DateLike, Count } from './values.ts';

export const OnCall = z.strictObject({
  days: z
    .array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']))
    .optional()
    .describe('@default every day'),
  from: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'write a time of day as HH:MM, e.g. 08:00')
    .describe('Start of the hours, in the contact timezone.'),
  to: z
    .string()
    .regex(/^([01]\d|2[0-4]):[0-5]\d$/, 'write a time of day as HH:MM, e.g. 18:00')
    .describe('End of the hours; before from means past midnight.'),
});

export const Away = z.strictObject({
  from: DateLike,
  to: DateLike.describe('Last day away (inclusive).'),
  note: z.string().optional(),
});

export const Contact = z
  .strictObject({
    id: Id,
    name: z.string(),
    role: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    backup: Id.optional().describe('Who stands in when this contact cannot be reached.'),
    escalation: z.array(Id).optional().describe('Whom to escalate to, in order.'),
    roles: z
      .array(z.string())
      .optional()
      .describe('Roles this contact holds for approvals, e.g. [business-owner].'),
    category: z
      .enum(CONTACT_CATEGORIES)
      .optional()
      .describe(
        "Seed 000's contact listing: business-sme, technical-sme, upstream-support, downstream-support, vendor.",
      ),
    workloads: z
      .array(Id)
      .optional()
      .describe('Workloads this contact supports (for category contacts). @default every workload'),
    executor: z.boolean().optional().describe('Performs manual recovery steps (a DR executor).'),
    timezone: z.string().optional().describe('IANA time zone of on_call hours. @default UTC'),
    on_call: z.array(OnCall).optional().describe('When this contact can be reached; always when absent.'),
    away: z
      .array(Away)
      .optional()
      .describe('Dates this contact cannot be reached (leave, travel): escalation skips them.'),
  })
  .refine(rules.isOtherThanOwnBackup, {
    message: 'a contact cannot be their own backup; name someone else who stands in',
    path: ['backup'],
  });

export const Activation = z.strictObject({
  criteria: z.array(z.string()).min(1).describe('When DR is declared, in plain words.'),
  approvers: z.array(Id).min(1).describe('Contacts who may declare DR.'),
  quorum: Count(1, 100).optional().describe('How many approvers must agree. @default 1'),
  declare_within: Duration.optional().describe('How long the decision may take once the criteria are met.'),
});


export const Executors = z.strictObject({
  teams: z
    .record(Id, z.number().int().min(1))
    .optional()
    .describe('DR executors per team: how many manual steps and approvals the team can work at once.'),
  sites: z
    .record(Id, z.number().int().min(1))
    .optional()
    .describe('DR executors who work the loss of a site at once, across every team. @default no limit'),
});
