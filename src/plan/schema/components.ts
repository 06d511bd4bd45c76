/** Components: probes, replication, backups (with their engines and schedules), restore verifications and placements. */
import { z } from 'zod';
import * as rules from '../rules.ts';
import { BACKUP_ENGINES } from '../terms.ts';
import { Id, Duration, Interval, Count, HttpStatus, HostPort, Tier, Strategy } from './values.ts';

export const Probe = z
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
export const Replication = z
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

export const Retention = z.strictObject({
  daily: Count(0, 10_000).optional(),
  weekly: Count(0, 10_000).optional(),
  monthly: Count(0, 10_000).optional(),
  yearly: Count(0, 10_000).optional(),
});

export const BACKUP_TYPES = ['full', 'incremental', 'differential', 'snapshot', 'wal'] as const;
export const BACKUP_MEDIA = ['disk', 'object', 'tape', 'database'] as const;
export const Backup = z.strictObject({
  every: Interval.describe('How often a backup is taken.'),
  type: z.enum(BACKUP_TYPES).optional().describe('@default full'),
  to: Id.describe('Site (or backup location id) the copy goes to.'),
  path: z.string().optional().describe('Where at that site the copies live.'),
  host: z
    .string()
    .optional()
    .describe(
      "drctl's repository: the host (sites.<site>.hosts) whose disk holds it; path is then a path on that host. @default this machine",
    ),
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

export const Schedule = z
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

export const VerificationQuery = z.strictObject({
  sql: z.string(),
  database: z
    .string()
    .optional()
    .describe(
      'SQLite file inside the restored directory; without it the query runs on the scratch PostgreSQL cluster.',
    ),
  expect: z.unknown().describe('The first column of the first row must equal this.'),
});

export const Verification = z.strictObject({
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
export const Placement = z.looseObject({
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

export const Component = z.strictObject({
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
