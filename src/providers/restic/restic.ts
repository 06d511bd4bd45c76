/**
 * Running the restic binary, here or on the host that holds the data (through the execution layer): the
 * repository and its password go in restic's environment (RESTIC_REPOSITORY, RESTIC_PASSWORD or
 * RESTIC_PASSWORD_FILE), never on its command line — on a host they travel inside the SSH channel — and
 * what restic says on stderr is turned into an error with a code a person can act on.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import {
  CommandMissingError,
  executorOn,
  hostStatePath,
  missingCommand,
  shellQuote,
} from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import type { BackupPolicy, Component, Plan } from '../../plan/model.ts';
import { findComponent, findPlacement, planPath } from '../../backup/resolve.ts';

export const RESTIC_ERRORS = {
  MISSING: 'DRCTL_RESTIC_MISSING',
  POLICY_MISSING: 'DRCTL_RESTIC_POLICY_MISSING',
  REPOSITORY_HOST: 'DRCTL_RESTIC_REPOSITORY_HOST',
  PASSWORD_MISSING: 'DRCTL_RESTIC_PASSWORD_MISSING',
  WRONG_PASSWORD: 'DRCTL_RESTIC_WRONG_PASSWORD',
  UNREACHABLE: 'DRCTL_RESTIC_REPOSITORY_UNREACHABLE',
  NO_SNAPSHOT: 'DRCTL_RESTIC_NO_SNAPSHOT',
  CHECK_FAILED: 'DRCTL_RESTIC_CHECK_FAILED',
  FAILED: 'DRCTL_RESTIC_FAILED',
} as const;

/** restic reads `rest:`, `s3:`, `sftp:` and the like itself; anything else is a path where restic runs. */
const URL_REPOSITORY = /^(rest|s3|sftp|b2|azure|gs|swift|rclone):/;

/** A repository that is a path (where restic runs), resolved against the plan; undefined for a URL. */
export function repositoryPath(plan: Plan, policy: BackupPolicy): string | undefined {
  const written = policy.repository ?? policy.path ?? '';
  return URL_REPOSITORY.test(written) ? undefined : planPath(plan, written);
}

// restic's JSON (a snapshot's listing, every snapshot of a repository) is parsed whole: keep all of it
const JSON_OUTPUT_LIMIT = 1024 ** 3;

export interface ResticTarget {
  component: Component;
  policy: BackupPolicy;
  /** As restic takes it: an absolute path (on the machine restic runs on), or the URL as written. */
  repository: string;
  local: boolean;
  /** What restic finds in its environment; holds the password, so it goes nowhere else. */
  env: Record<string, string>;
  /** Every snapshot drctl takes of this component carries it, so one repository can hold several. */
  tag: string;
  /** Where restic runs: the host that holds the data, or this machine. */
  executor: Executor;
}

/** Which host a restic action runs on: the one it names, else the placement's at `site` (the primary's). */
export interface ResticWhere {
  site?: string | undefined;
  host?: string | undefined;
}

/** The restic backup policy of a component (the one going to `to`, else its first restic policy). */
export function resticTarget(
  plan: Plan,
  componentId: string,
  to: string | undefined,
  stateDir: string,
  where: ResticWhere = {},
): ResticTarget {
  const { component } = findComponent(plan, componentId);
  const policy = component.backups.find((b) => b.engine === 'restic' && (to === undefined || b.to === to));
  if (policy === undefined)
    throw new DrctlError(
      RESTIC_ERRORS.POLICY_MISSING,
      `component "${component.id}" has no restic backup policy${to === undefined ? '' : ` to ${to}`}`,
      { hint: 'add a backups[] entry with `engine: restic` and a repository', location: component.at },
    );
  // restic reaches a repository elsewhere by its own URLs; drctl does not tunnel a path on another host
  if (policy.host !== undefined)
    throw new DrctlError(
      RESTIC_ERRORS.REPOSITORY_HOST,
      `the restic policy of "${component.id}" to ${policy.to} names a repository host (${policy.host}); restic runs on the host of the data and reaches its repository there`,
      {
        hint: 'remove backups[].host: give a path on the data host (its disk or a mount) or a URL restic reaches from there (sftp:, rest:, s3:)',
        location: policy.at,
      },
    );
  const executor = executorOn(plan, where.host ?? findPlacement(component, where.site)?.host);
  const path = repositoryPath(plan, policy);
  const local = path !== undefined;
  const repository = path ?? policy.repository ?? '';
  const env: Record<string, string> = {
    RESTIC_REPOSITORY: repository,
    // snapshot times given with --time are read in this zone, and restic prints times in it
    TZ: 'UTC',
  };
  // on a host the cache lives in its state directory (set on the command line: a path, no secret)
  if (executor.host === undefined) env.RESTIC_CACHE_DIR = join(stateDir, 'restic-cache');
  if (policy.passwordFile !== undefined) {
    const file = planPath(plan, policy.passwordFile);
    // the file is on this machine: a host gets its content, in the channel, as restic's password
    if (executor.host === undefined) env.RESTIC_PASSWORD_FILE = file;
    else env.RESTIC_PASSWORD = readPasswordFile(file, component, policy);
  } else {
    const name = policy.passwordEnv ?? '';
    const value = process.env[name];
    if (value === undefined || value === '')
      throw new DrctlError(
        RESTIC_ERRORS.PASSWORD_MISSING,
        `the restic repository of "${component.id}" at ${policy.to} needs its password in $${name}, which is not set`,
        { hint: `export ${name}=... in drctl's environment (or name a password_file)`, location: policy.at },
      );
    env.RESTIC_PASSWORD = value;
  }
  return { component, policy, repository, local, env, tag: `drctl:${component.id}`, executor };
}

/** restic reads the first line of a password file; so does drctl when it hands the password to a host. */
function readPasswordFile(file: string, component: Component, policy: BackupPolicy): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[0] ?? '';
  } catch (cause) {
    throw new DrctlError(
      RESTIC_ERRORS.PASSWORD_MISSING,
      `the password file of the restic repository of "${component.id}" at ${policy.to} cannot be read: ${file}`,
      { hint: 'check password_file in the plan', location: policy.at, cause },
    );
  }
}

export interface ResticResult {
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ResticRunOptions {
  cwd?: string;
  signal?: AbortSignal;
  /** Exit codes that are not failures (restic backup exits 3 when some files could not be read). */
  okCodes?: readonly number[];
}

/**
 * Runs `restic ARGS` against the target's repository where the target says; throws a coded DrctlError when
 * restic fails, DRCTL_HOST_COMMAND_MISSING when a host has no restic.
 */
export async function restic(
  target: ResticTarget,
  args: readonly string[],
  options: ResticRunOptions = {},
): Promise<ResticResult> {
  const { executor } = target;
  if (target.env.RESTIC_CACHE_DIR !== undefined) mkdirSync(target.env.RESTIC_CACHE_DIR, { recursive: true });
  // an operator's own RESTIC_* settings (another repository, a password command) must not mix with these
  const foreign = Object.keys(executor.host === undefined ? process.env : {}).filter(
    (key) => key.startsWith('RESTIC_') && !(key in target.env),
  );
  const command = [
    ...(foreign.length === 0 ? [] : [`unset ${foreign.join(' ')};`]),
    ...(executor.host === undefined ? [] : [`RESTIC_CACHE_DIR=${hostStatePath(executor, 'restic-cache')}`]),
    'restic',
    ...args.map(shellQuote),
  ].join(' ');
  const result = await executor.run(command, {
    env: target.env,
    outputLimit: JSON_OUTPUT_LIMIT,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const code = result.exitCode;
  if (code === 0 || (code !== null && options.okCodes?.includes(code))) return result;
  if (options.signal?.aborted === true) throw options.signal.reason;
  if (missingCommand(result) === 'restic')
    throw executor.host === undefined ? resticMissing() : new CommandMissingError('restic', executor.where);
  throw resticError(target, args, code, result.stderr || result.stdout);
}

export function resticMissing(cause?: unknown): DrctlError {
  return new DrctlError(RESTIC_ERRORS.MISSING, 'restic is not installed (no `restic` on PATH)', {
    hint: 'install it: apt-get install restic (Debian, Ubuntu), brew install restic, or see restic.net',
    exitCode: 2,
    cause,
  });
}

function resticError(
  target: ResticTarget,
  args: readonly string[],
  code: number | null,
  text: string,
): DrctlError {
  const where = `the restic repository of "${target.component.id}" at ${target.policy.to}${target.executor.host === undefined ? '' : ` (restic on ${target.executor.where})`}`;
  const tail = text.trim().split('\n').slice(-6).join('\n');
  const details = {
    repository: target.repository,
    command: `restic ${args.join(' ')}`,
    exitCode: code,
    output: tail,
  };
  if (/wrong password|no key found/i.test(text))
    return new DrctlError(RESTIC_ERRORS.WRONG_PASSWORD, `${where} does not open with the password given`, {
      hint: `check ${target.policy.passwordEnv === undefined ? 'the password file' : `$${target.policy.passwordEnv}`}: restic found no key for it`,
      details,
    });
  if (
    /unable to open config file|Is there a repository|repository does not exist|no such host|connection refused|dial tcp/i.test(
      text,
    )
  )
    return new DrctlError(RESTIC_ERRORS.UNREACHABLE, `${where} cannot be reached: ${firstFatal(text)}`, {
      hint: 'check that the repository exists (restic.init creates a new one) and that its location is mounted or reachable',
      details,
    });
  if (args[0] === 'check')
    return new DrctlError(RESTIC_ERRORS.CHECK_FAILED, `${where} failed its check: ${firstProblem(text)}`, {
      hint: 'do not trust this repository: restic repair / rebuild-index, take a new backup, and check the storage',
      details,
    });
  return new DrctlError(
    RESTIC_ERRORS.FAILED,
    `restic ${args[0] ?? ''} failed on ${where}: ${firstFatal(text)}`,
    {
      hint: 'the details carry the end of restic output',
      details,
    },
  );
}

function firstFatal(text: string): string {
  const line = text.split('\n').find((l) => l.startsWith('Fatal:')) ?? text.trim().split('\n').pop() ?? '';
  return line.replace(/^Fatal:\s*/, '').trim();
}

function firstProblem(text: string): string {
  const line = text
    .split('\n')
    .find(
      (l) =>
        /error|damaged|invalid|not found|mismatch|unexpected/i.test(l) &&
        !/^Fatal: repository contains errors/.test(l),
    );
  return (line ?? firstFatal(text)).trim();
}

/** Lines of `--json` output that parse; restic mixes status lines into some commands' JSON. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a progress line cut short; the summary line is what matters
    }
  }
  return out;
}

/** Whether the local repository's directory (or a file in it) exists where restic runs. */
export async function repositoryExists(target: ResticTarget, file = ''): Promise<boolean> {
  const path = file === '' ? target.repository : join(target.repository, file);
  return (await target.executor.run(`test -e ${shellQuote(path)}`)).exitCode === 0;
}

/** Creates the repository when it is a local path that holds none yet; a URL repository is created by restic.init. */
export async function ensureRepository(target: ResticTarget, signal?: AbortSignal): Promise<boolean> {
  if (!target.local || (await repositoryExists(target, 'config'))) return false;
  await restic(target, ['init'], signal === undefined ? {} : { signal });
  return true;
}

export interface Snapshot {
  id: string;
  short_id: string;
  time: string;
  paths: string[];
  tags?: string[];
  hostname: string;
}

export async function listSnapshots(target: ResticTarget, signal?: AbortSignal): Promise<Snapshot[]> {
  const { stdout } = await restic(
    target,
    ['snapshots', '--json', '--tag', target.tag],
    signal === undefined ? {} : { signal },
  );
  const snapshots = JSON.parse(stdout || '[]') as Snapshot[] | null;
  return (snapshots ?? []).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}
