/**
 * Finding the PostgreSQL server programs and running them. Debian keeps the server binaries out of PATH
 * (in /usr/lib/postgresql/<major>/bin), so PATH is tried first and then the newest Debian version.
 * initdb and postgres refuse to run as root; when drctl itself is root, they run as the `postgres` OS user
 * (spawned with its uid and gid, which also drops root's supplementary groups).
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { DrctlError, UsageError } from '../errors.ts';

export interface PgBinaries {
  /** Directory holding initdb, postgres, pg_basebackup, pg_rewind, pgbench... */
  dir: string;
  /** Major version, e.g. 15. */
  major: number;
  /** Full version string as `postgres --version` prints it. */
  version: string;
}

/** The OS identity server programs run as. Undefined when drctl does not run as root. */
export interface RunAs {
  uid: number;
  gid: number;
  user: string;
}

const DEBIAN_ROOT = '/usr/lib/postgresql';
const INSTALL_HINT =
  'install the PostgreSQL server: `apt-get install -y postgresql` on Debian or Ubuntu; ' +
  'or pass bin_dir (placement field) / DRCTL_PG_BIN pointing at the directory holding initdb';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function candidateDirs(): string[] {
  const dirs: string[] = [];
  const fromEnv = process.env['DRCTL_PG_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') dirs.push(fromEnv);
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const initdb = join(dir, 'initdb');
    // A symlink into /usr/lib/postgresql/N/bin: use the real directory so its siblings are found too.
    if (dir !== '' && isExecutable(initdb)) dirs.push(join(realpathSync(initdb), '..'));
  }
  let versions: string[] = [];
  try {
    versions = readdirSync(DEBIAN_ROOT).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    // No Debian layout here.
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) dirs.push(join(DEBIAN_ROOT, version, 'bin'));
  return dirs;
}

const cache = new Map<string, PgBinaries>();

/** Locate the server programs. `dir` forces a directory (a placement's `bin_dir`). */
export function findPgBinaries(dir?: string): PgBinaries {
  const key = dir ?? '';
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const dirs = dir === undefined ? candidateDirs() : [dir];
  for (const candidate of dirs) {
    if (!isExecutable(join(candidate, 'initdb')) || !isExecutable(join(candidate, 'postgres'))) continue;
    const version = execFileSync(join(candidate, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
    const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1] ?? 'NaN');
    const found: PgBinaries = { dir: candidate, major, version };
    cache.set(key, found);
    return found;
  }
  throw new UsageError(
    'DRCTL_PG_BINARIES_MISSING',
    dir === undefined
      ? 'the PostgreSQL server programs (initdb, postgres) were not found in PATH nor in /usr/lib/postgresql/*/bin'
      : `the PostgreSQL server programs (initdb, postgres) were not found in ${dir}`,
    { hint: INSTALL_HINT },
  );
}

let runAsCache: RunAs | undefined | null = null;

/** Who server programs run as: the `postgres` OS user when drctl is root, else drctl's own user. */
export function serverRunAs(): RunAs | undefined {
  if (runAsCache !== null) return runAsCache;
  if (process.getuid?.() !== 0) {
    runAsCache = undefined;
    return undefined;
  }
  const user = process.env['DRCTL_PG_OS_USER'] ?? 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    runAsCache = { uid, gid, user };
    return runAsCache;
  } catch (cause) {
    throw new UsageError(
      'DRCTL_PG_OS_USER_MISSING',
      `drctl runs as root and PostgreSQL refuses to; the OS user "${user}" to run it as does not exist`,
      {
        hint: 'installing the postgresql package creates the user, or: useradd --system --create-home postgres',
        cause,
      },
    );
  }
}

/** Give a path to the server's OS user (only meaningful when drctl is root). */
export function chownToServer(path: string): void {
  const runAs = serverRunAs();
  if (runAs !== undefined) chownSync(path, runAs.uid, runAs.gid);
}

export interface RunToolOptions {
  signal?: AbortSignal;
  env?: Record<string, string>;
  /** Shown in the error when the tool fails, e.g. "component db at site west". */
  subject?: string;
}

/**
 * Run a PostgreSQL program to completion as the server's OS user. Fails with DRCTL_PG_COMMAND_FAILED
 * carrying the end of its stderr, which is where PostgreSQL programs say what went wrong.
 */
export function runPgTool(
  binaries: PgBinaries,
  program: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  return runAsServer(join(binaries.dir, program), args, options);
}

/** Run any program as the server's OS user (files it writes belong to the server), to completion. */
export async function runAsServer(
  path: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const program = basename(path);
  const runAs = serverRunAs();
  const child = spawn(path, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...(runAs === undefined ? {} : { HOME: '/tmp', USER: runAs.user }),
      ...options.env,
    },
    // The server's user may not be able to read drctl's working directory.
    cwd: '/',
    ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  }).catch((cause: unknown) => {
    throw new DrctlError(
      'DRCTL_PG_COMMAND_FAILED',
      `${program} could not be started${options.subject === undefined ? '' : ` for ${options.subject}`}`,
      {
        hint: 'check that the PostgreSQL binaries are installed and executable',
        cause,
      },
    );
  });
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-5).join('\n');
    throw new DrctlError(
      'DRCTL_PG_COMMAND_FAILED',
      `${program} failed${options.subject === undefined ? '' : ` for ${options.subject}`} (exit ${code}): ${tail}`,
      { details: { program, args, exitCode: code, stderr: tail } },
    );
  }
  return { stdout, stderr };
}

/** Whether the server programs are installed (and runnable as this user), for callers that skip PostgreSQL otherwise. */
export function pgAvailable(): boolean {
  try {
    findPgBinaries();
    serverRunAs();
    return true;
  } catch {
    return false;
  }
}
