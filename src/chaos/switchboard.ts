/**
 * The switchboard (seed 001's "soft switch"): an HTTP flag store on 127.0.0.1 that an application reads
 * to fail one of its modules on purpose, e.g. `orders.fail = true` makes the order module refuse orders
 * while the catalog keeps working. Drills set flags in code or over HTTP; applications read them with
 * `readFlag()` or a plain GET.
 */
import http from 'node:http';
import { DrctlError } from '../errors.ts';
import { closeServer, listen, urlFor } from '../router/listen.ts';
import { jsonApi } from './http.ts';

/** Any JSON value: `true` to fail, a string naming how, a number of ms to slow down by. */
export type FlagValue = boolean | number | string | null | FlagValue[] | { [key: string]: FlagValue };

export interface SwitchboardOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Bearer token wanted for PUT and DELETE; open when absent (it binds 127.0.0.1). */
  token?: string;
  /** Flags set from the start. */
  flags?: Record<string, FlagValue>;
}

export interface FlagRecord {
  name: string;
  /** null when the flag is not set. */
  value: FlagValue | null;
  set: boolean;
  /** Date.now() of the last change, null when never set. */
  updatedAt: number | null;
}

export interface FlagChange {
  name: string;
  value: FlagValue | null;
  set: boolean;
  at: number;
  monotonic: number;
}

const FLAG_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

export class Switchboard {
  readonly url: string;
  private readonly store = new Map<string, { value: FlagValue; updatedAt: number }>();
  private readonly changes: FlagChange[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: http.Server,
    host: string,
    port: number,
  ) {
    this.url = urlFor(host, port);
  }

  static async create(options: SwitchboardOptions = {}): Promise<Switchboard> {
    const host = options.host ?? '127.0.0.1';
    const holder: { board?: Switchboard } = {};
    const server = http.createServer(api(() => holder.board as Switchboard, options.token));
    const port = await listen(
      server,
      host,
      options.port ?? 0,
      'the switchboard',
      'DRCTL_CHAOS_LISTEN_FAILED',
    );
    const board = new Switchboard(server, host, port);
    holder.board = board;
    for (const [name, value] of Object.entries(options.flags ?? {})) board.set(name, value);
    return board;
  }

  /** Set a flag; throws DRCTL_CHAOS_FLAG_INVALID for a bad name. */
  set(name: string, value: FlagValue): FlagChange {
    checkName(name);
    this.store.set(name, { value, updatedAt: Date.now() });
    return this.record(name, value, true);
  }

  unset(name: string): FlagChange {
    checkName(name);
    this.store.delete(name);
    return this.record(name, null, false);
  }

  clear(): void {
    for (const name of [...this.store.keys()]) this.unset(name);
  }

  get(name: string): FlagRecord {
    const entry = this.store.get(name);
    return {
      name,
      value: entry?.value ?? null,
      set: entry !== undefined,
      updatedAt: entry?.updatedAt ?? null,
    };
  }

  flags(): Record<string, FlagValue> {
    return Object.fromEntries([...this.store].map(([name, entry]) => [name, entry.value]));
  }

  /** Every change so far, with timestamps, for a drill's timeline. */
  history(): FlagChange[] {
    return [...this.changes];
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = closeServer(this.server);
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  private record(name: string, value: FlagValue | null, set: boolean): FlagChange {
    const change = { name, value, set, at: Date.now(), monotonic: performance.now() };
    this.changes.push(change);
    return change;
  }
}

function checkName(name: string): void {
  if (!FLAG_NAME.test(name)) {
    throw new DrctlError('DRCTL_CHAOS_FLAG_INVALID', `"${name}" is not a switchboard flag name`, {
      hint: 'a flag name is letters, digits, ".", "-" and "_", e.g. orders.fail',
      exitCode: 2,
    });
  }
}

function api(board: () => Switchboard, token: string | undefined): http.RequestListener {
  return jsonApi(token, 'DRCTL_CHAOS_UNAUTHORIZED', 'the switchboard', (app, body) => {
    app.get('/flags', (c) => c.json({ flags: board().flags() }));
    app.get('/flags/:name', (c) => c.json(board().get(c.req.param('name'))));
    app.put('/flags/:name', async (c) => {
      const json = (await body(c)) as { value?: FlagValue } | null;
      if (json === null || typeof json !== 'object' || !('value' in json) || json.value === undefined) {
        throw new DrctlError(
          'DRCTL_CHAOS_REQUEST_INVALID',
          `PUT /flags/${c.req.param('name')}: the body needs a "value"`,
          { hint: 'send {"value": true}' },
        );
      }
      return c.json(board().set(c.req.param('name'), json.value));
    });
    app.delete('/flags/:name', (c) => c.json(board().unset(c.req.param('name'))));
    app.delete('/flags', (c) => {
      board().clear();
      return c.json({ flags: {} });
    });
  });
}

/**
 * What an application calls to read a flag: the value, or `fallback` when the flag is unset or the
 * switchboard cannot be reached (a drill tool being down must never break the application).
 */
export async function readFlag(
  switchboardUrl: string,
  name: string,
  options: { fallback?: FlagValue | null; timeoutMs?: number } = {},
): Promise<FlagValue | null> {
  const fallback = options.fallback ?? null;
  try {
    const response = await fetch(`${switchboardUrl}/flags/${encodeURIComponent(name)}`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 500),
    });
    if (!response.ok) return fallback;
    const record = (await response.json()) as FlagRecord;
    return record.set ? record.value : fallback;
  } catch {
    return fallback;
  }
}
