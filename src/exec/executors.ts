/**
 * The execution layer: where commands run. `executorFor(host)` answers an `Executor` for this machine
 * (no host) or for a host of the plan over SSH, one per host for the life of the process, so every step on
 * that host shares one connection. Providers never spawn processes themselves; they say what to run here.
 */
import { dirname } from 'node:path';
import { DrctlError } from '../errors.ts';
import { CommandMissingError, missingCommand } from './errors.ts';
import { LocalExecutor } from './local.ts';
import { shellQuote } from './quote.ts';
import { releaseControlDirectory, SshExecutor } from './ssh.ts';
import type { Executor, HostTarget, RunOptions, RunResult } from './types.ts';

export const localExecutor = new LocalExecutor();
const hosts = new Map<string, SshExecutor>();

/** The executor for a host (one per distinct host for the life of the process), or this machine's. */
export function executorFor(host: HostTarget | undefined): Executor {
  if (host === undefined) return localExecutor;
  const key = JSON.stringify(host);
  let executor = hosts.get(key);
  if (executor === undefined) {
    executor = new SshExecutor(host);
    hosts.set(key, executor);
  }
  return executor;
}

/** Close every host connection (the end of a run, a drill, a test). */
export async function closeExecutors(): Promise<void> {
  const all = [...hosts.values()];
  hosts.clear();
  await Promise.all(all.map((executor) => executor.close()));
  releaseControlDirectory();
}

/** Run a command that must succeed: a missing program or a non-zero exit is an error naming it and where. */
export async function runChecked(
  executor: Executor,
  command: string,
  options: RunOptions & { what?: string } = {},
): Promise<RunResult> {
  const result = await executor.run(command, options);
  if (result.exitCode === 0) return result;
  const missing = missingCommand(result);
  if (missing !== undefined) throw new CommandMissingError(missing, executor.where);
  if (options.signal?.aborted === true) throw options.signal.reason;
  const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
  throw new DrctlError(
    'DRCTL_EXEC_FAILED',
    `${options.what ?? `"${command}"`} failed on ${executor.where} (${result.signal === null ? `exit ${result.exitCode}` : result.signal})${tail === '' ? '' : `: ${tail}`}`,
    { details: { where: executor.where, exitCode: result.exitCode, stderr: tail } },
  );
}

/** A path on this machine or on a host. */
export interface Location {
  executor: Executor;
  path: string;
}

/**
 * Make `dir` an empty directory where the executor runs: a restore target is never silently merged into.
 * One that holds something is emptied only with `force`; otherwise `notEmpty(entries)` is thrown.
 */
export async function emptyDirectory(
  executor: Executor,
  dir: string,
  options: { force: boolean; notEmpty: (entries: number) => Error },
): Promise<void> {
  const path = shellQuote(dir);
  const { stdout } = await runChecked(executor, `mkdir -p ${path} && ls -A ${path} | wc -l`, {
    what: `preparing the restore target ${dir}`,
  });
  const entries = Number(stdout.trim());
  if (entries === 0) return;
  if (!options.force) throw options.notEmpty(entries);
  await runChecked(executor, `find ${path} -mindepth 1 -maxdepth 1 -exec rm -rf {} +`, {
    what: `emptying the restore target ${dir}`,
  });
}

/**
 * Copy a file or a directory from one place to another, either of them on a host: a tar stream from the
 * source's executor into the destination's. A directory's contents land in `to.path` (made if missing); a
 * file lands at `to.path`, written beside it first and renamed, so a reader never sees half a file.
 */
export async function copy(
  from: Location,
  to: Location,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  await Promise.all([from.executor.connect(), to.executor.connect()]);
  const isDir = (
    await runChecked(
      from.executor,
      `if [ -d ${shellQuote(from.path)} ]; then echo d; elif [ -e ${shellQuote(from.path)} ]; then echo f; else echo -; fi`,
    )
  ).stdout.trim();
  if (isDir === '-')
    throw new DrctlError('DRCTL_EXEC_COPY_SOURCE', `${from.path} does not exist on ${from.executor.where}`, {
      hint: 'check the path and the host',
    });
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const target = shellQuote(to.path);
  const partial = shellQuote(`${to.path}.drctl-partial`);
  const source = from.executor.stream(
    isDir === 'd' ? `tar -C ${shellQuote(from.path)} -cf - .` : `cat ${shellQuote(from.path)}`,
    signal,
  );
  const sink = to.executor.stream(
    isDir === 'd'
      ? `mkdir -p ${target} && tar -C ${target} -xf -`
      : `mkdir -p ${shellQuote(dirname(to.path))} && cat > ${partial} && mv -f ${partial} ${target}`,
    { ...signal, stdin: source.stdout },
  );
  const [sent, received] = await Promise.all([source.done, sink.done]);
  for (const [result, side] of [
    [sent, from],
    [received, to],
  ] as const) {
    if (result.exitCode !== 0) {
      const missing = missingCommand(result);
      if (missing !== undefined) throw new CommandMissingError(missing, side.executor.where);
      throw new DrctlError(
        'DRCTL_EXEC_COPY_FAILED',
        `copying ${from.path} (${from.executor.where}) to ${to.path} (${to.executor.where}) failed on ${side.executor.where}: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`,
        { details: { from: from.path, to: to.path } },
      );
    }
  }
}

/** A file or directory under a host's state directory, as one word for its shell (relative: under $HOME). */
export function hostStatePath(executor: Executor, ...parts: string[]): string {
  const base = executor.host?.stateDir ?? '.drctl';
  const path = [base.replace(/\/+$/, ''), ...parts].join('/');
  return path.startsWith('/') ? shellQuote(path) : `"$HOME"/${shellQuote(path)}`;
}

/** What `runOnce` found: the command's result, or when it had completed before. */
export type OnceResult = RunResult & {
  /** When an earlier attempt completed, the time its marker records (ISO 8601); the command did not run. */
  alreadyDoneAt?: string;
};

/**
 * Run a command at most once to success for a key (a run and a step): after it exits 0 the host keeps a
 * marker (`<state_dir>/done/<run>/<step>`), and a later call with the same key runs nothing and says when
 * it completed. So a driver that died after the command finished on the host, before it could record that,
 * does not repeat it when the run resumes; a command that was cut short left no marker and runs again.
 * The marker is written on the host by the same script right after the command, so only a connection
 * lost in that instant leaves a finished command unmarked.
 */
export async function runOnce(
  executor: Executor,
  key: { run: string; step: string },
  command: string,
  options: RunOptions = {},
): Promise<OnceResult> {
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9_.-]/g, '_');
  const dir = hostStatePath(executor, 'done', safe(key.run));
  const marker = `${dir}/${shellQuote(safe(key.step))}`;
  const result = await executor.run(
    [
      `if [ -f ${marker} ]; then printf '${ONCE_SENTINEL}%s\\n' "$(cat ${marker})" >&2; exit 0; fi`,
      `/bin/sh -c ${shellQuote(command)}`,
      'drctl_rc=$?',
      `[ $drctl_rc -eq 0 ] && mkdir -p ${dir} && date -u +%Y-%m-%dT%H:%M:%SZ > ${marker}`,
      'exit $drctl_rc',
    ].join('\n'),
    options,
  );
  const done = result.exitCode === 0 && result.stderr.startsWith(ONCE_SENTINEL);
  return done
    ? { ...result, stderr: '', alreadyDoneAt: result.stderr.slice(ONCE_SENTINEL.length).trim() }
    : result;
}

const ONCE_SENTINEL = 'drctl: done before at ';
