/**
 * The plan schema: what a person writes in a plan file. It is the one source of truth for validation,
 * for the JSON Schema published to editors (`drctl schema`), and later for the API's OpenAPI.
 * Durations stay strings here; `compile.ts` turns the validated input into the model the rest of drctl uses.
 */
import { z } from 'zod';
import { CONTACT_CATEGORIES } from './contact-categories.ts';
import * as rules from './rules.ts';
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

const ID_PATTERN = /^[a-z0-9][a-z0-9_-]*$/i;

export const Id = z
  .string()
  .regex(ID_PATTERN, 'an id is letters, digits, "-" and "_", starting with a letter or digit')
  .describe('An identifier: letters, digits, "-" and "_".');

/**
 * A duration of at least `minMs`: `Duration` for times that may be zero (an expected time, a delay),
 * `Interval` for anything repeated or waited on, where zero would spin or give up at once.
 */
function durationAtLeast(minMs: 0 | 1) {
  return z.string().refine(minMs === 0 ? rules.isDuration : rules.isInterval, {
    error: (issue) => rules.durationProblem(issue.input as string, minMs),
  });
}

export const Duration = durationAtLeast(0).describe(
  'A duration: 500ms, 90s, 15m, 4h, 2d, 1w, or combined like 1h30m; at most 3650d.',
);
/** A duration greater than zero: how often something repeats, or how long to wait for it. */
export const Interval = durationAtLeast(1).describe(
  'A duration greater than zero: 500ms, 90s, 15m, 4h, 2d, 1w, or combined like 1h30m; at most 3650d.',
);

/** A calendar date or timestamp, written in ISO 8601; a Date when a plan is built in code. */
export const DateLike = z
  .union([z.string(), z.date()])
  .refine(rules.isPlanDate, { error: (issue) => rules.dateProblem(issue.input as string | Date) })
  .describe('A date (2026-03-01) or timestamp (2026-03-01T12:00:00Z), a year from 1970 to 2999.');

/** A count a person writes (attempts, thresholds, quorums): small and whole. */
export const Count = (min: number, max: number) =>
  z
    .number()
    .int({ message: 'not a whole number; write a count such as 3' })
    .min(min, { message: `less than ${min}; write a number from ${min} to ${max}` })
    .max(max, { message: `more than ${max}; write a number from ${min} to ${max}` });

/** A TCP port. */
export const Port = Count(1, 65_535);
/** An HTTP status code. */
export const HttpStatus = Count(100, 599);

/** host:port with a port from 1 to 65535. */
export const HostPort = z
  .string()
  .regex(
    /^(?:[^:\s]+|\[[0-9a-f:.]+\]):\d{1,5}$/i,
    'not host:port; write it as host:port, e.g. 127.0.0.1:8080',
  )
  .refine(rules.isPortInRange, 'the port is outside 1-65535; write a port from 1 to 65535');

export const TIERS = [0, 1, 2, 3] as const;
export const Tier = z.literal([0, 1, 2, 3]);

export { CONTACT_CATEGORIES, STRATEGIES };
export const Strategy = z.enum(STRATEGIES);

export const SITE_ROLES = ['primary', 'secondary', 'backup'] as const;

/** A machine of a site that drctl reaches over SSH (docs/hosts.md). Names are unique across the plan. */
const Host = z.strictObject({
  address: z.string().min(1).describe('IP address or DNS name (an alias of ~/.ssh/config works too).'),
  user: z.string().min(1).optional().describe("Login user. @default what the user's ssh would use"),
  port: z.number().int().min(1).max(65535).optional().describe('@default 22'),
  identity_file: z
    .string()
    .optional()
    .describe('Private key, relative to the plan. @default the SSH agent and the default keys'),
  passphrase_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional()
    .describe("Environment variable holding the key's passphrase (never written in the plan)."),
  jump: z.string().optional().describe('Another host of the plan to reach this one through (a bastion).'),
  known_hosts: z
    .string()
    .optional()
    .describe("known_hosts file the host key is checked against, relative to the plan. @default the user's"),
  connect_timeout: Duration.optional().describe('How long reaching and logging in may take. @default 5s'),
  state_dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Directory on the host where drctl keeps pid files and logs of the processes it starts there and markers of finished actions; relative to the login directory. @default .drctl',
    ),
});

const Site = z.strictObject({
  role: z
    .enum(SITE_ROLES)
    .describe('primary serves traffic; secondary takes over; backup only holds copies.'),
  description: z.string().optional(),
  location: z.string().optional().describe('Region or data centre, for the runbook.'),
  production: z
    .boolean()
    .optional()
    .describe(
      "Real users' data lives here: a drill that damages data (a corrupt fault) is refused unless its scenario has allow_production. @default false",
    ),
  alerts: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Alert labels that name this site (e.g. { region: east }): an alert carrying all of them starts its site recovery.',
    ),
  hosts: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/), Host)
    .optional()
    .describe("The site's machines; placements and steps name one with `host:`."),
  provider: z
    .string()
    .optional()
    .describe(
      'Who runs the site: a cloud (azure, aws, gcp) or on-prem. Sites of one provider share its failure domain.',
    ),
  region: z
    .string()
    .optional()
    .describe('The provider region (westeurope, us-east-1); sites of one provider and region share it.'),
  failure_domains: z
    .array(Id)
    .optional()
    .describe(
      'Names of what this site shares with others and could lose with them: a power feed, an identity provider, a DNS provider.',
    ),
});

const TierOverride = z.strictObject({
  name: z.string().optional(),
  rto: Duration.optional(),
  rpo: Duration.optional(),
  slo: z.string().optional().describe('Availability objective, e.g. "99.95%".'),
  accepts_shared: z
    .array(z.string())
    .optional()
    .describe(
      'Failure domains a workload of this tier may share between its primary and recovery sites: provider, region, a domain name, or "*". @default tier 0 none, tier 1 [provider], tiers 2-3 ["*"]',
    ),
});

const OnCall = z.strictObject({
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

const Away = z.strictObject({
  from: DateLike,
  to: DateLike.describe('Last day away (inclusive).'),
  note: z.string().optional(),
});

const Contact = z
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

const Activation = z.strictObject({
  criteria: z.array(z.string()).min(1).describe('When DR is declared, in plain words.'),
  approvers: z.array(Id).min(1).describe('Contacts who may declare DR.'),
  quorum: Count(1, 100).optional().describe('How many approvers must agree. @default 1'),
  declare_within: Duration.optional().describe('How long the decision may take once the criteria are met.'),
});

const Flow = z.strictObject({
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

const SignOff = z.strictObject({
  by: Id,
  at: DateLike,
  note: z.string().optional(),
});

const Probe = z
  .strictObject({
    url: z.string().optional().describe('HTTP(S) URL to GET.'),
    tcp: HostPort.optional().describe('host:port that must accept a connection.'),
    run: z.string().optional().describe('Shell command that must exit 0.'),
    expect_status: HttpStatus.optional().describe('@default 200'),
    interval: Interval.optional().describe('@default 5s'),
    timeout: Interval.optional().describe('@default 1s'),
    failures: Count(1, 100).optional().describe('Consecutive failures to mark down. @default 3'),
    successes: Count(1, 100).optional().describe('Consecutive successes to mark up. @default 2'),
  })
  .refine(rules.hasOneProbeKind, {
    message: 'a probe needs exactly one of url, tcp or run',
  });

export const REPLICATION_MODES = ['sync', 'async', 'snapshot', 'none'] as const;
const Replication = z
  .strictObject({
    mode: z
      .enum(REPLICATION_MODES)
      .describe('sync loses nothing; async loses its lag; snapshot loses up to its interval.'),
    from: Id.optional().describe('Source site. @default the primary site'),
    to: Id.optional().describe('Target site. @default the standby placement'),
    every: Interval.optional().describe('Snapshot interval (mode snapshot).'),
    max_lag: Duration.optional().describe('Expected worst lag for async replication.'),
  })
  .refine(rules.replicatesToAnotherSite, {
    message: 'replication from a site to itself; name another site in to',
    path: ['to'],
  });

const Retention = z.strictObject({
  daily: Count(0, 10_000).optional(),
  weekly: Count(0, 10_000).optional(),
  monthly: Count(0, 10_000).optional(),
  yearly: Count(0, 10_000).optional(),
});

export const BACKUP_TYPES = ['full', 'incremental', 'differential', 'snapshot', 'wal'] as const;
export const BACKUP_MEDIA = ['disk', 'object', 'tape', 'database'] as const;
const Backup = z.strictObject({
  every: Interval.describe('How often a backup is taken.'),
  type: z.enum(BACKUP_TYPES).optional().describe('@default full'),
  to: Id.describe('Site (or backup location id) the copy goes to.'),
  path: z.string().optional().describe('Where at that site the copies live.'),
  media: z.enum(BACKUP_MEDIA).optional().describe('Storage medium, for the 3-2-1 rule. @default disk'),
  keep: Retention.optional().describe("Retention; defaults to seed 004's table for the component kind."),
  verify_every: Interval.optional().describe('How often a restore is tested. @default 30d'),
  immutable: z.boolean().optional(),
  compression: z
    .enum(['auto', 'max', 'off'])
    .optional()
    .describe(
      "drctl's repository: how new chunks are stored. auto: deflate at its fastest, skipped for data that looks random (media, archives); max: Brotli quality 9; off: as is. @default auto",
    ),
  engine: z
    .enum(BACKUP_ENGINES)
    .optional()
    .describe("Who takes the copies: drctl's own file repository, restic or pgBackRest. @default drctl"),
  repository: z
    .string()
    .optional()
    .describe(
      'restic: a local path (relative to the plan) or a URL restic takes as is (rest:, s3:, sftp:, ...); pgbackrest: the repository path. @default path',
    ),
  password_env: z
    .string()
    .optional()
    .describe(
      'Environment variable holding the repository password; handed to the engine in its environment.',
    ),
  password_file: z
    .string()
    .optional()
    .describe('File holding the repository password (relative to the plan).'),
  stanza: Id.optional().describe('pgBackRest stanza. @default the component id'),
});

const Schedule = z
  .strictObject({
    id: Id,
    cron: z.string().optional().describe('Cron expression (five fields, or six with seconds first).'),
    timezone: z
      .string()
      .optional()
      .describe('IANA time zone the cron expression is read in; required with cron.'),
    every: Interval.optional().describe('Or a fixed interval.'),
    backup: Id.optional().describe('Component to back up.'),
    prune: Id.optional().describe('Component whose backups retention is applied to.'),
    check: Id.optional().describe('Component whose repository is checked (restic check, pgbackrest check).'),
    verify: Id.optional().describe('Verification (workloads[].verifications[].id) to run.'),
    to: Id.optional().describe("The backup policy, by its site. @default the component's first"),
    type: z.enum(['full', 'diff', 'incr']).optional().describe('pgBackRest backup type. @default incr'),
  })
  .refine(rules.hasOneScheduleTask, {
    message: 'a schedule needs exactly one of backup, prune, check or verify',
  });

const VerificationQuery = z.strictObject({
  sql: z.string(),
  database: z
    .string()
    .optional()
    .describe(
      'SQLite file inside the restored directory; without it the query runs on the scratch PostgreSQL cluster.',
    ),
  expect: z.unknown().describe('The first column of the first row must equal this.'),
});

const Verification = z.strictObject({
  id: Id,
  component: Id,
  to: Id.optional().describe("The backup policy, by its site. @default the component's first"),
  snapshot: z.string().optional().describe('Backup or snapshot id. @default latest'),
  restore_to: z
    .strictObject({
      path: z.string().optional().describe('A scratch directory (relative to the plan).'),
      site: Id.optional().describe("The component's placement at this site (never a production placement)."),
      postgres: z.boolean().optional().describe('A scratch PostgreSQL cluster on a free port.'),
    })
    .optional()
    .describe('@default a fresh scratch directory in the state directory'),
  clear: z.boolean().optional().describe('Empty a target that is not empty. @default false'),
  prove: z
    .strictObject({
      checksums: z.boolean().optional().describe("The engine's check of the restored backup. @default true"),
      files: z.array(z.string()).optional().describe('Paths that must exist in the restored data.'),
      queries: z.array(VerificationQuery).optional(),
      references: z
        .array(
          z.strictObject({
            sql: z
              .string()
              .describe('Lists the file paths the restored rows point at, one per row (first column).'),
            database: z.string().describe('SQLite file inside the restore that the query runs on.'),
            files: Id.describe(
              'The files component holding those paths; its newest backup is restored beside.',
            ),
          }),
        )
        .optional()
        .describe(
          'References between two stores: every path the query lists must exist in the restored files.',
        ),
      http: z
        .strictObject({
          start: z
            .string()
            .describe('Command starting a service on the restored data ($RESTORE_DIR, $PORT).'),
          path: z.string().optional().describe('@default /'),
          status: HttpStatus.optional().describe('@default 200'),
          body_contains: z.string().optional(),
          ready_within: Interval.optional().describe('@default 10s'),
        })
        .optional(),
    })
    .optional(),
  timeout: Interval.optional().describe('@default 30m'),
  evidence: z.array(z.string()).optional().describe('What this verification proves, for reports.'),
  verify_every: Interval.optional().describe("@default the backup policy's verify_every"),
});

/** Component placement at one site: provider-specific fields are allowed and checked by the provider. */
const Placement = z.looseObject({
  url: z.string().optional(),
  path: z.string().optional(),
  command: z.string().optional(),
  standby: z.boolean().optional().describe('This placement is the standby copy.'),
  host: z
    .string()
    .optional()
    .describe(
      "A host of the site (sites.<site>.hosts) where the component's actions run. @default this machine",
    ),
});

const Component = z.strictObject({
  id: Id,
  name: z.string().optional(),
  kind: z
    .string()
    .describe('What it is: postgres, sqlite, files, http-service, process, key-vault, storage, queue, ...'),
  description: z.string().optional(),
  tier: Tier.optional().describe('@default the workload tier'),
  strategy: Strategy.optional().describe('@default the workload strategy'),
  placement: z.record(Id, Placement).optional().describe('Where it runs, per site.'),
  depends_on: z.array(Id).optional().describe('Components (any workload) this one needs to work.'),
  references: z
    .array(Id)
    .optional()
    .describe('Components whose data this one points at (cross-store consistency).'),
  probe: Probe.optional(),
  replication: Replication.optional(),
  backups: z.array(Backup).optional(),
  recovery: Duration.optional().describe('Expected time to recover this component alone.'),
  size_gb: z
    .number()
    .min(0)
    .max(1e9)
    .optional()
    .describe('Data held, in GB: what backups and replicas of it cost (costs).'),
});

const HttpCheck = z.strictObject({
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

const Undo = z.strictObject({
  run: z.string().optional(),
  action: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
  description: z.string().optional(),
});

const Approval = z
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

const Wait = z.strictObject({
  for: Duration.optional().describe('Wait this long.'),
  until: Check.optional().describe('Or until this check passes.'),
  every: Interval.optional().describe('How often to re-check. @default 1s'),
  deadline: Interval.optional().describe('Give up after this long.'),
});

/** Retries of a step: bounded, so a step that keeps failing cannot spin writing journal records. */
const MAX_ATTEMPTS = Count(0, 100);
const Retries = z.union([
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

const Runbook = z.strictObject({
  kind: z
    .enum(RUNBOOK_KINDS)
    .optional()
    .describe('@default the runbook name when it is one of the kinds, else custom'),
  description: z.string().optional(),
  prerequisites: z.array(z.string()).optional(),
  post_requisites: z.array(z.string()).optional(),
  steps: z.array(Step).min(1),
});

/** The workload's front door: drctl's traffic router (or the team's own, by kind) in front of one component's placements. */
const FrontDoor = z.strictObject({
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
const TestSchedule = z.union([
  Interval,
  z.strictObject({
    every: Interval.optional().describe('How often the test is due, e.g. 91d.'),
    cron: z.string().optional().describe('Or a cron expression (five or six fields), e.g. "0 2 * * 6".'),
    timezone: z.string().optional().describe('Time zone of the cron expression. @default UTC'),
    scenario: Id.optional().describe('The drill scenario that performs this test when it runs automated.'),
  }),
]);

const Tests = z.strictObject({
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

const Workload = z.strictObject({
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

const Fault = z.strictObject({
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
const Guard = z.strictObject({
  name: Id.describe('Named in the report when it aborts the drill.'),
  probe: Probe.describe(
    'Must keep passing: failures consecutive failures abort the drill, undo every fault and stop the canary.',
  ),
});

/** What a drill on an existing environment may touch; any fault beyond it is a plan error. */
const BlastRadius = z.strictObject({
  sites: z.array(Id).optional().describe('Sites whose placements the faults may act on. @default none'),
  hosts: z
    .array(Id)
    .optional()
    .describe("Hosts (sites.<site>.hosts) a fault may act on through a placement's host. @default none"),
  components: z.array(Id).optional().describe('Components the faults may act on. @default none'),
});

/** A time no drill may start: a fixed window (from, to) or a repeating one (cron, duration). */
const Blackout = z
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

const Scenario = z.strictObject({
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

const DrillRecord = z.strictObject({
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

const Drills = z.strictObject({
  schedule: z
    .partialRecord(z.enum(DRILL_TYPES), Interval)
    .optional()
    .describe("@default seed 004's test schedule"),
  scenarios: z.array(Scenario).optional(),
  blackouts: z.array(Blackout).optional().describe('Windows in which no drill may start.'),
  history: z.array(DrillRecord).optional(),
});

export const CHANNEL_TYPES = ['webhook', 'email', 'command'] as const;
export const WEBHOOK_SHAPES = ['slack', 'teams', 'alertmanager'] as const;
/** Events a template can be sent on; docs/communications.md says when each fires. */
export const MESSAGE_EVENTS = [
  'activation',
  'run-started',
  'update',
  'step-failed',
  'approval-waiting',
  'escalation',
  'degraded',
  'recovered',
  'run-failed',
  'run-ended',
  'test',
  'readiness-broken',
  'readiness-reminder',
  'readiness-resolved',
  'promise-reminder',
  'promise-missed',
] as const;

const ChannelRetry = z.strictObject({
  attempts: Count(1, 100).optional().describe('Deliveries tried before the message is failed. @default 5'),
  backoff: Duration.optional().describe('Wait before the first retry; doubled each time. @default 2s'),
  max_backoff: Duration.optional().describe('@default 5m'),
});

const Channel = z.strictObject({
  id: Id,
  type: z.enum(CHANNEL_TYPES),
  description: z.string().optional(),
  shape: z
    .enum(WEBHOOK_SHAPES)
    .optional()
    .describe('JSON body of a webhook: Slack, Microsoft Teams or Prometheus Alertmanager. @default slack'),
  url: z.string().optional().describe('Webhook URL. Keep tokens out of the plan with url_env.'),
  url_env: z
    .string()
    .optional()
    .describe('Environment variable holding the webhook URL (it carries a token).'),
  host: z.string().optional().describe('SMTP host (email).'),
  port: Port.optional().describe('SMTP port. @default 587'),
  secure: z.boolean().optional().describe('TLS from the first byte (SMTPS). @default true on port 465'),
  user: z.string().optional().describe('SMTP user name.'),
  password_env: z.string().optional().describe('Environment variable holding the SMTP password.'),
  from: z.string().optional().describe('Sender address (email).'),
  to: z.array(z.string()).optional().describe('Addresses every message on this channel also goes to.'),
  command: z.string().optional().describe('Program run with the message as JSON on stdin (command).'),
  timeout: Interval.optional().describe('One delivery attempt gives up after this long. @default 10s'),
  retry: ChannelRetry.optional(),
  test: z
    .boolean()
    .optional()
    .describe(
      "A channel for drills: a drill that is not announced sends its messages only to test channels, never to people's usual channels or the status page. @default false",
    ),
});

const Communications = z.strictObject({
  cadence: z
    .strictObject({
      status_page_within: Duration.optional().describe('@default 15m'),
      updates_every: Interval.optional().describe('@default 30m'),
      root_cause_within: Duration.optional().describe('@default 72h'),
    })
    .optional(),
  console_url: z
    .string()
    .optional()
    .describe('Base URL of the drctl console, for links in messages. @default http://127.0.0.1:7400'),
  channels: z.array(Channel).optional().describe('Where messages go: webhooks, e-mail, commands.'),
  templates: z
    .array(
      z.strictObject({
        id: Id,
        on: z.enum(MESSAGE_EVENTS).describe('When it is sent (docs/communications.md).'),
        channel: Id.describe('A channel id from communications.channels, or status-page.'),
        to: z.array(z.string()).optional(),
        subject: z.string().optional(),
        body: z
          .string()
          .describe('Text with {{field}} placeholders (docs/communications.md lists the fields).'),
      }),
    )
    .optional(),
});

const Review = z.strictObject({
  interval: Interval.optional().describe('How often the plan must be reviewed. @default 365d'),
  last: DateLike.optional().describe('When it was last reviewed.'),
  by: Id.optional(),
});

const Secrets = z.strictObject({
  env: z.array(z.string()).optional().describe('Environment variables whose values are secret.'),
  file: z.string().optional().describe('A KEY=value file of secrets, relative to the plan.'),
});

const Executors = z.strictObject({
  teams: z
    .record(Id, z.number().int().min(1))
    .optional()
    .describe('DR executors per team: how many manual steps and approvals the team can work at once.'),
  sites: z
    .record(Id, z.number().int().min(1))
    .optional()
    .describe('DR executors who work the loss of a site at once, across every team. @default no limit'),
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
