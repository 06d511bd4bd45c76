/**
 * Free ports for servers drctl starts and may later kill (sites in a drill, PostgreSQL clusters).
 *
 * They are taken below the kernel's ephemeral range on purpose. A port from that range (what `listen(0)`
 * hands out) is also the source port of outgoing connections: while its server is down, a probe or proxy
 * connecting to it can be given that very port as its source and connect to itself (TCP simultaneous
 * open). The socket then holds the port, so the server cannot restart, and answers TCP probes as if the
 * dead server were up.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

const HIGHEST_BELOW_EPHEMERAL = ephemeralLow() - 1;
const LOWEST = 20_000;

/** A TCP port free on 127.0.0.1 when asked, outside the ephemeral range where the system allows it. */
export async function freePort(): Promise<number> {
  if (HIGHEST_BELOW_EPHEMERAL > LOWEST) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const port = LOWEST + Math.floor(Math.random() * (HIGHEST_BELOW_EPHEMERAL - LOWEST + 1));
      if ((await bind(port)) !== undefined) return port;
    }
  }
  const any = await bind(0);
  if (any === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return any;
}

function bind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
    });
  });
}

/** The first port of the ephemeral range; 32768 (Linux's default) when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
