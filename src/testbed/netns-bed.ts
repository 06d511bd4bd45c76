/**
 * A test bed of real hosts on this machine: each host a Linux network namespace with its own address in
 * 198.18.0.0/15 (reserved for benchmarks), joined to the root namespace by a veth pair on one bridge, and
 * running Debian's sshd. drctl, its router and the canary stay in the root namespace and reach the hosts only
 * over those addresses. Used by the SSH tests, `bench:failover` and the demo when it can make one.
 *
 *   const bed = await NetnsBed.create({ hosts: ['east', 'west'] });
 *   bed.target('east')            // a HostTarget: address, user root, the bed's key and known_hosts
 *   await bed.cut('east');        // the link goes down: a true partition
 *   await bed.freeze('east');     // SIGSTOP every process of the host but its sshd
 *   await bed.kill('east');       // SIGKILL them
 *   await bed.close();            // every namespace, link, process and file the bed made is gone
 *
 * Rules it keeps, so several beds (and other people's) can run at once on one machine:
 * - before any link exists, a blackhole route for the whole 198.18.0.0/15 is in the root namespace
 *   (metric 4000, below any bed's own /24), so a cut or missing link never sends a packet out of the
 *   machine; shared by the beds, it is removed by the last one to close when a bed added it (a marker file
 *   says so), and left alone when it was there before;
 * - every bed takes its own /24, claimed with a lock file, and its own random name prefix;
 * - `close()` removes everything the bed made, and `NetnsBed.cleanupStale()` removes what beds whose
 *   process died left behind (found by their lock files), never a live bed's.
 *
 * Needs root, iproute2 and openssh-server; `NetnsBed.unavailable()` says why a bed cannot be made here.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { localExecutor, runChecked, shellJoin } from '../exec/index.ts';
import type { HostTarget } from '../exec/index.ts';
import { runProcess } from '../exec/local.ts';
import { processAlive } from '../system/processes.ts';

const RANGE = '198.18.0.0/15';
const SSHD = '/usr/sbin/sshd';
const LOCK_PREFIX = 'drctl-netns-bed-';
/** Present while the blackhole route is one a bed added (not one that was there before any bed). */
const BLACKHOLE_MARKER = join(tmpdir(), 'drctl-netns-blackhole');

/** The last bed to close takes away the blackhole route a bed added: no bed's lock file is left. */
async function removeBlackholeWhenLast(): Promise<void> {
  if (!existsSync(BLACKHOLE_MARKER)) return;
  if (readdirSync(tmpdir()).some((entry) => entry.startsWith(LOCK_PREFIX))) return;
  await localExecutor.run(`ip route del blackhole ${RANGE} metric 4000`);
  rmSync(BLACKHOLE_MARKER, { force: true });
}

const NETNS_ETC = '/etc/netns';

export interface NetnsBedOptions {
  /** Names of the hosts, each one namespace with its own address. @default ['east', 'west'] */
  hosts?: readonly string[];
  /**
   * Add a jump host `bastion`: the other hosts' sshd then accept connections only from the bastion's
   * address, so reaching them over SSH proves the jump was taken. Other traffic (PostgreSQL, HTTP) is not
   * restricted. @default false
   */
  bastion?: boolean;
  /**
   * What logins on a host find in their environment, by host name: its /etc/environment (read by sshd's
   * PAM), so a host can have a PATH of its own, e.g. one without a program. @default none
   */
  environment?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface BedHost {
  name: string;
  /** The namespace's name. */
  namespace: string;
  address: string;
  /** The root-side end of its veth pair: down is a cut link. */
  link: string;
  /** Public host key, as known_hosts lists it. */
  hostKey: string;
}

function run(argv: readonly string[]): Promise<string> {
  return runChecked(localExecutor, shellJoin(argv)).then((r) => r.stdout);
}

async function tryRun(argv: readonly string[]): Promise<void> {
  await localExecutor.run(shellJoin(argv));
}

/** Whether a TCP port answers, within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class NetnsBed {
  /** Random prefix of every name the bed made. */
  readonly id: string;
  /** Directory of the bed's keys, known_hosts and sshd configurations. */
  readonly dir: string;
  /** The bed's /24. */
  readonly subnet: string;
  /** The root namespace's address on the bed's bridge. */
  readonly gateway: string;
  /** The client key every host accepts (no passphrase). */
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly hosts: ReadonlyMap<string, BedHost>;
  readonly #bridge: string;
  readonly #lock: string;
  readonly #sshd = new Map<string, ChildProcess>();
  #closed = false;

  private constructor(parts: { id: string; dir: string; octets: [number, number]; lock: string }) {
    this.id = parts.id;
    this.dir = parts.dir;
    const [b, c] = parts.octets;
    this.subnet = `198.${b}.${c}.0/24`;
    this.gateway = `198.${b}.${c}.1`;
    this.identityFile = join(parts.dir, 'id_ed25519');
    this.knownHostsFile = join(parts.dir, 'known_hosts');
    this.#bridge = `dr${parts.id}br`;
    this.#lock = parts.lock;
    this.hosts = new Map();
  }

  /** Why a bed cannot be made on this machine, or undefined when it can. */
  static unavailable(): string | undefined {
    if (process.platform !== 'linux') return 'network namespaces need Linux';
    if (process.getuid?.() !== 0) return 'network namespaces need root';
    if (!existsSync(SSHD)) return 'sshd is not installed (apt-get install openssh-server)';
    if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some(existsSync))
      return 'ip is not installed (apt-get install iproute2)';
    return undefined;
  }

  static async create(options: NetnsBedOptions = {}): Promise<NetnsBed> {
    const reason = NetnsBed.unavailable();
    if (reason !== undefined) throw new Error(`cannot make a network namespace bed: ${reason}`);
    await NetnsBed.cleanupStale();
    // the blackhole first, so no packet for the range ever takes the default route out of the machine
    const blackhole = await localExecutor.run(`ip route add blackhole ${RANGE} metric 4000`);
    if (blackhole.exitCode !== 0 && !/File exists/.test(blackhole.stderr))
      throw new Error(`cannot add the blackhole route for ${RANGE}: ${blackhole.stderr.trim()}`);
    if (blackhole.exitCode === 0) writeFileSync(BLACKHOLE_MARKER, `${process.pid}\n`);
    const id = randomBytes(3).toString('hex');
    const { octets, lock } = await claimSubnet(id);
    const dir = mkdtempSync(join(tmpdir(), 'drctl-bed-'));
    const bed = new NetnsBed({ id, dir, octets, lock });
    try {
      await bed.#build(options);
    } catch (error) {
      await bed.close();
      throw error;
    }
    return bed;
  }

  async #build(options: NetnsBedOptions): Promise<void> {
    const names = [...(options.hosts ?? ['east', 'west']), ...(options.bastion === true ? ['bastion'] : [])];
    await run(['chmod', '755', this.dir]);
    await run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `drctl-bed-${this.id}`,
      '-f',
      this.identityFile,
    ]);
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(`${this.identityFile}.pub`), {
      mode: 0o644,
    });
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    await run(['ip', 'link', 'add', this.#bridge, 'type', 'bridge']);
    await run(['ip', 'addr', 'add', `${this.gateway}/24`, 'dev', this.#bridge]);
    await run(['ip', 'link', 'set', this.#bridge, 'up']);
    const base = this.gateway.replace(/\.1$/, '.');
    const hosts = this.hosts as Map<string, BedHost>;
    for (const [i, name] of names.entries()) {
      const namespace = `drctl-${this.id}-${name}`;
      const link = `dr${this.id}v${i}`;
      const peer = `dr${this.id}p${i}`;
      const address = `${base}${i + 2}`;
      await run(['ip', 'netns', 'add', namespace]);
      await run(['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
      await run(['ip', 'link', 'set', peer, 'netns', namespace]);
      await run(['ip', 'link', 'set', link, 'master', this.#bridge, 'up']);
      const inside = (argv: string[]): Promise<string> => run(['ip', 'netns', 'exec', namespace, ...argv]);
      await inside(['ip', 'link', 'set', peer, 'name', 'eth0']);
      await inside(['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await inside(['ip', 'link', 'set', 'eth0', 'up']);
      await inside(['ip', 'link', 'set', 'lo', 'up']);
      const environment = options.environment?.[name];
      // `ip netns exec` binds /etc/netns/<namespace>/* over /etc/* for what it starts: sshd and its logins
      if (environment !== undefined) {
        mkdirSync(join(NETNS_ETC, namespace), { recursive: true });
        writeFileSync(
          join(NETNS_ETC, namespace, 'environment'),
          Object.entries(environment)
            .map(([key, value]) => `${key}=${value}\n`)
            .join(''),
        );
      }
      const keyFile = join(this.dir, `${name}_host_ed25519_key`);
      await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile]);
      const hostKey = readFileSync(`${keyFile}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
      hosts.set(name, { name, namespace, address, link, hostKey });
    }
    const bastion = hosts.get('bastion');
    for (const host of hosts.values()) {
      const config = join(this.dir, `${host.name}_sshd_config`);
      const onlyFrom = bastion !== undefined && host !== bastion ? [`AllowUsers *@${bastion.address}`] : [];
      writeFileSync(
        config,
        [
          `ListenAddress ${host.address}`,
          'Port 22',
          `HostKey ${join(this.dir, `${host.name}_host_ed25519_key`)}`,
          `PidFile ${join(this.dir, `${host.name}_sshd.pid`)}`,
          `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
          'PermitRootLogin prohibit-password',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'StrictModes no',
          // PAM: a locked password (the postgres user's `!`) must not refuse key logins, as it does without PAM
          'UsePAM yes',
          'AllowTcpForwarding yes',
          'MaxSessions 100',
          'MaxStartups 100:30:200',
          'LogLevel ERROR',
          ...onlyFrom,
          '',
        ].join('\n'),
      );
      const { child } = runProcess(
        ['ip', 'netns', 'exec', host.namespace, SSHD, '-D', '-e', '-f', config],
        { cwd: '/' },
        (error) => error,
      );
      this.#sshd.set(host.name, child);
    }
    writeFileSync(
      this.knownHostsFile,
      [...hosts.values()].map((h) => `${h.address} ${h.hostKey}\n`).join(''),
      { mode: 0o644 },
    );
    for (const host of hosts.values()) {
      const deadline = Date.now() + 10_000;
      while (!(await tcpOpen(host.address, 22))) {
        if (Date.now() > deadline) throw new Error(`sshd on ${host.name} (${host.address}) did not start`);
        await sleep(20);
      }
    }
  }

  host(name: string): BedHost {
    const host = this.hosts.get(name);
    if (host === undefined) throw new Error(`the bed has no host ${name}`);
    return host;
  }

  /** How drctl reaches a host of the bed (through the bastion when the bed has one). */
  target(name: string, options: { user?: string; connectTimeoutMs?: number } = {}): HostTarget {
    const host = this.host(name);
    const bastion = this.hosts.get('bastion');
    return {
      name,
      address: host.address,
      user: options.user ?? 'root',
      port: 22,
      identityFile: this.identityFile,
      knownHostsFile: this.knownHostsFile,
      jump: bastion === undefined || name === 'bastion' ? undefined : this.target('bastion'),
      passphraseEnv: undefined,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    };
  }

  /** The pids of every process in a host's namespace. */
  async pids(name: string): Promise<number[]> {
    const out = await run(['ip', 'netns', 'pids', this.host(name).namespace]);
    return out
      .split('\n')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  }

  /** Pids of the host's processes, its sshd (the listener and its sessions) left out unless `sshd`. */
  async #targets(name: string, sshd: boolean): Promise<number[]> {
    const pids = await this.pids(name);
    if (sshd) return pids;
    return pids.filter((pid) => {
      try {
        return !readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sshd');
      } catch {
        return false;
      }
    });
  }

  #signal(pids: readonly number[], signal: NodeJS.Signals): void {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
  }

  /** Cut the host's link: nothing reaches it and nothing leaves it, its processes run on. */
  async cut(name: string): Promise<void> {
    await run(['ip', 'link', 'set', this.host(name).link, 'down']);
  }

  async heal(name: string): Promise<void> {
    await run(['ip', 'link', 'set', this.host(name).link, 'up']);
  }

  /** SIGKILL the host's processes; with `sshd`, the whole machine is gone (SSH refused too). */
  async kill(name: string, options: { sshd?: boolean } = {}): Promise<number[]> {
    const pids = await this.#targets(name, options.sshd === true);
    this.#signal(pids, 'SIGKILL');
    return pids;
  }

  /** SIGSTOP the host's processes: sockets stay open and nothing answers. With `sshd`, SSH hangs too. */
  async freeze(name: string, options: { sshd?: boolean } = {}): Promise<number[]> {
    const pids = await this.#targets(name, options.sshd === true);
    this.#signal(pids, 'SIGSTOP');
    return pids;
  }

  async thaw(name: string): Promise<void> {
    this.#signal(await this.pids(name), 'SIGCONT');
  }

  /** Run a command inside a host's namespace directly, as root (set-up that is not drctl's to do). */
  async inside(name: string, command: string): Promise<string> {
    return run(['ip', 'netns', 'exec', this.host(name).namespace, '/bin/sh', '-c', command]);
  }

  /** Remove every process, namespace, link and file the bed made. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await removeBed(this.id);
    for (const child of this.#sshd.values()) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.#lock, { force: true });
    await removeBlackholeWhenLast();
  }

  /** Remove what beds whose process is gone left behind (their lock names the owner's pid). */
  static async cleanupStale(): Promise<void> {
    for (const entry of readdirSync(tmpdir())) {
      if (!entry.startsWith(LOCK_PREFIX)) continue;
      const path = join(tmpdir(), entry);
      let owner: { pid: number; id: string };
      try {
        owner = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; id: string };
      } catch {
        continue;
      }
      if (processAlive(owner.pid)) continue;
      await removeBed(owner.id);
      rmSync(path, { force: true });
    }
  }
}

/** Claim a /24 no other bed holds (a lock file per /24) and no interface here uses. */
async function claimSubnet(id: string): Promise<{ octets: [number, number]; lock: string }> {
  const used = await run(['ip', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const n = randomInt(0, 512);
    const octets: [number, number] = [18 + (n >> 8), n & 255];
    if (used.includes(` 198.${octets[0]}.${octets[1]}.`)) continue;
    const lock = join(tmpdir(), `${LOCK_PREFIX}${octets[0]}-${octets[1]}`);
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, JSON.stringify({ pid: process.pid, id }));
      closeSync(fd);
      return { octets, lock };
    } catch {
      // another bed holds it
    }
  }
  throw new Error('no free /24 left in 198.18.0.0/15 for a bed');
}

/** Kill the processes of every namespace of a bed and delete its namespaces and links. */
async function removeBed(id: string): Promise<void> {
  const namespaces = (await localExecutor.run('ip netns list')).stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`drctl-${id}-`));
  for (const namespace of namespaces) {
    const pids = (await localExecutor.run(shellJoin(['ip', 'netns', 'pids', namespace]))).stdout
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await tryRun(['ip', 'netns', 'del', namespace]);
    rmSync(join(NETNS_ETC, namespace), { recursive: true, force: true });
  }
  const links = (await localExecutor.run('ip -o link show')).stdout
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(`dr${id}`));
  for (const link of links) await tryRun(['ip', 'link', 'del', link]);
}
