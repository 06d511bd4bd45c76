/**
 * Running the restic binary: the repository and its password go in restic's environment (RESTIC_REPOSITORY,
 * RESTIC_PASSWORD or RESTIC_PASSWORD_FILE), never on its command line, and what restic says on stderr is
 * turned into an error with a code a person can act on.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import type { BackupPolicy, Component, Plan } from '../../plan/model.ts';
import { findComponent, planPath } from '../../backup/resolve.ts';

export const RESTIC_ERRORS = {
  MISSING: 'DRCTL_RESTIC_MISSING',
  POLICY_MISSING: 'DRCTL_RESTIC_POLICY_MISSING',
  PASSWORD_MISSING: 'DRCTL_RESTIC_PASSWORD_MISSING',
  WRONG_PASSWORD: 'DRCTL_RESTIC_WRONG_PASSWORD',
  UNREACHABLE: 'DRCTL_RESTIC_REPOSITORY_UNREACHABLE',
  NO_SNAPSHOT: 'DRCTL_RESTIC_NO_SNAPSHOT',
  CHECK_FAILED: 'DRCTL_RESTIC_CHECK_FAILED',
  FAILED: 'DRCTL_RESTIC_FAILED',
} as const;

/** restic reads `rest:`, `s3:`, `sftp:` and the like itself; anything else is a path on this machine. */
const URL_REPOSITORY = /^(rest|s3|sftp|b2|azure|gs|swift|rclone):/;

export interface ResticTarget {
  component: Component;
  policy: BackupPolicy;
  /** As restic takes it: an absolute path, or the URL as written. */
  repository: string;
  local: boolean;
  env: Record<string, string>;
  /** Every snapshot drctl takes of this component carries it, so one repository can hold several. */
  tag: string;
}

/** The restic backup policy of a component (the one going to `to`, else its first restic policy). */
export function resticTarget(
  plan: Plan,
  componentId: string,
  to: string | undefined,
  stateDir: string,
): ResticTarget {
  const { component } = findComponent(plan, componentId);
  const policy = component.backups.find((b) => b.engine === 'restic' && (to === undefined || b.to === to));
  if (policy === undefined)
    throw new DrctlError(
      RESTIC_ERRORS.POLICY_MISSING,
      `component "${component.id}" has no restic backup policy${to === undefined ? '' : ` to ${to}`}`,
      { hint: 'add a backups[] entry with `engine: restic` and a repository', location: component.at },
    );
  const written = policy.repository ?? policy.path ?? '';
  const local = !URL_REPOSITORY.test(written);
  const repository = local ? planPath(plan, written) : written;
  const env: Record<string, string> = {
    RESTIC_REPOSITORY: repository,
    RESTIC_CACHE_DIR: join(stateDir, 'restic-cache'),
    // snapshot times given with --time are read in this zone, and restic prints times in it
    TZ: 'UTC',
  };
  if (policy.passwordFile !== undefined) {
    env.RESTIC_PASSWORD_FILE = planPath(plan, policy.passwordFile);
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
  return { component, policy, repository, local, env, tag: `drctl:${component.id}` };
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

/** Runs `restic ARGS` against the target's repository; throws a coded DrctlError when restic fails. */
export function restic(
  target: ResticTarget,
  args: readonly string[],
  options: ResticRunOptions = {},
): Promise<ResticResult> {
  mkdirSync(target.env.RESTIC_CACHE_DIR!, { recursive: true });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('RESTIC_')) delete env[key];
    const child = spawn('restic', [...args], {
      cwd: options.cwd,
      env: { ...env, ...target.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(resticMissing(error));
      else
        reject(
          new DrctlError(RESTIC_ERRORS.FAILED, `restic ${args[0] ?? ''} could not run: ${error.message}`, {
            cause: error,
          }),
        );
    });
    child.on('close', (code) => {
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: performance.now() - started,
      };
      if (code === 0 || (code !== null && options.okCodes?.includes(code))) resolve(result);
      else reject(resticError(target, args, code, result.stderr || result.stdout));
    });
  });
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
  const where = `the restic repository of "${target.component.id}" at ${target.policy.to}`;
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

/** Creates the repository when it is a local path that holds none yet; a URL repository is created by restic.init. */
export async function ensureRepository(target: ResticTarget, signal?: AbortSignal): Promise<boolean> {
  if (!target.local || existsSync(join(target.repository, 'config'))) return false;
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
