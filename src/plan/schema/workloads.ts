/** Workloads: flows, sign-off, the front door, required tests, and what a workload holds. */
import { z } from 'zod';
import { Schedule, Verification, Component } from './components.ts';
import { Runbook } from './runbooks.ts';
import { Id, Duration, Interval, DateLike, Count, HostPort, Tier, Strategy } from './values.ts';

export const Flow = z.strictObject({
  name: z.string(),
  users: z.string().describe('Who relies on this flow.'),
  impact: z.string().describe('What happens to them when it is down.'),
  downtime_cost: z
    .number()
    .min(0)
    .max(1e12)
    .optional()
    .describe('What an hour of this flow down costs the business, in the plan currency (costs.currency).'),
  degraded: z.string().optional().describe('What still works in reduced functionality.'),
  depends_on: z
    .array(Id)
    .optional()
    .describe(
      'Components (any workload) this flow needs; their own depends_on count too. @default every component of the workload',
    ),
  survives: z
    .array(Id)
    .optional()
    .describe(
      'Components whose loss this flow survives in reduced functionality: the status page shows it degraded, not down.',
    ),
});

export const SignOff = z.strictObject({
  by: Id,
  at: DateLike,
  note: z.string().optional(),
});

/** The workload's front door: drctl's traffic router (or the team's own, by kind) in front of one component's placements. */
export const FrontDoor = z.strictObject({
  kind: z
    .string()
    .optional()
    .describe(
      "What a drill starts as the front door: traffic-router (drctl's router) or haproxy. @default traffic-router",
    ),
  admin: HostPort.optional().describe(
    "host:port of the front door's admin interface a runbook drives (HAProxy's runtime API). @default a free port",
  ),
  check: z
    .string()
    .optional()
    .describe(
      'HAProxy only: the health-check options of each server line. @default from interval and failures',
    ),
  listen: HostPort.describe('host:port the router listens on; clients only ever talk to it.'),
  component: Id.describe('The component whose placements take the traffic, one endpoint per site.'),
  probe: z
    .string()
    .optional()
    .describe(
      'Path the router probes on each site; a site takes traffic while it answers 2xx. @default /health',
    ),
  interval: Interval.optional().describe('Time between probes. @default 1s'),
  timeout: Interval.optional().describe('@default 500ms'),
  failures: Count(1, 100).optional().describe('Consecutive failed probes to take a site out. @default 3'),
  successes: Count(1, 100).optional().describe('Consecutive good probes to put it back. @default 2'),
  canary: z
    .strictObject({
      write: z.string().optional().describe('Path a drill canary POSTs an order to. @default /orders'),
      read: z.string().optional().describe('Path the drill prober reads. @default /catalog'),
      table: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*$/i)
        .optional()
        .describe(
          'Table of the written records, where a drill looks for acknowledged writes. @default orders',
        ),
    })
    .optional()
    .describe('How a drill writes through the front door and checks what survived.'),
});

/** When one test of a workload is due: a duration, or an interval or cron expression with options. */
export const TestSchedule = z.union([
  Interval,
  z.strictObject({
    every: Interval.optional().describe('How often the test is due, e.g. 91d.'),
    cron: z.string().optional().describe('Or a cron expression (five or six fields), e.g. "0 2 * * 6".'),
    timezone: z.string().optional().describe('Time zone of the cron expression. @default UTC'),
    scenario: Id.optional().describe('The drill scenario that performs this test when it runs automated.'),
  }),
]);

export const Tests = z.strictObject({
  unattended: z
    .boolean()
    .optional()
    .describe(
      'Scheduled drills of this workload run on their own when due (drctl serve, drctl monitor); otherwise the owner is reminded. @default false',
    ),
  schedule: z
    .record(Id, TestSchedule)
    .optional()
    .describe(
      "Per kind of test (tabletop, partial-failover, full-failover, backup-restore) or drill scenario id: when it is due. @default seed 004's test schedule for the workload's tier",
    ),
});

export const Workload = z.strictObject({
  id: Id,
  name: z.string().optional(),
  description: z.string().optional(),
  tier: Tier,
  strategy: Strategy,
  owner: Id,
  team: Id.optional().describe(
    'The team whose DR executors do its manual steps and approvals (see executors). @default the workload id',
  ),
  alerts: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Alert labels that name this workload (e.g. { service: shop }): an alert carrying all of them starts its failover.',
    ),
  rto: Duration.optional().describe('@default the tier RTO'),
  rpo: Duration.optional().describe('@default the tier RPO'),
  flows: z.array(Flow).optional(),
  signoff: SignOff.optional(),
  failover: z
    .strictObject({ automatic: z.boolean().optional(), detect_after: Duration.optional() })
    .optional()
    .describe(
      'automatic: start failover on confirmed site loss. @default true for tier 0-1 hot-standby and active-active',
    ),
  front_door: FrontDoor.optional(),
  tests: Tests.optional().describe(
    'The test schedule of this workload and whether its drills may run unattended.',
  ),
  components: z.array(Component).optional(),
  runbooks: z.record(Id, Runbook).optional(),
  schedules: z
    .array(Schedule)
    .optional()
    .describe('Backups, prunes, checks and restore verifications on a clock.'),
  verifications: z
    .array(Verification)
    .optional()
    .describe('Restore tests: what is restored where and what proves it good.'),
});
