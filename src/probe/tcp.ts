/**
 * TCP probing: does an address accept a connection. Never throws for what it observes.
 */
import net from 'node:net';

export interface TcpProbeResult {
  ok: boolean;
  address: string;
  latencyMs: number;
  message: string;
}

/** Opens a TCP connection to `host:port` and closes it. Never throws for what it observes. */
export function probeTcp(
  address: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<TcpProbeResult> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const { host, port } = parseHostPort(address);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (ok: boolean, why: string): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      const latencyMs = performance.now() - started;
      resolve({
        ok,
        address,
        latencyMs,
        message: ok ? `${address} accepted a connection in ${Math.round(latencyMs)}ms` : `${address}: ${why}`,
      });
    };
    const onAbort = (): void => finish(false, 'cancelled');
    const timer = setTimeout(() => finish(false, `no connection within ${timeoutMs}ms`), timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () =>
      connectedToItself(socket)
        ? finish(false, 'nothing listens there (the probe connected to itself)')
        : finish(true, ''),
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish(false, error.code === 'ECONNREFUSED' ? 'connection refused' : error.message),
    );
  });
}

/**
 * Whether a connection to a local port nobody listens on was given that very port as its source: TCP's
 * simultaneous open then connects the socket to itself, and a dead server would look alive.
 */
export function connectedToItself(socket: net.Socket): boolean {
  return socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress;
}

/** `host:port`, `tcp://host:port` or a bare port (meaning 127.0.0.1). */
export function parseHostPort(address: string): { host: string; port: number } {
  const bare = address.replace(/^tcp:\/\//, '');
  const colon = bare.lastIndexOf(':');
  const host = colon === -1 ? '127.0.0.1' : bare.slice(0, colon).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(colon === -1 ? bare : bare.slice(colon + 1));
  return { host, port };
}
