/**
 * The compiled plan: what analysis, rendering and the engine read. Durations are milliseconds, defaults
 * are applied, references are resolved to ids that are known to exist, and every entity remembers where
 * in which file it was written (`at`) so findings and errors can point there.
 */
import type { SourceLocation } from '../errors.ts';
import type { CONTACT_CATEGORIES } from './contact-categories.ts';
import type {
  BACKUP_ENGINES,
  BACKUP_MEDIA,
  SCHEDULE_TASKS,
  BACKUP_TYPES,
  CHANNEL_TYPES,
  DISASTERS,
  DRILL_TYPES,
  FAILURE_POLICIES,
  FAULT_KINDS,
  DRILL_ENVIRONMENTS,
  MESSAGE_EVENTS,
  REPLICATION_MODES,
  RUNBOOK_KINDS,
  SITE_ROLES,
  STRATEGIES,
  TEST_KINDS,
  WEBHOOK_SHAPES,
} from './schema.ts';

export type TierLevel = 0 | 1 | 2 | 3;
export type Strategy = (typeof STRATEGIES)[number];
export type SiteRole = (typeof SITE_ROLES)[number];
export type ReplicationMode = (typeof REPLICATION_MODES)[number];
export type BackupType = (typeof BACKUP_TYPES)[number];
export type BackupMedia = (typeof BACKUP_MEDIA)[number];
export type BackupEngine = (typeof BACKUP_ENGINES)[number];
export type ScheduleTask = (typeof SCHEDULE_TASKS)[number];
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];
export type RunbookKind = (typeof RUNBOOK_KINDS)[number];
export type DrillType = (typeof DRILL_TYPES)[number];
export type Disaster = (typeof DISASTERS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];
export type TestKind = (typeof TEST_KINDS)[number];
export type ChannelType = (typeof CHANNEL_TYPES)[number];
export type WebhookShape = (typeof WEBHOOK_SHAPES)[number];
export type MessageEvent = (typeof MESSAGE_EVENTS)[number];

export interface Plan {
  version: 1;
  name: string;
  description: string | undefined;
  /** SHA-256 of every plan file's bytes, in load order: the version every document and run carries. */
  hash: string;
  /** Every file the plan was loaded from, the root first. */
  files: string[];
  /** Directory of the root plan file; relative paths in the plan resolve against it. */
  baseDir: string;
  review: { intervalMs: number; last: Date | undefined; by: string | undefined; at: SourceLocation };
  sites: Site[];
  tiers: Record<TierLevel, TierPolicy>;
  contacts: Contact[];
  activation: Activation | undefined;
  /** How many DR executors work manual steps and approvals at once; absent: no limit. */
  executors?: Executors | undefined;
  communications: Communications;
  secrets: { env: string[]; file: string | undefined };
  workloads: Workload[];
  drills: Drills;
  costs?: Costs | undefined;
  at: SourceLocation;
}

/** Unit costs in the plan's currency; what analysis estimates a workload's DR from. */
export interface Costs {
  currency: string;
  standbySiteMonth: Record<string, number>;
  backupGbMonth: number;
  replicaGbMonth: number;
  standbyShare: Record<Strategy, number>;
  at: SourceLocation;
}

export interface Site {
  id: string;
  role: SiteRole;
  description: string | undefined;
  location: string | undefined;
  /** Real users' data lives here: drills that damage data are refused unless a scenario allows it. */
  production?: boolean;
  /** Alert labels that name this site; absent or empty: no alert maps to it. */
  alerts?: Record<string, string>;
  /** Absent in sites built by hand in code, like the fields below. */
  provider?: string | undefined;
  region?: string | undefined;
  /** What the site shares with others and could lose with them, as written (provider and region apart). */
  failureDomains?: string[];
  /** Machines of the site drctl reaches over SSH; none means everything runs where drctl runs. */
  hosts: Host[];
  at: SourceLocation;
}

/** A host as the plan names it, compiled: paths absolute, durations in milliseconds. */
export interface Host {
  /** Its name, unique in the plan; placements and steps say `host: <id>`. */
  id: string;
  site: string;
  address: string;
  user: string | undefined;
  port: number | undefined;
  identityFile: string | undefined;
  passphraseEnv: string | undefined;
  /** Name of the jump host. */
  jump: string | undefined;
  knownHostsFile: string | undefined;
  connectTimeoutMs: number;
  /** Where drctl keeps pid files, process logs and action markers on the host (relative: to the login directory). */
  stateDir: string;
  at: SourceLocation;
}

export interface TierPolicy {
  tier: TierLevel;
  name: string;
  slo: string;
  rtoMs: number;
  rpoMs: number;
  /** Failure domains its workloads may share between primary and recovery sites (`provider`, `region`, names, `*`). */
  acceptsShared?: string[] | undefined;
  /** Where the default comes from, or the plan location that overrode it. */
  source: string;
}

export interface Contact {
  id: string;
  name: string;
  role: string | undefined;
  email: string | undefined;
  phone: string | undefined;
  backup: string | undefined;
  escalation: string[];
  roles: string[];
  /** Absent in contacts built by hand in code, like the availability below. */
  category?: ContactCategory | undefined;
  /** Workloads a category contact supports; empty means every workload. */
  workloads?: string[];
  executor?: boolean;
  timezone?: string;
  /** Hours the contact can be reached; empty means always. */
  onCall?: OnCall[];
  away?: Array<{ from: Date; to: Date; note: string | undefined }>;
  at: SourceLocation;
}

export type ContactCategory = (typeof CONTACT_CATEGORIES)[number];
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface OnCall {
  days: Weekday[];
  /** Minutes after midnight in the contact's time zone; `toMin` below `fromMin` runs past midnight. */
  fromMin: number;
  toMin: number;
}

export interface Activation {
  criteria: string[];
  approvers: string[];
  quorum: number;
  declareWithinMs: number | undefined;
  at: SourceLocation;
}

export interface Executors {
  /** Per team (a workload's `team`, its id by default). */
  teams: Record<string, number>;
  /** Per lost site, across every team working its recovery. */
  sites: Record<string, number>;
  at: SourceLocation;
}

export interface CommunicationTemplate {
  id: string;
  on: MessageEvent;
  /** A channel id of `communications.channels`, or `status-page`. */
  channel: string;
  to: string[];
  subject: string | undefined;
  body: string;
  at: SourceLocation;
}

/** Where messages go. Secrets stay names of environment variables (`urlEnv`, `passwordEnv`) until sent. */
export interface MessageChannel {
  id: string;
  type: ChannelType;
  description: string | undefined;
  /** webhook */
  shape: WebhookShape;
  url: string | undefined;
  urlEnv: string | undefined;
  /** email */
  host: string | undefined;
  port: number;
  secure: boolean;
  user: string | undefined;
  passwordEnv: string | undefined;
  from: string | undefined;
  /** Addresses every message on this channel also goes to. */
  to: string[];
  /** command */
  command: string | undefined;
  timeoutMs: number;
  retry: { attempts: number; backoffMs: number; maxBackoffMs: number };
  /** A drill that is not announced sends its messages here only. */
  test: boolean;
  at: SourceLocation;
}

export interface Communications {
  statusPageWithinMs: number;
  updatesEveryMs: number;
  rootCauseWithinMs: number;
  /** Base URL of the console for links in messages. */
  consoleUrl: string;
  channels: MessageChannel[];
  templates: CommunicationTemplate[];
}

export interface Flow {
  name: string;
  users: string;
  impact: string;
  degraded: string | undefined;
  /** An hour of the flow down, in the plan's currency. */
  downtimeCost?: number | undefined;
  /** Components the flow needs directly (their depends_on count too); every workload component by default. */
  dependsOn: string[];
  /** Components whose loss the flow survives in reduced functionality (shown degraded, not down). */
  survives: string[];
}

export interface Workload {
  id: string;
  name: string;
  description: string | undefined;
  tier: TierLevel;
  strategy: Strategy;
  owner: string;
  /** Whose DR executors do its manual work; absent in workloads built by hand in code (then the workload id). */
  team?: string;
  /** Alert labels that name this workload; absent or empty: no alert maps to it. */
  alerts?: Record<string, string>;
  rtoMs: number;
  rpoMs: number;
  /** 'tier' when the objective is the tier default, 'plan' when the workload sets it. */
  objectivesFrom: { rto: 'tier' | 'plan'; rpo: 'tier' | 'plan' };
  flows: Flow[];
  signoff: { by: string; at: Date; note: string | undefined } | undefined;
  automaticFailover: boolean;
  /** How long a site must look lost before the monitor acts. */
  detectAfterMs: number;
  /** Absent in plans without one (and in workloads built by hand in code). */
  frontDoor?: FrontDoor | undefined;
  /** The tests this workload must have and when; absent in workloads built by hand in code. */
  tests?: WorkloadTests | undefined;
  components: Component[];
  runbooks: Runbook[];
  /** Absent in workloads built by hand in code. */
  schedules?: BackupSchedule[];
  verifications?: Verification[];
  at: SourceLocation;
}

export interface WorkloadTests {
  /** Scheduled drills run on their own when due; otherwise the owner is reminded. */
  unattended: boolean;
  required: RequiredTest[];
}

/** One test a workload must have: a kind of test (seed 004), or a named drill scenario, and when it is due. */
export interface RequiredTest {
  /** The schedule key: the kind, or the scenario id for a test named by its scenario. */
  id: string;
  kind: TestKind;
  /** The drill scenario that performs it; only a test with one can run automated. */
  scenario: string | undefined;
  /** Exactly one of everyMs and cron is set. */
  everyMs: number | undefined;
  cron: string | undefined;
  timezone: string | undefined;
  /** Where the schedule comes from: the tier default (seed 004), the plan's drills.schedule, or the workload. */
  source: 'tier' | 'plan' | 'workload';
  at: SourceLocation;
}

/** drctl's traffic router in front of one component's placements (the workload's front door). */
export interface FrontDoor {
  /** The provider kind a drill starts as the front door (traffic-router, haproxy). */
  kind: string;
  /** The admin interface's address, when the plan fixes it. */
  admin: { host: string; port: number } | undefined;
  /** The fields as written, provider-specific ones included. */
  fields: Record<string, unknown>;
  host: string;
  port: number;
  /** The component whose placements are the router's endpoints, primary site first. */
  component: string;
  probePath: string;
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  successes: number;
  /** What a drill's canary writes to and reads, and the table the acknowledged writes are looked up in. */
  canary: { writePath: string; readPath: string; table: string };
  at: SourceLocation;
}

export interface Placement {
  site: string;
  standby: boolean;
  url: string | undefined;
  path: string | undefined;
  command: string | undefined;
  /** The host of the site the component's actions run on (`sites.<site>.hosts`); undefined: this machine. */
  host: string | undefined;
  /** Every field as written, provider-specific ones included. */
  fields: Record<string, unknown>;
  at: SourceLocation;
}

export interface Probe {
  url: string | undefined;
  tcp: string | undefined;
  run: string | undefined;
  expectStatus: number;
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  successes: number;
}

export interface Replication {
  mode: ReplicationMode;
  from: string | undefined;
  to: string | undefined;
  everyMs: number | undefined;
  maxLagMs: number | undefined;
  at: SourceLocation;
}

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

export interface BackupPolicy {
  everyMs: number;
  type: BackupType;
  to: string;
  path: string | undefined;
  /** drctl's repository: the host holding it (`path` is on that host); undefined: this machine. */
  host?: string | undefined;
  media: BackupMedia;
  keep: Retention;
  verifyEveryMs: number;
  immutable: boolean;
  /** Absent in policies built by hand in code: drctl's own repository. */
  engine?: BackupEngine;
  /** How drctl's own repository stores new chunks; absent means `auto`. */
  compression?: 'auto' | 'max' | 'off';
  /** restic: a path resolved against the plan, or a URL as written; pgbackrest: the repository path. */
  repository?: string | undefined;
  /** Where the engine's password comes from; the value itself never enters the plan. */
  passwordEnv?: string | undefined;
  passwordFile?: string | undefined;
  stanza?: string | undefined;
  at: SourceLocation;
}

/** A backup, prune, check or restore verification on a clock (exactly one of cron and everyMs). */
export interface BackupSchedule {
  id: string;
  workload: string;
  cron: string | undefined;
  timezone: string | undefined;
  everyMs: number | undefined;
  task: ScheduleTask;
  /** The component (backup, prune, check) or the verification id (verify). */
  target: string;
  to: string | undefined;
  type: 'full' | 'diff' | 'incr' | undefined;
  at: SourceLocation;
}

export interface VerificationQuery {
  sql: string;
  /** SQLite file inside the restore; without it, the scratch PostgreSQL cluster. */
  database: string | undefined;
  expect: unknown;
}

/** A restore test: which backup, restored where, and what proves it good. */
export interface Verification {
  id: string;
  workload: string;
  component: string;
  to: string | undefined;
  /** undefined: the newest. */
  snapshot: string | undefined;
  restoreTo:
    | { kind: 'scratch' }
    | { kind: 'path'; path: string }
    | { kind: 'site'; site: string }
    | { kind: 'postgres' };
  clear: boolean;
  prove: {
    checksums: boolean;
    files: string[];
    queries: VerificationQuery[];
    /** References between stores: paths a query on the restored database lists, checked in the restored `files` component. */
    references?: Array<{ sql: string; database: string; files: string }>;
    http:
      | {
          start: string;
          path: string;
          status: number;
          bodyContains: string | undefined;
          readyWithinMs: number;
        }
      | undefined;
  };
  timeoutMs: number;
  evidence: string[];
  verifyEveryMs: number;
  at: SourceLocation;
}

export interface Component {
  id: string;
  workload: string;
  name: string;
  kind: string;
  description: string | undefined;
  tier: TierLevel;
  strategy: Strategy;
  placement: Placement[];
  dependsOn: string[];
  references: string[];
  probe: Probe | undefined;
  replication: Replication | undefined;
  backups: BackupPolicy[];
  recoveryMs: number | undefined;
  sizeGb?: number | undefined;
  at: SourceLocation;
}

export interface HttpCheck {
  url: string;
  method: string;
  status: number;
  bodyContains: string | undefined;
  json: Record<string, unknown> | undefined;
  latencyMs: number | undefined;
}

/**
 * A provider action or check as the plan calls it: `provider.name` split once, with the parameters it is
 * given (`with:`, and what the plan's shorthand adds). Checked against the provider's schema when the plan
 * is validated; the engine, the checks and validation read this, never the text.
 */
export interface ProviderCall {
  provider: string;
  name: string;
  params: Record<string, unknown>;
}

/** A validation check; exactly one of run, http, sql or check (a provider check) is set. */
export interface Check {
  name: string;
  run: string | undefined;
  http: HttpCheck | undefined;
  sql: string | undefined;
  /** A provider check, `provider.check`. */
  check: string | undefined;
  component: string | undefined;
  site: string | undefined;
  with: Record<string, unknown>;
  /** The provider check it calls: `check:` with its component, site and `with:`, or `run:` as the shell's. */
  call: ProviderCall | undefined;
  expect: unknown;
  timeoutMs: number;
  evidence: string | undefined;
  at: SourceLocation;
}

/** What a step does; one step does exactly one of these. */
export type StepKind = 'shell' | 'action' | 'manual' | 'approval' | 'wait' | 'check';

export interface Step {
  id: string;
  name: string;
  description: string | undefined;
  kind: StepKind;
  needs: string[];
  prerequisite: string | undefined;
  owner: string | undefined;
  expectedMs: number;
  contingencyMs: number;
  timeoutMs: number | undefined;
  retries: { attempts: number; backoffMs: number; maxBackoffMs: number };
  idempotent: boolean;
  run: string | undefined;
  action: string | undefined;
  /** The provider action it calls: `action:` with its `with:`, or `run:` as the shell's. */
  call: ProviderCall | undefined;
  /**
   * Time after the step until clients act on it (a DNS TTL), as its provider action declares it; set when
   * the plan's actions are checked against the providers. Absent: none.
   */
  clientsMove?: { ms: number; reason: string; observedAs?: string };
  with: Record<string, unknown>;
  manual: string | undefined;
  approval: { by: string[]; role: string | undefined; quorum: number; fourEyes: boolean } | undefined;
  wait:
    | { forMs: number | undefined; until: Check | undefined; everyMs: number; deadlineMs: number | undefined }
    | undefined;
  validate: Check[];
  evidence: string[];
  onFailure: FailurePolicy;
  escalateTo: string | undefined;
  /** The provider whose management API the step needs. */
  controlPlane?: string | undefined;
  undo:
    | {
        /** As the step's own `call`: the undo's `action:` or `run:`. */
        call: ProviderCall | undefined;
        run: string | undefined;
        action: string | undefined;
        with: Record<string, unknown>;
        description: string | undefined;
      }
    | undefined;
  at: SourceLocation;
}

export interface Runbook {
  workload: string;
  name: string;
  kind: RunbookKind;
  description: string | undefined;
  prerequisites: string[];
  postRequisites: string[];
  steps: Step[];
  at: SourceLocation;
}

export interface Fault {
  kind: FaultKind;
  component: string;
  site: string;
  atMs: number;
  durationMs: number | undefined;
  latencyMs: number | undefined;
  jitterMs: number | undefined;
  bandwidth: string | undefined;
  direction: 'up' | 'down' | 'both';
  flag: string | undefined;
  /** A corrupt fault: the table, how many rows, and what it does to them. */
  corrupt?: { table: string; rows: number; change: 'delete' | 'overwrite'; set: string | undefined };
  at: SourceLocation;
}

export interface Scenario {
  id: string;
  description: string | undefined;
  disaster: Disaster;
  type: DrillType;
  workload: string;
  runbook: string;
  /** provider-wide and control-plane-access: the provider lost, when the plan names it. */
  provider?: string | undefined;
  faults: Fault[];
  /** The drill's runs are announced like real ones: an incident on the status page, messages sent. */
  announce: boolean;
  /** Its faults may damage data on a production site. */
  allowProduction?: boolean;
  /** Corruption drills: the site that holds the restored data. */
  recoveredAt?: string;
  /** `failover`: whether the faults must start a failover run; undefined when the drill does not judge it. */
  expect: { rtoMs: number; rpoMs: number; failover: boolean | undefined };
  /** drill: drctl brings the sites up from the plan; existing: the faults act on what already runs. */
  environment: DrillEnvironmentKind;
  /** What the faults may touch (environment existing); every fault was checked against it at compile. */
  blastRadius: BlastRadius | undefined;
  /** Probes whose failure aborts the drill. */
  guards: DrillGuard[];
  /** The drill is aborted after this long; a fault on a host expires there by then. */
  maxDurationMs: number;
  at: SourceLocation;
}

export type DrillEnvironmentKind = (typeof DRILL_ENVIRONMENTS)[number];

export interface BlastRadius {
  sites: string[];
  hosts: string[];
  components: string[];
  at: SourceLocation;
}

export interface DrillGuard {
  name: string;
  probe: Probe;
  at: SourceLocation;
}

/** A window in which no drill may start: fixed (from, to) or repeating (cron, duration). */
export interface Blackout {
  from: Date | undefined;
  to: Date | undefined;
  cron: string | undefined;
  durationMs: number | undefined;
  timezone: string;
  reason: string | undefined;
  at: SourceLocation;
}

export interface DrillRecord {
  type: DrillType;
  at: Date;
  workload: string | undefined;
  scenario: string | undefined;
  result: 'passed' | 'failed' | undefined;
  note: string | undefined;
  /** Contacts who took part (their training currency); absent in records built in code. */
  participants?: string[];
  location: SourceLocation;
}

export interface Drills {
  /** How often each drill type must be done, in ms. */
  schedule: Record<DrillType, number>;
  scenarios: Scenario[];
  blackouts: Blackout[];
  history: DrillRecord[];
}
