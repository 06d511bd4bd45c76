/**
 * What the execution layer offers every provider: run a command to completion (its output streamed and
 * kept, capped), start a long-lived one, copy a file or a directory, signal a process — on this machine or on
 * a host over SSH. A provider says what to run; an `Executor` decides where and how.
 */

import type { StepProcess } from '../system/guarded-spawn.ts';

/** A host as the plan names it, compiled: everything the SSH client needs and nothing it must guess. */
export interface HostTarget {
  /** The host's name in the plan (`app-east`). */
  name: string;
  /** Address or DNS name; an alias in `~/.ssh/config` works too. */
  address: string;
  /** @default the SSH client's default (`~/.ssh/config`, then the local user) */
  user: string | undefined;
  /** @default the SSH client's default (22) */
  port: number | undefined;
  /** Private key file. @default the agent and the client's default keys */
  identityFile: string | undefined;
  /** The host to reach this one through (ProxyJump). */
  jump: HostTarget | undefined;
  /** known_hosts file to check host keys against. @default the user's (`~/.ssh/known_hosts`) */
  knownHostsFile: string | undefined;
  /** Environment variable holding the key's passphrase; the value is handed to ssh, never logged. */
  passphraseEnv: string | undefined;
  /** How long reaching and authenticating may take. @default 5000 */
  connectTimeoutMs: number;
  /**
   * Directory on the host for what drctl keeps there: pid files and logs of processes it starts, markers
   * of finished actions. Relative paths are relative to the login directory. @default .drctl
   */
  stateDir?: string;
}

export interface RunOptions {
  /** Working directory. @default `/` on a host, the current directory here */
  cwd?: string;
  /** Extra environment. On a host it travels on the command's standard input, never on a command line. */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Stop the command (its whole process group) after this long. */
  timeoutMs?: number;
  /** Called with every piece of output as it arrives. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Told the guarded process that carries the command here (the command itself, or its SSH client). */
  onStart?: (process: StepProcess) => void;
  /** Bytes of each stream kept in the result: the first half and the last half. @default 64 KiB */
  outputLimit?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A command started with `stream`: its stdout as a stream, its stdin fed from a stream. */
export interface StreamOptions {
  env?: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
  stdin?: NodeJS.ReadableStream;
}

export interface StreamHandle {
  stdout: NodeJS.ReadableStream;
  done: Promise<RunResult>;
}

export interface Executor {
  /** For messages: `this machine` or `host app-east (198.18.0.2)`. */
  readonly where: string;
  /** The plan's host, or undefined for this machine. */
  readonly host: HostTarget | undefined;
  /** Reach the host and log in, unless already connected (nothing to do here). */
  connect(): Promise<void>;
  /** Run a `/bin/sh -c` command to completion; it dies with its process group when stopped or when drctl dies. */
  run(command: string, options?: RunOptions): Promise<RunResult>;
  /** Run a command whose stdin and stdout are streams (a tar on either side of a copy). */
  stream(command: string, options?: StreamOptions): StreamHandle;
  /** Send a signal to a process, or to its whole group with `group`. False when no such process. */
  signal(pid: number, signal: NodeJS.Signals, options?: { group?: boolean }): Promise<boolean>;
  /** Drop the connection (a host); the next command opens a new one. */
  close(): Promise<void>;
}
