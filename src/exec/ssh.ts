/**
 * Commands on a host over SSH, through the system's OpenSSH client with connection multiplexing.
 *
 * Why OpenSSH and not a JavaScript SSH library (`ssh2`): measured on the test bed (a host in a network
 * namespace, this repository's src/testbed), 30 `true` commands over one open connection each, on a busy
 * two-core machine (load average 23): OpenSSH multiplexed 624–731 ms median, ssh2's `exec` 508–755 ms
 * across three runs, against 24–27 ms for the same command here; at load 6, 144 ms OpenSSH, 177 ms ssh2, 2.9 ms
 * here. What a step costs is the host starting a
 * session and a shell, the same for both clients; the client's own share is lost in that noise (and
 * commands now go through a long-lived shell per host, session.ts, which removes that cost). So the
 * choice is made on everything else: OpenSSH reads `~/.ssh/config` (aliases, per-host users and keys),
 * talks to the agent, checks `known_hosts` (hashed entries, `@cert-authority`, `@revoked`) and jumps through
 * bastions exactly as the operator's own `ssh` does — with ssh2 drctl would re-implement all of that and
 * differ in the corners. docs/benchmarks.md has the step cost measured by `bench:failover`.
 *
 * One connection per host: `connect()` opens a master connection (`ControlMaster=yes`, `-N`) as a guarded
 * process of its own — it dies with drctl, not with a step — and every command is then a channel on it
 * (`ControlMaster=no`). Keep-alives end a master whose host stopped answering within about 3 s; its exit
 * is seen here, and the next command opens a new one, so a cut-off host fails as unreachable instead of
 * hanging and a host that came back is reached again.
 *
 * Commands run through long-lived shells on the master connection (session.ts), one command at a time per
 * shell and as many shells as commands run at once: a command costs a few milliseconds instead of a new
 * client here and a new session there. A remote command must not outlive the driver: it runs in its own
 * session (process group) on the host, ended when drctl cancels it or when the shell's channel closes —
 * which happens when drctl dies (the shell's SSH client is in a process group drctl kills on exit, and a
 * killed client closes the channel). The environment travels inside the channel, so secrets (PGPASSWORD)
 * never appear on a command line here or there. `stream` (a copy's tar) still takes a channel of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../system/processes.ts';
import { HostError, sshFailure } from './errors.ts';
import { runProcess, stopGroup } from './local.ts';
import { shellJoin, shellQuote } from './quote.ts';
import { HostSession, sessionCommand } from './session.ts';
import type { Executor, HostTarget, RunOptions, RunResult, StreamHandle, StreamOptions } from './types.ts';

/** How long an idle shell on a host may take to answer before a new one is opened instead. */
const PING_TIMEOUT_MS = 2_000;

/** Keep-alive probes: a master whose host stops answering ends after interval × count. */
const ALIVE_INTERVAL_S = 1;
const ALIVE_COUNT = 3;

let controlDir: string | undefined;
let exitHooked = false;
const open = new Set<SshExecutor>();

/** One private directory per drctl process for the control sockets, removed when it exits or closes them all. */
function controlDirectory(): string {
  if (controlDir !== undefined) return controlDir;
  removeStaleControlDirectories();
  const dir = mkdtempSync(join(tmpdir(), `drctl-ssh-${process.pid}-`));
  // SSH_ASKPASS: prints the passphrase ssh asks for, from the variable drctl sets for that one client
  writeFileSync(join(dir, 'askpass'), '#!/bin/sh\nprintf "%s\\n" "$DRCTL_SSH_ASKPASS_VALUE"\n', {
    mode: 0o700,
  });
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const executor of open) executor.closeSync();
      open.clear();
      releaseControlDirectory();
    });
  }
  controlDir = dir;
  return dir;
}

/** A drctl killed with SIGKILL cannot remove its directory: the next one does, once that process is gone. */
function removeStaleControlDirectories(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^drctl-ssh-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/**
 * Remove the control directory once no connection uses it (`closeExecutors`): test workers and embedding
 * processes do not always end with an 'exit' event. The next connection makes a new one.
 */
export function releaseControlDirectory(): void {
  if (controlDir === undefined || open.size > 0) return;
  rmSync(controlDir, { recursive: true, force: true });
  controlDir = undefined;
}

/** The control socket of a host: one per way of reaching it (user, key, known_hosts, jump), not per address. */
function controlPath(host: HostTarget): string {
  const key = createHash('sha256').update(JSON.stringify(host)).digest('hex').slice(0, 32);
  return join(controlDirectory(), key);
}

/** The client options for a host, without the destination; `mux` says how to use the control socket. */
function sshOptions(host: HostTarget, mux: 'master' | 'client' | 'none'): string[] {
  const options = [
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `ConnectTimeout=${Math.max(1, Math.ceil(host.connectTimeoutMs / 1000))}`,
    '-o', `ServerAliveInterval=${ALIVE_INTERVAL_S}`,
    '-o', `ServerAliveCountMax=${ALIVE_COUNT}`,
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'LogLevel=ERROR',
  ]; // prettier-ignore
  if (host.passphraseEnv === undefined) options.push('-o', 'BatchMode=yes');
  if (mux !== 'none') {
    options.push('-o', `ControlMaster=${mux === 'master' ? 'yes' : 'no'}`);
    options.push('-o', `ControlPath=${controlPath(host)}`);
  }
  if (host.knownHostsFile !== undefined) options.push('-o', `UserKnownHostsFile=${host.knownHostsFile}`);
  if (host.identityFile !== undefined) options.push('-i', host.identityFile, '-o', 'IdentitiesOnly=yes');
  if (host.user !== undefined) options.push('-l', host.user);
  if (host.port !== undefined) options.push('-p', String(host.port));
  if (host.jump !== undefined) {
    // ProxyCommand rather than -J, so the jump host gets its own user, key and known_hosts from the plan
    const jump = ['ssh', ...sshOptions(host.jump, 'none'), '-W', '%h:%p', host.jump.address];
    options.push('-o', `ProxyCommand=${shellJoin(jump)}`);
  }
  return options;
}

/** The environment of the local SSH client: the passphrase for SSH_ASKPASS, when the plan names one. */
function clientEnv(host: HostTarget): Record<string, string> {
  const names = [host.passphraseEnv, host.jump?.passphraseEnv].filter((n): n is string => n !== undefined);
  const name = names[0];
  if (name === undefined) return {};
  return {
    SSH_ASKPASS: join(controlDirectory(), 'askpass'),
    SSH_ASKPASS_REQUIRE: 'force',
    DRCTL_SSH_ASKPASS_VALUE: process.env[name] ?? '',
  };
}

export class SshExecutor implements Executor {
  readonly host: HostTarget;
  #connected: Promise<void> | undefined;
  #master: ChildProcess | undefined;
  #sessions: HostSession[] = [];

  constructor(host: HostTarget) {
    this.host = host;
  }

  get where(): string {
    return `host ${this.host.name} (${this.host.address})`;
  }

  /**
   * Open the master connection unless it is open; fails with a HostError saying why. The master is a
   * guarded process of its own (it dies with drctl, not after a step), and its socket appears only once
   * the host is reached and drctl logged in: then every command is a channel on it.
   */
  connect(): Promise<void> {
    this.#connected ??= this.#openMaster().catch((error: unknown) => {
      this.#connected = undefined;
      throw error;
    });
    return this.#connected;
  }

  async #openMaster(): Promise<void> {
    open.add(this);
    const socket = controlPath(this.host);
    rmSync(socket, { force: true });
    const argv = ['ssh', ...sshOptions(this.host, 'master'), '-N', '-T', this.host.address];
    const { child, done } = runProcess(
      argv,
      { cwd: '/', env: clientEnv(this.host) },
      (error) =>
        new HostError('DRCTL_HOST_SSH', this.host, `cannot start ssh: ${error.message}`, { cause: error }),
    );
    this.#master = child;
    let exited: RunResult | undefined;
    void done.then(
      (result) => {
        exited = result;
        // a dropped connection: the next command opens a new one
        if (this.#master === child) {
          this.#master = undefined;
          this.#connected = undefined;
          // nothing of this host is left to end on exit, and the control directory may go
          if (this.#sessions.every((session) => !session.alive)) open.delete(this);
        }
      },
      () => undefined,
    );
    while (!existsSync(socket)) {
      if (exited !== undefined)
        throw (
          sshFailure(this.host, { ...exited, exitCode: 255 }) ??
          new HostError('DRCTL_HOST_SSH', this.host, 'the connection closed while opening')
        );
      await sleep(5);
    }
  }

  /**
   * Run a command through one of the host's long-lived shells (session.ts): a few milliseconds where a
   * fresh channel costs a new client and session. A busy shell is not shared; another one is opened.
   */
  async run(command: string, options: RunOptions = {}): Promise<RunResult> {
    await this.connect();
    const session = await this.#session(options);
    const result = await session.run(command, options);
    const failure = sshFailure(this.host, result);
    if (failure !== undefined) throw failure;
    return result;
  }

  async #session(options: RunOptions): Promise<HostSession> {
    for (;;) {
      this.#sessions = this.#sessions.filter((session) => session.alive);
      const idle = this.#sessions.find((session) => !session.busy);
      if (idle === undefined) break;
      if (await idle.ping(PING_TIMEOUT_MS)) return idle;
      idle.stop();
      this.#sessions = this.#sessions.filter((session) => session !== idle);
    }
    // a new shell needs no ping: it was started just now
    open.add(this);
    const token = HostSession.token();
    const argv = ['ssh', ...sshOptions(this.host, 'client'), '-T', this.host.address, sessionCommand(token)];
    const { child, process: carrier } = runProcess(
      argv,
      { cwd: '/', env: clientEnv(this.host), stdin: 'keep-open', rawStdout: true },
      (error) =>
        new HostError('DRCTL_HOST_SSH', this.host, `cannot start ssh: ${error.message}`, { cause: error }),
    );
    if (carrier !== undefined) options.onStart?.(carrier);
    const session = new HostSession(
      child,
      token,
      (stderr) =>
        sshFailure(this.host, { exitCode: 255, signal: null, stdout: '', stderr, durationMs: 0 }) ??
        new HostError('DRCTL_HOST_UNREACHABLE', this.host, 'unreachable: the connection dropped'),
    );
    this.#sessions.push(session);
    return session;
  }

  stream(command: string, options: StreamOptions = {}): StreamHandle {
    open.add(this);
    const cd = options.cwd === undefined ? '' : `cd ${shellQuote(options.cwd)} && `;
    const remote = `${cd}exec /bin/sh -c ${shellQuote(command)}`;
    const argv = ['ssh', ...sshOptions(this.host, 'client'), '-T', this.host.address, remote];
    const { child, done } = runProcess(
      argv,
      {
        cwd: '/',
        env: clientEnv(this.host),
        rawStdout: true,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      },
      (error) =>
        new HostError('DRCTL_HOST_SSH', this.host, `cannot start ssh: ${error.message}`, { cause: error }),
    );
    return {
      stdout: child.stdout as NodeJS.ReadableStream,
      done: done.then((result) => {
        const failure = sshFailure(this.host, result);
        if (failure !== undefined) throw failure;
        return result;
      }),
    };
  }

  async signal(pid: number, signal: NodeJS.Signals, options: { group?: boolean } = {}): Promise<boolean> {
    const target = options.group === true ? `-${pid}` : String(pid);
    const result = await this.run(`kill -${signal.replace(/^SIG/, '')} ${target}`);
    return result.exitCode === 0;
  }

  /** End the master connection; the next command opens a new one. */
  async close(): Promise<void> {
    this.#connected = undefined;
    open.delete(this);
    const sessions = this.#sessions;
    this.#sessions = [];
    await Promise.all(
      sessions.map(async (session) => {
        if (!session.alive) return;
        const gone = new Promise((resolve) => session.child.once('close', resolve));
        session.stop();
        await gone;
      }),
    );
    const master = this.#master;
    this.#master = undefined;
    if (master === undefined || master.exitCode !== null) return;
    const gone = new Promise((resolve) => master.once('exit', resolve));
    stopGroup(master, 1_000);
    await gone;
  }

  /** At process exit: end the master without waiting. */
  closeSync(): void {
    for (const session of this.#sessions) session.child.kill('SIGKILL');
    this.#master?.kill('SIGKILL');
  }
}
