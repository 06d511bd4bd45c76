/**
 * Test support: Debian's haproxy started on loopback with free ports, a runtime API on a unix socket and
 * one on TCP, and one backend whose servers the test names. Stopped by `stop()`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../system/ports.ts';
import { runtimeCommand } from './runtime.ts';

export interface TestHaproxy {
  /** The unix stats socket (level admin). */
  socket: string;
  /** The TCP stats socket, 127.0.0.1:port (level admin). */
  tcpSocket: string;
  /** A unix stats socket at `level user`: it reads but may not change servers. */
  userSocket: string;
  /** The front door, http://127.0.0.1:port. */
  url: string;
  stop(): Promise<void>;
}

export interface TestHaproxyOptions {
  backend?: string;
  servers: { name: string; port: number; backup?: boolean }[];
  /** Health-check options of every server line. @default 'check inter 200ms fall 3 rise 1' */
  check?: string;
}

export function haproxyBinary(): string | undefined {
  return ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((path) => existsSync(path));
}

export async function startTestHaproxy(options: TestHaproxyOptions): Promise<TestHaproxy> {
  const binary = haproxyBinary();
  if (binary === undefined) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const dir = mkdtempSync(join(tmpdir(), 'drctl-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const [front, statsPort] = [await freePort(), await freePort()];
  const backend = options.backend ?? 'orders';
  const check = options.check ?? 'check inter 200ms fall 3 rise 1';
  const config = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    `  stats socket 127.0.0.1:${statsPort} level admin`,
    `  stats socket ${join(dir, 'user.sock')} mode 600 level user`,
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend web',
    `  bind 127.0.0.1:${front}`,
    `  default_backend ${backend}`,
    `backend ${backend}`,
    '  option httpchk GET /health',
    ...options.servers.map(
      (server) =>
        `  server ${server.name} 127.0.0.1:${server.port} ${check}${server.backup ? ' backup' : ''}`,
    ),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  const child: ChildProcess = spawn(binary, ['-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await runtimeCommand(socket, 'show info', { timeoutMs: 500 });
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not start: ${stderr.trim()}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    socket,
    tcpSocket: `127.0.0.1:${statsPort}`,
    userSocket: join(dir, 'user.sock'),
    url: `http://127.0.0.1:${front}`,
    stop,
  };
}
