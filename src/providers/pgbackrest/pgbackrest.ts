/**
 * Running the pgbackrest binary, on the database's host or here, through the execution layer. Every option
 * lives in a config file drctl writes per backup policy on the machine pgbackrest runs on (so the server's
 * archive_command and drctl's own calls read the same settings); the database password (PGPASSWORD) and
 * the repository cipher pass (PGBACKREST_REPO1_CIPHER_PASS) go in pgbackrest's environment only — inside
 * the SSH channel on a host. When drctl (or the host's login) is root, pgbackrest runs as the PostgreSQL
 * server's OS user, like the archive_command the server runs, so every file in the repository has one owner.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import {
  CommandMissingError,
  executorOn,
  hostStatePath,
  missingCommand,
  shellQuote,
} from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import { expandEnv } from '../../plan/lookup.ts';
import type { BackupPolicy, Component, Placement, Plan } from '../../plan/model.ts';
import { findComponent, planPath } from '../../backup/resolve.ts';

export const PGBACKREST_ERRORS = {
  MISSING: 'DRCTL_PGBACKREST_MISSING',
  POLICY_MISSING: 'DRCTL_PGBACKREST_POLICY_MISSING',
  REPOSITORY_HOST: 'DRCTL_PGBACKREST_REPOSITORY_HOST',
  PLACEMENT_MISSING: 'DRCTL_PGBACKREST_PLACEMENT_MISSING',
  PASSWORD_MISSING: 'DRCTL_PGBACKREST_PASSWORD_MISSING',
  REPOSITORY_MISSING: 'DRCTL_PGBACKREST_REPOSITORY_MISSING',
  STANZA_MISSING: 'DRCTL_PGBACKREST_STANZA_MISSING',
  WRONG_PASSWORD: 'DRCTL_PGBACKREST_WRONG_PASSWORD',
  DATABASE_UNREACHABLE: 'DRCTL_PGBACKREST_DATABASE_UNREACHABLE',
  ARCHIVE_FAILED: 'DRCTL_PGBACKREST_ARCHIVE_FAILED',
  NO_BACKUP: 'DRCTL_PGBACKREST_NO_BACKUP',
  TARGET_NOT_EMPTY: 'DRCTL_PGBACKREST_TARGET_NOT_EMPTY',
  FAILED: 'DRCTL_PGBACKREST_FAILED',
} as const;

const INSTALL_HINT =
  'install it: apt-get install pgbackrest (Debian, Ubuntu), dnf install pgbackrest (RHEL, from the PGDG repository), or see pgbackrest.org';

/** The pgbackrest program on PATH, as an absolute path (the server's archive_command names it so). */
export function findPgbackrest(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'pgbackrest');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new DrctlError(PGBACKREST_ERRORS.MISSING, 'pgBackRest is not installed (no `pgbackrest` on PATH)', {
    hint: INSTALL_HINT,
    exitCode: 2,
  });
}

/** Everything one backup policy's pgbackrest calls need. */
export interface PgbackrestTarget {
  component: Component;
  policy: BackupPolicy;
  /** The placement holding the PostgreSQL server that is backed up. */
  placement: Placement;
  site: string;
  stanza: string;
  repository: string;
  dataDir: string;
  port: number;
  socketDir: string;
  user: string;
  /**
   * Directory of the config file drctl writes (it also holds the lock, log and spool directories), as one
   * word for the shell where pgbackrest runs (`"$HOME"/...` under a host's relative state_dir).
   */
  configDir: string;
  env: Record<string, string>;
  /** Whether the repository is encrypted (the policy names a cipher pass). */
  encrypted: boolean;
  /** Where pgbackrest runs: the database's host (the placement's, or the action's `host:`), or this machine. */
  executor: Executor;
}

/** The pgBackRest policy of a component (the one going to `to`, else its first) and the placement it backs up. */
export function pgbackrestTarget(
  plan: Plan,
  componentId: string,
  options: {
    to?: string | undefined;
    site?: string | undefined;
    host?: string | undefined;
    stateDir: string;
  },
): PgbackrestTarget {
  const { component } = findComponent(plan, componentId);
  const policy = component.backups.find(
    (b) => b.engine === 'pgbackrest' && (options.to === undefined || b.to === options.to),
  );
  if (policy === undefined)
    throw new DrctlError(
      PGBACKREST_ERRORS.POLICY_MISSING,
      `component "${component.id}" has no pgBackRest backup policy${options.to === undefined ? '' : ` to ${options.to}`}`,
      {
        hint: 'add a backups[] entry with `engine: pgbackrest` and a repository path',
        location: component.at,
      },
    );
  // a dedicated repository host is pgBackRest's repo1-host, which drctl does not set up yet
  if (policy.host !== undefined)
    throw new DrctlError(
      PGBACKREST_ERRORS.REPOSITORY_HOST,
      `the pgBackRest policy of "${component.id}" to ${policy.to} names a repository host (${policy.host}), which drctl does not set up`,
      {
        hint: "remove backups[].host: the repository is a path on the database's host (its disk or a mount)",
        location: policy.at,
      },
    );
  const placement =
    options.site === undefined
      ? (component.placement.find((p) => !p.standby) ?? component.placement[0])
      : component.placement.find((p) => p.site === options.site);
  const missing = (what: string, hint: string): DrctlError =>
    new DrctlError(
      PGBACKREST_ERRORS.PLACEMENT_MISSING,
      `component "${component.id}"${placement === undefined ? '' : ` at site ${placement.site}`} has no ${what}, which pgBackRest needs`,
      { hint, location: placement?.at ?? component.at },
    );
  if (placement === undefined)
    throw missing('placement', `add placement.${options.site ?? '<site>'} to the component`);
  const dataDir = placementPath(plan, placement, 'data_dir');
  if (dataDir === undefined)
    throw missing(
      'data_dir',
      'add data_dir (the PostgreSQL data directory on this machine) to the placement',
    );
  const socketDir = placementPath(plan, placement, 'socket_dir');
  if (socketDir === undefined)
    throw missing(
      'socket_dir',
      "add socket_dir (the server's unix_socket_directories): pgBackRest reaches a local server through its socket",
    );
  const url = new URL(
    expandUrl(placement.url ?? 'postgres://postgres@localhost:5432/postgres', component.id),
  );
  const stanza = policy.stanza ?? component.id;
  const executor = executorOn(plan, options.host ?? placement.host);
  const configName = `${stanza}--${policy.to}`;
  const configDir =
    executor.host === undefined
      ? shellQuote(join(options.stateDir, 'pgbackrest', configName))
      : hostStatePath(executor, 'pgbackrest', configName);
  const env: Record<string, string> = {};
  const password = decodeURIComponent(url.password);
  if (password !== '') env.PGPASSWORD = password;
  let encrypted = false;
  if (policy.passwordEnv !== undefined) {
    const value = process.env[policy.passwordEnv];
    if (value === undefined || value === '')
      throw new DrctlError(
        PGBACKREST_ERRORS.PASSWORD_MISSING,
        `the pgBackRest repository of "${component.id}" at ${policy.to} is encrypted with the pass in $${policy.passwordEnv}, which is not set`,
        {
          hint: `export ${policy.passwordEnv}=... in drctl's environment and in the PostgreSQL server's (its archive_command needs it too)`,
          location: policy.at,
        },
      );
    env.PGBACKREST_REPO1_CIPHER_PASS = value;
    encrypted = true;
  }
  return {
    component,
    policy,
    placement,
    site: placement.site,
    stanza,
    repository: planPath(plan, policy.repository ?? policy.path ?? ''),
    dataDir,
    port: url.port === '' ? 5432 : Number(url.port),
    socketDir,
    user: decodeURIComponent(url.username) || 'postgres',
    configDir,
    env,
    encrypted,
    executor,
  };
}

function placementPath(plan: Plan, placement: Placement, name: string): string | undefined {
  const value = placement.fields[name];
  if (typeof value !== 'string' || value === '') return undefined;
  return isAbsolute(value) ? value : join(plan.baseDir, value);
}

/** `${NAME}` in a placement URL comes from the environment, as in the postgres provider. */
function expandUrl(text: string, component: string): string {
  return expandEnv(
    text,
    (name) =>
      new DrctlError(
        PGBACKREST_ERRORS.PASSWORD_MISSING,
        `the url of component ${component} uses \${${name}}, which is not set`,
        { hint: `export ${name} before running drctl` },
      ),
  );
}

/** The OS user PostgreSQL runs as: pgbackrest runs as it (and owns what drctl makes) when drctl is root. */
const SERVER_USER = (): string => process.env['DRCTL_PG_OS_USER'] ?? 'postgres';

/** Where the policy's config is, and the pgbackrest program, on the machine pgbackrest runs on. */
export interface Prepared {
  configFile: string;
  program: string;
}

const prepared = new WeakMap<PgbackrestTarget, Promise<Prepared>>();

/**
 * Writes the policy's config file (and its lock, log and spool directories) where pgbackrest runs, and
 * finds the program there: one command. Written for every action, so a changed plan is what the next
 * archive-push reads; no secret goes in it.
 */
export function prepare(target: PgbackrestTarget): Promise<Prepared> {
  let done = prepared.get(target);
  if (done === undefined) {
    done = writeConfig(target);
    prepared.set(target, done);
  }
  return done;
}

async function writeConfig(target: PgbackrestTarget): Promise<Prepared> {
  const global = [
    `repo1-path=${target.repository}`,
    '"lock-path=$d/lock"',
    '"log-path=$d/log"',
    '"spool-path=$d/spool"',
    'log-level-file=detail',
    'start-fast=y',
    ...(target.encrypted ? ['repo1-cipher-type=aes-256-cbc'] : []),
  ];
  const stanza = [
    `pg1-path=${target.dataDir}`,
    `pg1-port=${target.port}`,
    `pg1-socket-path=${target.socketDir}`,
    `pg1-user=${target.user}`,
  ];
  const lines = ['[global]', ...global, '', `[${target.stanza}]`, ...stanza].map((line) =>
    line.startsWith('"') ? line : shellQuote(line),
  );
  const result = await target.executor.run(
    [
      `p=$(command -v pgbackrest) || { echo 'pgbackrest: not found' >&2; exit 127; }`,
      'set -e',
      `d=${target.configDir}`,
      'mkdir -p "$d/lock" "$d/log" "$d/spool"',
      `printf '%s\n' ${lines.join(' ')} > "$d/pgbackrest.conf"`,
      // the server's OS user runs archive-push with this config and writes the lock and log directories
      giveToServer('"$d" "$d/lock" "$d/log" "$d/spool" "$d/pgbackrest.conf"'),
      `printf '%s\n%s\n' "$d/pgbackrest.conf" "$p"`,
    ].join('\n'),
  );
  if (result.exitCode !== 0) {
    if (missingCommand(result) === 'pgbackrest')
      throw target.executor.host === undefined
        ? pgbackrestMissing()
        : new CommandMissingError('pgbackrest', target.executor.where);
    throw new DrctlError(
      PGBACKREST_ERRORS.FAILED,
      `the pgBackRest config of stanza "${target.stanza}" could not be written on ${target.executor.where}: ${result.stderr.trim()}`,
      { hint: "check that drctl's state directory there is writable" },
    );
  }
  const [configFile = '', program = ''] = result.stdout.trim().split('\n');
  return { configFile, program };
}

function pgbackrestMissing(): DrctlError {
  return new DrctlError(PGBACKREST_ERRORS.MISSING, 'pgBackRest is not installed (no `pgbackrest` on PATH)', {
    hint: INSTALL_HINT,
    exitCode: 2,
  });
}

/** The archive_command the server runs: this policy's config and stanza, no secret on it. */
export async function archiveCommand(target: PgbackrestTarget): Promise<string> {
  const { configFile, program } = await prepare(target);
  return `${program} --config=${configFile} --stanza=${target.stanza} archive-push %p`;
}

/** `sh` that gives paths (shell words) to the server's OS user when the login is root. */
export function giveToServer(paths: string): string {
  return `if [ "$(id -u)" = 0 ]; then chown ${shellQuote(SERVER_USER())}: ${paths}; fi`;
}

/** Run a command as the server's OS user when the login is root; `sh` words, environment in the channel. */
export function asServerUser(command: string): string {
  const user = shellQuote(SERVER_USER());
  return [
    `if [ "$(id -u)" = 0 ]; then set -- setpriv --reuid=${user} --regid=${user} --init-groups --; export HOME=/tmp USER=${user}; else set --; fi`,
    `cd / && "$@" ${command}`,
  ].join('\n');
}

/** The repository directory, made and given to the server's user when it does not exist yet. */
export async function ensureRepositoryDir(target: PgbackrestTarget): Promise<void> {
  const repository = shellQuote(target.repository);
  const result = await target.executor.run(
    `[ -e ${repository} ] || { mkdir -p ${repository} && ${giveToServer(repository)}; }`,
  );
  if (result.exitCode !== 0)
    throw new DrctlError(
      PGBACKREST_ERRORS.REPOSITORY_MISSING,
      `the pgBackRest repository ${target.repository} could not be made on ${target.executor.where}: ${result.stderr.trim()}`,
      { hint: 'create the repository directory and give it to the server OS user' },
    );
}

export interface PgbackrestResult {
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The repository directory was not there when pgbackrest ended (a path where pgbackrest runs). */
  repositoryMissing: boolean;
}

const NO_REPOSITORY = 'drctl: no repository directory';

/** Runs `pgbackrest --config --stanza ARGS` where the target says; throws a coded DrctlError when it fails. */
export async function pgbackrest(
  target: PgbackrestTarget,
  command: string,
  args: readonly string[] = [],
  options: { signal?: AbortSignal } = {},
): Promise<PgbackrestResult> {
  const { configFile, program } = await prepare(target);
  const argv = [
    program,
    `--config=${configFile}`,
    `--stanza=${target.stanza}`,
    '--log-level-console=warn',
    '--log-level-stderr=off',
    ...args,
    command,
  ];
  // an operator's own PGBACKREST_* settings would override the config file drctl wrote
  const foreign = Object.keys(target.executor.host === undefined ? process.env : {}).filter(
    (key) => key.startsWith('PGBACKREST_') && !(key in target.env),
  );
  const result = await target.executor.run(
    [
      ...(foreign.length === 0 ? [] : [`unset ${foreign.join(' ')}`]),
      asServerUser(argv.map(shellQuote).join(' ')),
      'rc=$?',
      `[ -e ${shellQuote(target.repository)} ] || echo ${shellQuote(NO_REPOSITORY)} >&2`,
      'exit $rc',
    ].join('\n'),
    {
      env: target.env,
      outputLimit: 1024 ** 3,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    },
  );
  const out = { ...result, repositoryMissing: result.stderr.includes(NO_REPOSITORY) };
  if (result.exitCode === 0) return out;
  if (options.signal?.aborted === true) throw options.signal.reason;
  throw pgbackrestError(
    target,
    command,
    result.exitCode,
    `${result.stderr}\n${result.stdout}`,
    out.repositoryMissing,
  );
}

/** pgbackrest prints `ERROR: [055]: ...`; the number says what went wrong. */
function pgbackrestError(
  target: PgbackrestTarget,
  command: string,
  code: number | null,
  text: string,
  repositoryMissing: boolean,
): DrctlError {
  const where = `the pgBackRest stanza "${target.stanza}" of "${target.component.id}" at ${target.policy.to}${target.executor.host === undefined ? '' : ` (pgbackrest on ${target.executor.where})`}`;
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  const errorLine = lines.find((l) => /ERROR: \[\d+\]/.test(l)) ?? lines.at(-1) ?? '';
  const number = /ERROR: \[(\d+)\]/.exec(errorLine)?.[1];
  const reason = errorLine.replace(/^.*?ERROR: \[\d+\]:\s*/, '').trim();
  const details = {
    stanza: target.stanza,
    repository: target.repository,
    command: `pgbackrest ${command}`,
    exitCode: code,
    pgbackrestError: number === undefined ? undefined : Number(number),
    output: lines.slice(-6).join('\n'),
  };
  const error = (key: keyof typeof PGBACKREST_ERRORS, message: string, hint: string): DrctlError =>
    new DrctlError(PGBACKREST_ERRORS[key], message, { hint, details });
  if (repositoryMissing)
    return error(
      'REPOSITORY_MISSING',
      `${where} has no repository: ${target.repository} does not exist`,
      'mount or create the repository directory; pgbackrest.stanza_create sets up a new one',
    );
  if (number === '055' || /does not exist|stanza-create/.test(reason))
    return error(
      'STANZA_MISSING',
      `${where} is not in the repository: ${reason}`,
      'check the stanza name in the plan, or create it with pgbackrest.stanza_create',
    );
  if (target.encrypted && /cipher|decrypt|CryptoError|FormatError/i.test(text))
    return error(
      'WRONG_PASSWORD',
      `${where} does not open with the cipher pass given: ${reason}`,
      `check $${target.policy.passwordEnv ?? 'the cipher pass variable'}`,
    );
  if (number === '056' || number === '057' || /unable to connect|could not connect/i.test(reason))
    return error(
      'DATABASE_UNREACHABLE',
      `${where}: pgBackRest cannot reach PostgreSQL at site ${target.site}: ${reason}`,
      'check that the server runs, its socket_dir and port, and the password in the placement url',
    );
  if (number === '082' || number === '044' || /archive/i.test(reason))
    return error(
      'ARCHIVE_FAILED',
      `${where}: WAL archiving does not work: ${reason}`,
      "check the server's archive_command (pgbackrest.stanza_create sets it) and its log",
    );
  if (number === '040' || /contains files|not empty/i.test(reason))
    return error(
      'TARGET_NOT_EMPTY',
      `${where}: the restore target holds files: ${reason}`,
      'stop the server and say force: true (a delta restore over the data directory), or restore into an empty directory',
    );
  if (number === '038' || /PostgreSQL is running|postmaster\.pid/i.test(reason))
    return error(
      'FAILED',
      `${where}: cannot restore over a running server: ${reason}`,
      'stop the server first (postgres.fence with how: stop), or restore into a new data_dir',
    );
  if (number === '075')
    return error(
      'NO_BACKUP',
      `${where} has no backup to restore: ${reason}`,
      'take one with pgbackrest.backup',
    );
  return error(
    'FAILED',
    `pgbackrest ${command} failed on ${where}: ${reason}`,
    'the details carry the end of pgbackrest output; its log is in the log directory next to the config',
  );
}

/** One backup set as `info --output=json` lists it (the fields drctl reads). */
export interface BackupSet {
  label: string;
  type: 'full' | 'diff' | 'incr';
  prior: string | null;
  timestamp: { start: number; stop: number };
  archive: { start: string | null; stop: string | null };
  lsn?: { start: string; stop: string };
  info?: { size: number; delta: number; repository?: { size: number; delta: number } };
  error?: boolean;
}

export interface StanzaInfo {
  name: string;
  status: { code: number; message: string };
  /** Per repository: where the cause is when the stanza's own status only says "other". */
  repo?: Array<{ key?: number; status?: { code: number; message: string } }>;
  backup: BackupSet[];
  archive: { id: string; min: string | null; max: string | null }[];
  cipher: string;
}

export async function stanzaInfo(target: PgbackrestTarget, signal?: AbortSignal): Promise<StanzaInfo> {
  const { stdout, repositoryMissing } = await pgbackrest(
    target,
    'info',
    ['--output=json'],
    signal === undefined ? {} : { signal },
  );
  let stanzas: StanzaInfo[] | undefined;
  try {
    stanzas = JSON.parse(stdout || '[]') as StanzaInfo[];
  } catch {
    // an info file that does not decrypt is quoted raw into the status message, which breaks the JSON
    stanzas = undefined;
  }
  const info = stanzas?.find((s) => s.name === target.stanza);
  const where = `the pgBackRest stanza "${target.stanza}" of "${target.component.id}"`;
  const fail = (code: string, message: string, hint: string): DrctlError =>
    new DrctlError(code, message, {
      hint,
      details: { stanza: target.stanza, repository: target.repository, command: 'pgbackrest info' },
    });
  // info itself succeeds on a missing or unreadable stanza and says so in its status
  if (info === undefined || info.status.code === 1 || info.status.code === 3) {
    if (repositoryMissing)
      throw fail(
        PGBACKREST_ERRORS.REPOSITORY_MISSING,
        `${where} has no repository: ${target.repository} does not exist`,
        'mount or create the repository directory; pgbackrest.stanza_create sets up a new one',
      );
    if (info !== undefined || stanzas !== undefined)
      throw fail(
        PGBACKREST_ERRORS.STANZA_MISSING,
        `${where} is not in the repository ${target.repository}: ${info?.status.message ?? 'missing'}`,
        'check the stanza name in the plan, or create it with pgbackrest.stanza_create',
      );
  }
  if (info === undefined || info.status.code === 99) {
    // a stanza whose repository does not open says only "other"; the repository's own status has the cause
    const text =
      info === undefined
        ? stdout
        : [info.status.message, ...(info.repo ?? []).map((r) => r.status?.message ?? '')].join('\n');
    const first = (text.split('\n')[0] ?? '').replace(/[^\x20-\x7e]+/g, '?').slice(0, 200);
    if (target.encrypted && /FormatError|CryptoError|decrypt|cipher/i.test(text))
      throw fail(
        PGBACKREST_ERRORS.WRONG_PASSWORD,
        `${where} does not open with the cipher pass given: its info file does not decrypt`,
        `check $${target.policy.passwordEnv ?? 'the cipher pass variable'}`,
      );
    throw fail(
      PGBACKREST_ERRORS.FAILED,
      `pgbackrest info could not read ${where}: ${first}`,
      "see pgBackRest's log",
    );
  }
  return info;
}
