/**
 * Read-only probes of this machine that preflight checks share: does a TCP endpoint accept a connection,
 * is a port free to listen on, is a program on the PATH (and which version), how much disk is free. None
 * of them changes anything.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import net from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { shellQuote } from '../exec/quote.ts';
import type { Executor } from '../exec/types.ts';

/** Resolves when host:port accepts a TCP connection; rejects with the socket error otherwise. */
export function tcpConnect(host: string, port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const done = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = (): void => done(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done());
    socket.once('error', (error) => done(error));
  });
}

/** Whether nothing listens on 127.0.0.1:port (binding it and letting go at once). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The program's full path when it is executable (a path) or found on the PATH; undefined otherwise. */
export function findProgram(program: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The first line `program --version` prints, or undefined when it prints nothing or fails. */
export function programVersion(
  file: string,
  signal: AbortSignal,
  args = ['--version'],
): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { signal, timeout: 10_000 }, (error, stdout, stderr) => {
      const line = `${stdout}${stderr}`.split('\n').find((text) => text.trim() !== '');
      resolve(error ? undefined : line?.trim());
    });
  });
}

/** Shell words that are not programs: builtins and keywords a `run:` may start with. */
const SHELL_BUILTINS = new Set(
  'true false exit echo printf test [ cd export set unset read wait sleep if for while case : . source eval exec trap kill'.split(
    ' ',
  ),
);

/** The program a shell command line starts with (after `VAR=value` assignments), unless a builtin. */
export function commandProgram(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  const first = words.find((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  if (first === undefined || SHELL_BUILTINS.has(first) || /[;|&<>()$`'"{}]/.test(first)) return undefined;
  return first;
}

/** Free bytes for an unprivileged writer on the file system that holds `path` (or its nearest parent). */
export function freeBytes(path: string): number {
  let dir = isAbsolute(path) ? path : join(process.cwd(), path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Whether the program a command line starts with is installed, and its version; undefined for builtins. */
export async function programInstalled(
  command: string,
  signal: AbortSignal,
): Promise<{ ok: boolean; message: string; observed?: unknown } | undefined> {
  const program = commandProgram(command);
  if (program === undefined) return undefined;
  const file = findProgram(program);
  if (file === undefined) return { ok: false, message: `${program} is not installed (not on the PATH)` };
  const version = await programVersion(file, signal);
  return {
    ok: true,
    message: `${program} at ${file}${version ? `: ${version}` : ''}`,
    observed: { file, version },
  };
}

/**
 * `programInstalled`, asked where a step will run: here, or on its host over the connection the step will
 * use (`command -v` changes nothing there).
 */
export async function programInstalledOn(
  executor: Executor,
  command: string,
  signal: AbortSignal,
): Promise<{ ok: boolean; message: string; observed?: unknown } | undefined> {
  if (executor.host === undefined) return programInstalled(command, signal);
  const program = commandProgram(command);
  if (program === undefined) return undefined;
  const found = await executor.run(`command -v ${shellQuote(program)}`, { signal, outputLimit: 4096 });
  return found.exitCode === 0
    ? { ok: true, message: `${program} at ${found.stdout.trim()} on ${executor.host.name}` }
    : { ok: false, message: `${program} is not installed on ${executor.host.name} (not on its PATH)` };
}
