/** Drills: scenarios and their faults, guards and blast radius, blackout windows and the history of drills held. */
import { z } from 'zod';
import { Probe } from './components.ts';
import { Id, Duration, Interval, DateLike } from './values.ts';

export const DRILL_TYPES = ['tabletop', 'partial', 'full', 'backup-restore'] as const;
export const DISASTERS = [
  'site-loss',
  'network-outage',
  'dependent-service',
  'data-corruption',
  'application-failure',
  'provider-wide',
  'control-plane-access',
] as const;
export const FAULT_KINDS = [
  'kill',
  'stop',
  'pause',
  'latency',
  'blackhole',
  'reset',
  'bandwidth',
  'switchboard',
  'corrupt',
] as const;

export const Fault = z.strictObject({
  kind: z.enum(FAULT_KINDS),
  target: z.string().describe('component@site, e.g. db@east.'),
  at: Duration.optional().describe('When, from the start of the drill. @default 0s'),
  duration: Interval.optional().describe('How long before it is lifted; for ever when absent.'),
  latency: Duration.optional(),
  jitter: Duration.optional(),
  bandwidth: z.string().optional().describe('e.g. 64kbps.'),
  direction: z.enum(['up', 'down', 'both']).optional(),
  flag: z.string().optional().describe('Switchboard flag to set (kind switchboard).'),
  table: z.string().optional().describe('Table whose rows a corrupt fault damages (schema.table or table).'),
  rows: z.number().int().min(1).optional().describe('How many rows a corrupt fault damages. @default 10'),
  change: z
    .enum(['delete', 'overwrite'])
    .optional()
    .describe('What a corrupt fault does to them. @default delete'),
  set: z
    .string()
    .optional()
    .describe('SET list of an overwrite, e.g. "amount = -1". @default text columns = \'corrupted\''),
});

export const DRILL_ENVIRONMENTS = ['drill', 'existing', 'isolated'] as const;

/** A probe that must keep passing while a drill runs: when it fails, the drill is aborted. */
export const Guard = z.strictObject({
  name: Id.describe('Named in the report when it aborts the drill.'),
  probe: Probe.describe(
    'Must keep passing: failures consecutive failures abort the drill, undo every fault and stop the canary.',
  ),
});

/** What a drill on an existing environment may touch; any fault beyond it is a plan error. */
export const BlastRadius = z.strictObject({
  sites: z.array(Id).optional().describe('Sites whose placements the faults may act on. @default none'),
  hosts: z
    .array(Id)
    .optional()
    .describe("Hosts (sites.<site>.hosts) a fault may act on through a placement's host. @default none"),
  components: z.array(Id).optional().describe('Components the faults may act on. @default none'),
});

/** A time no drill may start: a fixed window (from, to) or a repeating one (cron, duration). */
export const Blackout = z
  .strictObject({
    from: DateLike.optional(),
    to: DateLike.optional(),
    cron: z.string().optional().describe('Start of a repeating window, e.g. "0 8 * * 1-5".'),
    duration: Interval.optional().describe('Length of a repeating window.'),
    timezone: z.string().optional().describe('Time zone of the cron expression. @default UTC'),
    reason: z.string().optional(),
  })
  .refine(
    (b) =>
      (b.from !== undefined && b.to !== undefined && b.cron === undefined) ||
      (b.cron !== undefined && b.duration !== undefined && b.from === undefined && b.to === undefined),
    { message: 'a blackout is either from and to, or cron and duration' },
  );

export const Scenario = z.strictObject({
  id: Id,
  description: z.string().optional(),
  disaster: z.enum(DISASTERS),
  type: z.enum(DRILL_TYPES).optional().describe('@default full'),
  workload: Id,
  runbook: Id.optional().describe('@default failover'),
  provider: z
    .string()
    .optional()
    .describe(
      "provider-wide and control-plane-access: the provider lost. @default the provider of the workload's primary site",
    ),
  faults: z.array(Fault).optional(),
  environment: z
    .enum(DRILL_ENVIRONMENTS)
    .optional()
    .describe(
      "drill: drctl brings the workload's sites up on this machine from the plan; existing: nothing is brought up, the faults act on the plan's real components and hosts (needs blast_radius); isolated: a test failover into a throw-away copy of the recovery site, production untouched (no faults are injected). @default drill",
    ),
  blast_radius: BlastRadius.optional().describe(
    'What the scenario may touch; environment existing needs it.',
  ),
  guards: z.array(Guard).optional().describe('Probes whose failure aborts the drill.'),
  max_duration: Interval.optional().describe(
    'The drill is aborted after this long, and a fault on a host undoes itself there by then even if drctl dies. @default 10m',
  ),
  allow_production: z
    .boolean()
    .optional()
    .describe(
      'Let the faults act on a production site (damaging data, or an existing environment). @default false',
    ),
  recovered_at: Id.optional().describe(
    'Corruption drills: the site whose database holds the data once the runbook has restored it, where the good writes are counted. @default the corrupted site',
  ),
  announce: z
    .boolean()
    .optional()
    .describe(
      'Treat the drill like the real thing for communications: open an incident on the status page and send messages. @default false',
    ),
  expect: z
    .strictObject({
      rto: Duration.optional(),
      rpo: Duration.optional(),
      failover: z
        .boolean()
        .optional()
        .describe(
          'Whether the faults must make drctl fail over (true) or must be ridden out without a failover (false). @default true for a site-loss scenario that cuts a site off; otherwise not judged',
        ),
    })
    .optional(),
});

export const DrillRecord = z.strictObject({
  type: z.enum(DRILL_TYPES),
  at: DateLike,
  workload: Id.optional(),
  scenario: Id.optional(),
  result: z.enum(['passed', 'failed']).optional(),
  note: z.string().optional(),
  participants: z
    .array(Id)
    .optional()
    .describe('Contacts who took part: their training is current from this date (drctl compliance).'),
});

export const Drills = z.strictObject({
  schedule: z
    .partialRecord(z.enum(DRILL_TYPES), Interval)
    .optional()
    .describe("@default seed 004's test schedule"),
  scenarios: z.array(Scenario).optional(),
  blackouts: z.array(Blackout).optional().describe('Windows in which no drill may start.'),
  history: z.array(DrillRecord).optional(),
});
