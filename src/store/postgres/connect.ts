/**
 * The state URL and finding the primary behind it. `postgres://user:pw@h1:5432,h2:5432/db?target_session_attrs=read-write`
 * names several hosts the way libpq does; `pg` (node-postgres 8) connects to one host only and ignores
 * `target_session_attrs`, so drctl walks the host list itself: the first host that answers (and, for
 * `read-write`/`primary`, is not in recovery) wins. After a promotion the store calls this again.
 */
import pg from 'pg';
import { UsageError } from '../../errors.ts';

export type TargetSessionAttrs = 'any' | 'read-write' | 'primary';

export interface StateUrl {
  hosts: { host: string; port: number }[];
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  /** @default 'read-write' — drctl writes, so a standby is never the right host */
  targetSessionAttrs: TargetSessionAttrs;
  /** Seconds per host attempt (`connect_timeout`). @default 5 */
  connectTimeoutS: number;
  /** The schema drctl's tables live in (`schema`). @default 'drctl' */
  schema: string;
  /** The URL with its password replaced, for messages and logs. */
  display: string;
}

export { isPostgresUrl, looksLikeUrl } from '../url.ts';

const URL_SHAPE = /^(postgres(?:ql)?):\/\/(?:([^@/]*)@)?([^/?]*)(?:\/([^?]*))?(?:\?(.*))?$/i;

export function parseStateUrl(url: string): StateUrl {
  const match = URL_SHAPE.exec(url);
  if (match === null) throw badUrl(url, 'it is not of the form postgres://user:password@host:port/database');
  const [, scheme = 'postgres', auth, hostList = '', database, query = ''] = match;
  const [user, password] =
    auth === undefined ? [undefined, undefined] : (auth.split(/:(.*)/s, 2) as [string, string | undefined]);
  const params = new URLSearchParams(query);
  const hosts = hostList
    .split(',')
    .filter((entry) => entry !== '')
    .map((entry) => {
      const hostPort = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
      if (hostPort === null) throw badUrl(url, `the host ${entry} is not host or host:port`);
      return { host: (hostPort[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(hostPort[2] ?? 5432) };
    });
  if (hosts.length === 0) hosts.push({ host: '127.0.0.1', port: 5432 });
  const target = params.get('target_session_attrs') ?? 'read-write';
  if (target !== 'any' && target !== 'read-write' && target !== 'primary') {
    throw badUrl(url, `target_session_attrs=${target} is not one of any, read-write, primary`);
  }
  const schema = params.get('schema') ?? 'drctl';
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw badUrl(url, `schema=${schema} is not a plain lower-case name`);
  const decode = (value: string | undefined) => (value === undefined ? undefined : decodeURIComponent(value));
  return {
    hosts,
    user: decode(user === '' ? undefined : user),
    password: decode(password),
    database: decode(database === '' ? undefined : database),
    targetSessionAttrs: target,
    connectTimeoutS: Number(params.get('connect_timeout') ?? 5),
    schema,
    display: `${scheme}://${user === undefined ? '' : `${user}${password === undefined ? '' : ':***'}@`}${hostList}/${database ?? ''}`,
  };
}

function badUrl(url: string, why: string): UsageError {
  // the URL may hold a password: show only its shape
  const shown = url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  return new UsageError('DRCTL_STORE_URL', `the state URL ${shown} is not usable: ${why}`, {
    hint: 'use --state postgres://user:password@host:port/database (several hosts separated by commas)',
  });
}

/** The connection settings of one host, as `pg` takes them. */
export function hostConfig(url: StateUrl, host: { host: string; port: number }): pg.ClientConfig {
  return {
    host: host.host,
    port: host.port,
    ...(url.user === undefined ? {} : { user: url.user }),
    ...(url.password === undefined ? {} : { password: url.password }),
    ...(url.database === undefined ? {} : { database: url.database }),
    connectionTimeoutMillis: url.connectTimeoutS * 1000,
    application_name: 'drctl',
  };
}

/**
 * The first host of the list that fits `target_session_attrs`. Throws DRCTL_STORE_UNREACHABLE naming
 * every host and why it did not fit.
 */
export async function findPrimary(url: StateUrl): Promise<pg.ClientConfig> {
  const reasons: string[] = [];
  for (const host of url.hosts) {
    const config = hostConfig(url, host);
    const client = new pg.Client(config);
    // a server that goes away while we ask must not crash the process
    client.on('error', () => undefined);
    try {
      await client.connect();
      if (url.targetSessionAttrs !== 'any') {
        const result = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
        if (result.rows[0]?.recovery === true) {
          reasons.push(`${host.host}:${host.port} is a standby (read-only)`);
          continue;
        }
      }
      return config;
    } catch (error) {
      reasons.push(`${host.host}:${host.port}: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new UsageError(
    'DRCTL_STORE_UNREACHABLE',
    `no PostgreSQL server of the state URL ${url.display} accepts writes (${reasons.join('; ')})`,
    { hint: 'check that the state database runs and that the URL, user and password are right' },
  );
}
