/**
 * A client of HAProxy's runtime API: one command per connection on the stats socket (`stats socket` in
 * haproxy.cfg, a unix path or a TCP `host:port`), the answer read until HAProxy closes the connection.
 * `show stat` is parsed from its CSV; a server's state is changed with `set server`.
 */
import net from 'node:net';
import { DrctlError } from '../../errors.ts';

/** Where the runtime API listens: a unix socket path, or `host:port` (also `unix:/path`, `tcp:host:port`). */
export type SocketAddress = { path: string } | { host: string; port: number };

export function parseSocket(socket: string): SocketAddress {
  const text = socket.replace(/^tcp:(\/\/)?/, '');
  if (text.startsWith('unix:')) return { path: text.slice('unix:'.length).replace(/^\/\/(?=\/)/, '') };
  if (text.startsWith('/') || text.startsWith('.')) return { path: text };
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text);
  if (match === null)
    throw new DrctlError(
      'DRCTL_HAPROXY_SOCKET_INVALID',
      `"${socket}" is neither a socket path nor host:port`,
      {
        hint: 'give the stats socket of haproxy.cfg: an absolute path (/run/haproxy/admin.sock) or 127.0.0.1:9999',
      },
    );
  return { host: match[1] || '127.0.0.1', port: Number(match[2]) };
}

export interface RuntimeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Sends one command and returns HAProxy's whole answer. */
export function runtimeCommand(
  socket: string,
  command: string,
  options: RuntimeOptions = {},
): Promise<string> {
  const address = parseSocket(socket);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const conn = 'path' in address ? net.connect(address.path) : net.connect(address.port, address.host);
    const fail = (reason: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      conn.destroy();
      reject(
        new DrctlError('DRCTL_HAPROXY_SOCKET_UNREACHABLE', `HAProxy's runtime API at ${socket} ${reason}`, {
          hint: 'check the `stats socket` line of haproxy.cfg (path or address, `level admin`) and that haproxy runs',
          cause,
          details: { socket, command: command.split(' ').slice(0, 2).join(' '), retryable: true },
        }),
      );
    };
    const timer = setTimeout(() => fail(`did not answer "${command}" within ${timeoutMs} ms`), timeoutMs);
    const onAbort = (): void => fail('was not asked: the step was cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    conn.setNoDelay(true);
    conn.on('connect', () => conn.write(`${command}\n`));
    conn.on('data', (chunk: Buffer) => chunks.push(chunk));
    conn.on('error', (error: NodeJS.ErrnoException) =>
      fail(`refused the connection (${error.code ?? error.message})`, error),
    );
    conn.on('close', () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** One server (or frontend/backend line) of `show stat`, the columns drctl reads. */
export interface ServerStat {
  backend: string;
  server: string;
  /** UP, DOWN, MAINT, DRAIN, NOLB, "UP 1/2" (going down), "DOWN 1/2" (going up), "no check". */
  status: string;
  weight: number;
  /** Result of the last health check: L4OK, L7OK, L4CON, L7STS, ... (empty without checks). */
  checkStatus: string;
  /** Seconds since the last state change. */
  lastChangeS: number;
  backup: boolean;
  /** Sessions now on the server. */
  sessions: number;
}

/** Every server of every backend, from `show stat` (frontends and backend summary lines left out). */
export async function showStat(socket: string, options: RuntimeOptions = {}): Promise<ServerStat[]> {
  const text = await runtimeCommand(socket, 'show stat', options);
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0]?.replace(/^#\s*/, '').split(',');
  if (header === undefined || !header.includes('pxname') || !header.includes('status'))
    throw rejected(socket, 'show stat', text);
  const column = (name: string): number => header.indexOf(name);
  const at = {
    px: column('pxname'),
    sv: column('svname'),
    status: column('status'),
    weight: column('weight'),
    check: column('check_status'),
    lastchg: column('lastchg'),
    bck: column('bck'),
    scur: column('scur'),
  };
  return lines.slice(1).flatMap((line) => {
    const cells = line.split(',');
    const server = cells[at.sv] ?? '';
    if (server === 'FRONTEND' || server === 'BACKEND') return [];
    return [
      {
        backend: cells[at.px] ?? '',
        server,
        status: cells[at.status] ?? '',
        weight: Number(cells[at.weight] ?? 0),
        // "* L7OK": a check is running now; the result is that of the last one
        checkStatus: (cells[at.check] ?? '').replace(/^\* /, ''),
        lastChangeS: Number(cells[at.lastchg] ?? 0),
        backup: cells[at.bck] === '1',
        sessions: Number(cells[at.scur] ?? 0),
      },
    ];
  });
}

/** A server's line of `show stat`, or an error naming the backends or servers HAProxy does have. */
export async function serverStat(
  socket: string,
  backend: string,
  server: string,
  options: RuntimeOptions = {},
): Promise<ServerStat> {
  const stats = await showStat(socket, options);
  return findServer(stats, socket, backend, server);
}

export function findServer(
  stats: readonly ServerStat[],
  socket: string,
  backend: string,
  server: string,
): ServerStat {
  const inBackend = stats.filter((stat) => stat.backend === backend);
  if (inBackend.length === 0) {
    const backends = [...new Set(stats.map((stat) => stat.backend))];
    throw new DrctlError('DRCTL_HAPROXY_UNKNOWN_BACKEND', `HAProxy at ${socket} has no backend ${backend}`, {
      hint: `backends with servers there: ${backends.join(', ') || 'none'}`,
      details: { socket, backend },
    });
  }
  const found = inBackend.find((stat) => stat.server === server);
  if (found === undefined) {
    throw new DrctlError(
      'DRCTL_HAPROXY_UNKNOWN_SERVER',
      `backend ${backend} of HAProxy at ${socket} has no server ${server}`,
      {
        hint: `servers of ${backend}: ${inBackend.map((stat) => stat.server).join(', ')}`,
        details: { socket, backend, server },
      },
    );
  }
  return found;
}

/**
 * Runs a command that changes something; HAProxy answers an empty line on success and a sentence on
 * refusal ("No such server.", "Permission denied", "Require 'backend/server'.").
 */
export async function runtimeChange(
  socket: string,
  command: string,
  options: RuntimeOptions = {},
): Promise<void> {
  const answer = (await runtimeCommand(socket, command, options)).trim();
  if (answer !== '') throw rejected(socket, command, answer);
}

function rejected(socket: string, command: string, answer: string): DrctlError {
  const denied = /permission denied/i.test(answer);
  return new DrctlError(
    'DRCTL_HAPROXY_COMMAND_REJECTED',
    `HAProxy at ${socket} refused "${command}": ${answer.trim().slice(0, 200) || 'no answer'}`,
    {
      hint: denied
        ? 'the stats socket needs `level admin` in haproxy.cfg to change servers'
        : 'check the backend, the server and the value against `show stat`',
      details: { socket, command },
    },
  );
}
