/**
 * What the operations act on: a server reached by its URL (`Target`), and for what they do to its files on
 * this machine, the server there (`LocalServer`).
 */
import { PgServer } from '../../../pg/server.ts';
import type { PgBinaries } from '../../../pg/binaries.ts';
import type { Subject } from '../../../pg/client.ts';

/** Where a server is and what to call it in messages. */
export interface Target {
  subject: Subject;
  url: string;
}

export interface LocalServer {
  binaries: PgBinaries;
  dataDir: string;
  host: string;
  port: number;
  /** Where the server's log goes. */
  logFile: string;
  /** Unix socket directory; empty for none. @default '' */
  socketDir?: string;
  /** Keep running after drctl exits. */
  persistent: boolean;
}

/** Starts a server drctl manages on this machine, such as a rebuilt standby or a restored instance. */
export function startLocal(
  local: LocalServer,
  extra: { signal?: AbortSignal; noWait?: boolean },
): Promise<PgServer> {
  return PgServer.start({
    binaries: local.binaries,
    dataDir: local.dataDir,
    host: local.host,
    port: local.port,
    socketDir: local.socketDir ?? '',
    logFile: local.logFile,
    persistent: local.persistent,
    ...extra,
  });
}
