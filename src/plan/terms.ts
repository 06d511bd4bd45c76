/**
 * Fixed words of the plan that the compiler reads as well as the schema: kept apart from the schema so
 * that compiling a plan never loads zod (a command that only reads a plan starts faster).
 */

/** A step's or a check's `run:` is shorthand for the shell provider's `run` with `command`. */
export const RUN_SHORTHAND = { provider: 'shell', action: 'run', check: 'run', param: 'command' } as const;

export const SCHEDULE_TASKS = ['backup', 'prune', 'check', 'verify'] as const;

export const RUNBOOK_KINDS = ['failover', 'failback', 'restore', 'custom'] as const;

export const TEST_KINDS = ['tabletop', 'partial-failover', 'full-failover', 'backup-restore'] as const;

/** The facts a template can name as {{field}}; a template naming any other is a plan error. */
export const MESSAGE_FIELDS = {
  event: 'what happened: one of the template events',
  plan: 'the plan name',
  workload: 'the workload id',
  workload_name: 'the workload name',
  flows: 'the affected user flows, with their state',
  runbook: 'the runbook name',
  run: 'the run id',
  status: 'the run status',
  started_by: 'who or what started the run',
  step: 'the step id (step-failed, approval-waiting)',
  step_name: 'the step name',
  error: 'the error code and message of a failed step',
  escalate_to: 'whom the message escalates to',
  waited: 'how long the step has been waiting',
  eta: "the expected time left, from the runbook's critical path",
  console: 'a link to the run in the console',
  incident: 'the incident title',
  skipped:
    'who the message skipped because they are away or off call, and who stands in; empty when nobody was skipped',
  sent_at: 'when the message was made (ISO 8601); not how current the data is',
  reason:
    'why a readiness promise is broken, or was (readiness-broken, readiness-reminder, readiness-resolved)',
  promise:
    'the communication promise an incident owes: the status page within 15m, the root cause within 72h (promise-reminder, promise-missed)',
  due: 'when that promise falls due (ISO 8601)',
  data_as_of:
    "how current the recovered data is, per component: the last transaction a promoted standby replayed, the time of the restored backup, the point-in-time target; 'not known yet' until a step reports it",
} as const;
export type MessageField = keyof typeof MESSAGE_FIELDS;

/** The built-in channel a template names to write the status page's incident update. */
export const STATUS_PAGE_CHANNEL = 'status-page';

export const BACKUP_ENGINES = ['drctl', 'restic', 'pgbackrest'] as const;

/** What a backup engine needs of a policy and its component beyond `to:`, each with the hint people read. */
export interface BackupEngineNeeds {
  /** How people write the engine's name in messages. */
  label: string;
  /** `repository:` (or `path:`) must be given: what the message says is missing, and the hint. */
  repository?: { missing: string; hint: string };
  /** `password_env:` or `password_file:` must be given. */
  password?: { hint: string };
  /** The component kinds it backs up, what it backs up in words, and the hint for other kinds. */
  kinds?: { only: readonly string[]; what: string; hint: string };
  /** Fields the primary placement must set (checked for the kinds it backs up). */
  placementFields?: { fields: readonly string[]; hint: string };
  /** Its restores can be started as a scratch server (a verification's `restore_to: { postgres: true }`). */
  scratchServer?: true;
}

/** Each backup engine's needs as data, checked when the plan compiles (`plan/compile-schedules.ts`). */
export const BACKUP_ENGINE_NEEDS: Record<(typeof BACKUP_ENGINES)[number], BackupEngineNeeds> = {
  drctl: { label: 'drctl' },
  restic: {
    label: 'restic',
    repository: { missing: 'has no repository', hint: 'add `repository:` (a path, or a rest:/s3: URL)' },
    password: {
      hint: 'add `password_env:` (an environment variable) or `password_file:`; the password itself never goes in the plan',
    },
  },
  pgbackrest: {
    label: 'pgBackRest',
    repository: {
      missing: 'has no repository path',
      hint: 'add `repository:` with the directory pgBackRest keeps its repository in',
    },
    kinds: {
      only: ['postgres'],
      what: 'PostgreSQL',
      hint: 'use `engine: restic` (or drctl) for other kinds',
    },
    // pgBackRest reads the data directory and reaches the server by its socket, on this machine
    placementFields: {
      fields: ['data_dir', 'socket_dir'],
      hint: "add data_dir (the server's data directory) and socket_dir (its unix_socket_directories) to the placement",
    },
    scratchServer: true,
  },
};
