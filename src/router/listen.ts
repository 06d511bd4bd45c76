import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { UsageError } from '../errors.ts';

/** Listen and resolve the bound port; a taken port becomes a usage error naming it. */
export function listen(
  server: HttpServer | NetServer,
  host: string,
  port: number,
  what: string,
  code: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new UsageError(code, `${what} cannot listen on ${host}:${port}: ${error.code ?? error.message}`, {
          hint:
            error.code === 'EADDRINUSE'
              ? 'the port is taken; choose another or use 0 for a free one'
              : 'check the address',
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Close a server, resolving once every connection is gone. */
export function closeServer(server: HttpServer | NetServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

export function urlFor(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
