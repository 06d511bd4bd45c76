/**
 * Connections to a placement, with failures turned into errors that name the component and the site:
 * wrong credentials, nothing listening, a server still starting up.
 */
import type pg from 'pg';
import { DrctlError } from '../errors.ts';

/** "component db at site west", or the bare URL host when no plan names it. */
export interface Subject {
  component: string;
  site: string;
}

export function describe(subject: Subject): string {
  return `component ${subject.component} at site ${subject.site}`;
}

/** The URL without its password, for messages and evidence. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable url>';
  }
}

export interface ConnectOptions {
  /** @default 5_000 */
  timeoutMs?: number;
  /** Statement timeout for every query on this connection. @default 60_000 */
  statementTimeoutMs?: number;
}

/** Map a connection or query failure to a DrctlError naming the subject. */
export function pgError(subject: Subject, url: string, cause: unknown, doing = 'connect to'): DrctlError {
  if (cause instanceof DrctlError) return cause;
  const code = (cause as { code?: string }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  const where = `${describe(subject)} (${redactUrl(url)})`;
  if (code === '28P01' || code === '28000') {
    return new DrctlError(
      'DRCTL_PG_AUTH',
      `could not ${doing} ${where}: the server refused the credentials (${message})`,
      {
        hint: 'check the user and password in the placement url (or the secret it references) and pg_hba.conf',
        cause,
      },
    );
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'ETIMEDOUT' ||
    code === 'EHOSTUNREACH' ||
    code === '57P03' ||
    /timeout/i.test(message)
  ) {
    return new DrctlError('DRCTL_PG_UNREACHABLE', `could not ${doing} ${where}: ${message}`, {
      hint: 'check that the server runs and listens on that host and port',
      cause,
      details: { code },
    });
  }
  return new DrctlError('DRCTL_PG_QUERY_FAILED', `could not ${doing} ${where}: ${message}`, {
    hint: 'the server message above says why',
    cause,
    details: { code },
  });
}

/** Open a client, run `work`, always close it. Errors name the subject. */
export async function withClient<T>(
  subject: Subject,
  url: string,
  work: (client: pg.Client) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  // pg loads on the first connection: validating or rendering a plan with PostgreSQL components needs none
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({
    connectionString: url,
    connectionTimeoutMillis: options.timeoutMs ?? 5_000,
    statement_timeout: options.statementTimeoutMs ?? 60_000,
    application_name: 'drctl',
  });
  // A server that dies mid-session emits 'error' on the client; the pending query rejects on its own.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw pgError(subject, url, cause);
  }
  try {
    return await work(client);
  } catch (cause) {
    throw pgError(subject, url, cause, 'run a query on');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One row of one query, or undefined. */
export async function one<Row extends Record<string, unknown>>(
  client: pg.Client,
  sql: string,
  values: unknown[] = [],
): Promise<Row | undefined> {
  const result = await client.query<Row>(sql, values);
  return result.rows[0];
}

/**
 * How a PostgreSQL command-line tool connects: the connection string without the password, which goes in
 * the tool's environment instead, so it never shows on a process list. libpq still records it in the
 * recovery settings `-R` and `--write-recovery-conf` write, where the standby needs it.
 */
export function toolConnection(
  url: string,
  extra: Record<string, string> = {},
): { conninfo: string; env: Record<string, string> } {
  const password = decodeURIComponent(new URL(url).password);
  const withoutPassword = new URL(url);
  withoutPassword.password = '';
  return {
    conninfo: conninfoFromUrl(withoutPassword.toString(), extra),
    env: password === '' ? {} : { PGPASSWORD: password },
  };
}

/** libpq key=value string from a postgres:// URL, for primary_conninfo and the command-line tools. */
export function conninfoFromUrl(url: string, extra: Record<string, string> = {}): string {
  const parsed = new URL(url);
  const fields: Record<string, string> = {
    host: parsed.hostname,
    port: parsed.port === '' ? '5432' : parsed.port,
    ...(parsed.username === '' ? {} : { user: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    dbname: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    ...extra,
  };
  return Object.entries(fields)
    .map(([key, value]) => `${key}='${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}
