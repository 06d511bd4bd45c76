/**
 * A long-lived shell on a host: one SSH channel (on the host's master connection) whose `/bin/sh` runs a
 * small loop that takes commands one at a time. A command through it costs a few milliseconds where a
 * fresh channel costs a new SSH client here and a new session (and login shell) on the host: measured
 * on the bed at load 18, `true` took 604 ms over a fresh channel and 5 ms through a session.
 *
 * The loop (remote side):
 * - reads `run ID ENV CMD` (base64 fields; ENV is the exports and `cd` the command starts with, CMD the
 *   command), starts CMD in its own session (`setsid`) with those exports, and when it ends writes a frame
 *   `\nTOKEN ID RC\n` to stdout and `\nTOKEN ID\n` to stderr, so this side knows where its output ends;
 * - while the command runs it reads this side's stdin: `cancel` ends the command's process group (SIGTERM,
 *   SIGKILL 2 s later), `ack` says the frames were seen, and end of input — the channel closed because
 *   drctl stopped the session or died (its SSH client is guarded and dies with it) — ends the command's
 *   group the same way and the loop. So a remote command never outlives its driver, as with fresh channels.
 * The environment is exported inside the loop's subshell: it never appears on a command line there.
 * Needs `/bin/sh`, `setsid`, `base64` and `mktemp` on the host.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { stopGroup } from './local.ts';
import { CappedOutput, DEFAULT_OUTPUT_LIMIT } from './output.ts';
import { shellQuote } from './quote.ts';
import type { RunOptions, RunResult } from './types.ts';

// every process started per command costs milliseconds on a busy host: the pid file is made once, and a
// command without environment or directory skips decoding them ('-')
const LOOP = String.raw`
drctl_pf=$(mktemp) || exit 1
while IFS= read -r drctl_line; do
  set -- $drctl_line
  [ "$1" = ping ] && { printf '%s pong\n' "$DRCTL_TOKEN"; continue; }
  [ "$1" = run ] || continue
  drctl_id=$2; drctl_env=$3; drctl_cmd=$4; : > "$drctl_pf"
  (
    drctl_rc=1
    if [ "$drctl_env" = - ] || eval "$(printf '%s' "$drctl_env" | base64 -d)"; then
      setsid /bin/sh -c "$(printf '%s' "$drctl_cmd" | base64 -d)" </dev/null &
      echo $! > "$drctl_pf"
      wait $!; drctl_rc=$?
    fi
    printf '\n%s %s %s\n' "$DRCTL_TOKEN" "$drctl_id" "$drctl_rc"
    printf '\n%s %s\n' "$DRCTL_TOKEN" "$drctl_id" >&2
  ) &
  drctl_acked=0
  while IFS= read -r drctl_next; do
    case "$drctl_next" in
      ack) drctl_acked=1; break;;
      cancel) drctl_p=$(cat "$drctl_pf"); [ -n "$drctl_p" ] && { kill -TERM -"$drctl_p" 2>/dev/null; ( sleep 2; kill -KILL -"$drctl_p" 2>/dev/null ) & };;
    esac
  done
  if [ $drctl_acked = 0 ]; then
    drctl_p=$(cat "$drctl_pf"); rm -f "$drctl_pf"
    [ -n "$drctl_p" ] && { kill -TERM -"$drctl_p" 2>/dev/null; sleep 2; kill -KILL -"$drctl_p" 2>/dev/null; }
    exit 0
  fi
done
rm -f "$drctl_pf"
`;

/** The remote command that starts the loop; TOKEN marks the frames. */
export function sessionCommand(token: string): string {
  return `DRCTL_TOKEN=${token} exec /bin/sh -c ${shellQuote(LOOP)}`;
}

/** The exports and `cd` a command starts with, as the loop evaluates them; undefined when none. */
function prelude(options: { cwd?: string; env?: Record<string, string> }): string | undefined {
  if (options.cwd === undefined && Object.keys(options.env ?? {}).length === 0) return undefined;
  const lines: string[] = [];
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid environment variable name ${name}`);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  // the last status is cd's: a missing directory fails the command (status 1, the shell's message on stderr)
  lines.push(options.cwd === undefined ? 'true' : `cd ${shellQuote(options.cwd)}`);
  return lines.join('\n');
}

const FRAME_ROOM = 96;

/** One stream of the current command: output until its frame, passed on as it arrives. */
class FramedStream {
  readonly output: CappedOutput;
  #pending = '';
  constructor(
    limit: number,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    this.output = new CappedOutput(limit);
  }

  /** Feeds output; returns the text after the frame when `frame` (a regex) is found in it. */
  push(chunk: Buffer, frame: RegExp): RegExpExecArray | undefined {
    // latin1 keeps bytes as they are, so a character split across chunks is not broken
    this.#pending += chunk.toString('latin1');
    const found = frame.exec(this.#pending);
    if (found !== null) {
      this.#flush(this.#pending.slice(0, found.index));
      this.#pending = '';
      return found;
    }
    if (this.#pending.length > FRAME_ROOM) {
      this.#flush(this.#pending.slice(0, this.#pending.length - FRAME_ROOM));
      this.#pending = this.#pending.slice(-FRAME_ROOM);
    }
    return undefined;
  }

  #flush(text: string): void {
    if (text === '') return;
    const bytes = Buffer.from(text, 'latin1');
    this.output.push(bytes);
    this.emit(bytes);
  }
}

interface Current {
  id: number;
  stdout: FramedStream;
  stderr: FramedStream;
  exitCode: number | undefined;
  stderrDone: boolean;
  started: number;
  resolve(result: RunResult): void;
  reject(error: unknown): void;
}

/**
 * The client side of one session: `child` is the SSH client carrying it (its stdin and stdout piped).
 * One command at a time; the executor keeps a pool of them.
 */
export class HostSession {
  #current: Current | undefined;
  #pong: (() => void) | undefined;
  #pongText = '';
  #reserved = false;
  #nextId = 1;
  #closed: Error | undefined;
  /** The end of what the SSH client said outside commands: why it failed, when it does. */
  #clientErrors = '';

  constructor(
    readonly child: ChildProcess,
    readonly token: string,
    /** Why the session ended, from what its client said on stderr: the host's error. */
    private readonly describeExit: (stderr: string) => Error,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.#onData('stdout', chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#clientErrors = (this.#clientErrors + chunk.toString('utf8')).slice(-2_000);
      this.#onData('stderr', chunk);
    });
    child.stdin?.on('error', () => {
      // the channel closed: told by the client's exit
    });
    child.once('close', () => {
      this.#closed = this.describeExit(this.#clientErrors);
      this.#current?.reject(this.#closed);
      this.#current = undefined;
    });
  }

  /** A new token for a session's frames. */
  static token(): string {
    return randomBytes(8).toString('hex');
  }

  /** Running a command, asked whether it answers, or promised to the caller that asked. */
  get busy(): boolean {
    return this.#current !== undefined || this.#pong !== undefined || this.#reserved;
  }

  get alive(): boolean {
    return this.#closed === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Whether the shell still answers, within `timeoutMs`. An idle shell can be stopped without its channel
   * closing (every process of the host but sshd frozen); a command sent to it would wait — and run when
   * the shell is thawed. A ping it has not read yet is harmless, a command is not: so it is asked first.
   */
  ping(timeoutMs: number): Promise<boolean> {
    if (!this.alive || this.busy) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#pong = undefined;
        resolve(false);
      }, timeoutMs);
      this.#pongText = '';
      this.#pong = () => {
        clearTimeout(timer);
        this.#pong = undefined;
        // the caller runs its command next: nobody else may take the shell in between
        this.#reserved = true;
        resolve(true);
      };
      this.child.stdin?.write('ping\n');
    });
  }

  /** Ends the shell: its channel closes, and the loop on the host ends what it runs. */
  stop(): void {
    this.child.stdin?.end();
    stopGroup(this.child, 1_000);
  }

  run(command: string, options: RunOptions = {}): Promise<RunResult> {
    if (!this.alive) return Promise.reject(this.#closed ?? this.describeExit(this.#clientErrors));
    if (this.#current !== undefined) throw new Error('a host session runs one command at a time');
    this.#reserved = false;
    const limit = options.outputLimit ?? DEFAULT_OUTPUT_LIMIT;
    const id = this.#nextId++;
    const encode = (text: string): string => Buffer.from(text).toString('base64');
    return new Promise<RunResult>((resolve, reject) => {
      let stopping: NodeJS.Timeout | undefined;
      const cancel = (): void => {
        this.child.stdin?.write('cancel\n');
        // the host ends the command within its 2 s grace; a shell that does not answer is ended here
        stopping ??= setTimeout(() => this.stop(), 5_000);
      };
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(cancel, options.timeoutMs);
      options.signal?.addEventListener('abort', cancel, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        clearTimeout(stopping);
        options.signal?.removeEventListener('abort', cancel);
      };
      this.#current = {
        id,
        stdout: new FramedStream(limit, (chunk) => options.onOutput?.('stdout', chunk)),
        stderr: new FramedStream(limit, (chunk) => options.onOutput?.('stderr', chunk)),
        exitCode: undefined,
        stderrDone: false,
        started: performance.now(),
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const start = prelude(options);
      this.child.stdin?.write(`run ${id} ${start === undefined ? '-' : encode(start)} ${encode(command)}\n`);
      if (options.signal?.aborted === true) cancel();
    });
  }

  #onData(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const current = this.#current;
    if (current === undefined) {
      if (stream === 'stdout' && this.#pong !== undefined) {
        this.#pongText = (this.#pongText + chunk.toString('latin1')).slice(-200);
        if (this.#pongText.includes(`${this.token} pong\n`)) this.#pong();
      }
      return;
    }
    if (stream === 'stderr') this.#clientErrors = '';
    if (stream === 'stdout') {
      const found = current.stdout.push(chunk, new RegExp(`\\n${this.token} ${current.id} (\\d+)\\n`));
      if (found !== undefined) current.exitCode = Number(found[1]);
    } else if (current.stderr.push(chunk, new RegExp(`\\n${this.token} ${current.id}\\n`)) !== undefined)
      current.stderrDone = true;
    if (current.exitCode === undefined || !current.stderrDone) return;
    this.#current = undefined;
    this.child.stdin?.write('ack\n');
    const { exitCode, signal } = exitStatus(current.exitCode);
    current.resolve({
      exitCode,
      signal,
      stdout: current.stdout.output.text(),
      stderr: current.stderr.output.text(),
      durationMs: performance.now() - current.started,
    });
  }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/**
 * The shell on the host reports a command killed by signal n as status 128 + n; told as the signal's name
 * with no exit code, as a local command is (the local wrapper makes the same reading of the same status).
 */
export function exitStatus(status: number): { exitCode: number | null; signal: string | null } {
  const name = status > 128 && status < 160 ? SIGNAL_NAMES.get(status - 128) : undefined;
  return name === undefined ? { exitCode: status, signal: null } : { exitCode: null, signal: name };
}
