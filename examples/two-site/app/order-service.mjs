// @ts-check
/**
 * The order service of the two-site shop: the application the reference disaster fails over.
 *
 * One process per site. It stores orders in SQLite (DB_PATH; warm standby) or PostgreSQL (DATABASE_URL, the
 * cluster's primary; hot standby) and answers:
 *   GET  /health       200 while the process serves and its database answers a read; says whether it can write
 *   GET  /ready        200 only when its database accepts writes (what a router probe uses to pick the
 *                      writable site); the orders module switched off does not change it, so the front door
 *                      keeps this site and its catalog while orders are refused
 *   GET  /catalog      the products; works in read-only mode and when the orders module is switched off
 *   POST /orders       writes an order; 201 only after the write is committed (durable), body {seq, id, ...}
 *   GET  /orders/:id   one order
 *
 * Two kinds of reduced functionality, both answered 503 with a JSON body people can read:
 *   - read-only: the database refuses writes (a standby, or a SQLite file opened read-only);
 *   - switchboard: the flag ORDERS_FLAG at SWITCHBOARD_URL is on, so the orders module fails on purpose
 *     while the catalog keeps working (seed 001, "reduced application functionality").
 *
 * Plain JavaScript on purpose: the process supervisor starts this file during a failover, and every
 * millisecond of start-up is part of the RTO the drill measures. Without a TypeScript loader it starts in
 * about 100 ms instead of 250+ ms. `// @ts-check` and JSDoc keep it type-checked.
 *
 * Environment:
 *   PORT                 port to listen on on 127.0.0.1 (0 picks a free one; the chosen port is logged) @default 0
 *   HOST                 @default 127.0.0.1
 *   SITE                 site name, echoed in answers @default local
 *   DB_PATH              SQLite database file (WAL, synchronous=FULL)
 *   DB_READONLY          "1" opens the SQLite file read-only (a warm standby serving reads)
 *   DATABASE_URL         PostgreSQL connection string; used when DB_PATH is not set
 *   SWITCHBOARD_URL      base URL of the switchboard; flags are read from GET {url}/flags
 *   ORDERS_FLAG          the flag that switches the orders module off (a number slows it by that many ms)
 *                        @default orders.fail
 *   SWITCHBOARD_CACHE_MS how long a flag read is reused @default 200
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

const env = process.env;
const SITE = env.SITE ?? 'local';
const HOST = env.HOST ?? '127.0.0.1';
const PORT = Number(env.PORT ?? 0);
const ORDERS_FLAG = env.ORDERS_FLAG ?? 'orders.fail';
const SWITCHBOARD_URL = env.SWITCHBOARD_URL?.replace(/\/+$/, '');
const SWITCHBOARD_CACHE_MS = Number(env.SWITCHBOARD_CACHE_MS ?? 200);
const MAX_BODY_BYTES = 64 * 1024;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

const CATALOG = [
  { sku: 'tea-green', name: 'Green tea, 100 g', price: 6.5 },
  { sku: 'tea-black', name: 'Black tea, 100 g', price: 5.9 },
  { sku: 'mug', name: 'Stoneware mug', price: 12 },
  { sku: 'canary', name: 'Canary order (drill traffic)', price: 0 },
];

/** @param {string} msg @param {Record<string, unknown>} [data] */
function log(msg, data = {}) {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), site: SITE, ...data, msg })}\n`);
}

/**
 * @typedef {{ seq: number, id: string, item: string, qty: number, createdAt: string }} Order
 * @typedef {{ inserted: boolean, order: Order }} InsertResult
 * @typedef {{
 *   kind: 'sqlite' | 'postgres',
 *   insert(order: { id: string, item: string, qty: number }): Promise<InsertResult>,
 *   get(id: string): Promise<Order | undefined>,
 *   status(): Promise<{ reachable: boolean, writable: boolean }>,
 *   close(): Promise<void>,
 * }} Store
 */

/** Raised when the database refuses writes; the service answers 503 read-only. */
class ReadOnlyError extends Error {
  name = 'ReadOnlyError';
}

/** Raised when the database cannot be reached at all; the service answers 503 database-unavailable. */
class UnavailableError extends Error {
  name = 'UnavailableError';
}

/** @param {string} path @param {boolean} readonly @returns {Promise<Store>} */
async function openSqlite(path, readonly) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly, fileMustExist: readonly });
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    // FULL makes every commit survive power loss, not only a killed process: a 201 is a promise.
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS orders (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      item TEXT NOT NULL,
      qty INTEGER NOT NULL,
      created_at TEXT NOT NULL
    )`);
  }
  db.pragma('busy_timeout = 1000');
  const insert = readonly
    ? undefined
    : db.prepare(
        'INSERT INTO orders (id, item, qty, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
      );
  /** @type {import('better-sqlite3').Statement | undefined} */
  let selectStatement;
  // Prepared on first use: a read-only standby opened before its first snapshot has no table yet.
  const select = () =>
    (selectStatement ??= db.prepare(
      'SELECT seq, id, item, qty, created_at AS createdAt FROM orders WHERE id = ?',
    ));

  /** @param {unknown} error */
  const translate = (error) => {
    const code = /** @type {{ code?: string }} */ (error).code ?? '';
    if (code.startsWith('SQLITE_READONLY'))
      return new ReadOnlyError('the SQLite database is read-only', { cause: error });
    return error;
  };
  return {
    kind: 'sqlite',
    async insert(order) {
      if (insert === undefined)
        throw new ReadOnlyError('the SQLite database was opened read-only (DB_READONLY=1)');
      try {
        const info = insert.run(order.id, order.item, order.qty, new Date().toISOString());
        const row = /** @type {Order} */ (select().get(order.id));
        return { inserted: info.changes === 1, order: row };
      } catch (error) {
        throw translate(error);
      }
    },
    async get(id) {
      try {
        return /** @type {Order | undefined} */ (select().get(id));
      } catch (error) {
        if (/no such table/.test(String(error))) return undefined;
        throw error;
      }
    },
    async status() {
      return { reachable: true, writable: !readonly };
    },
    async close() {
      db.close();
    },
  };
}

/** @param {string} url @returns {Promise<Store>} */
async function openPostgres(url) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: 1000,
    idleTimeoutMillis: 5000,
  });
  // A killed primary breaks idle connections; without this handler the error would end the process.
  pool.on('error', (error) => log('postgres connection lost', { error: error.message }));
  let tableReady = false;

  /** @param {unknown} error */
  const translate = (error) => {
    const code = /** @type {{ code?: string }} */ (error).code ?? '';
    // 25006 read_only_sql_transaction: a hot standby still in recovery.
    if (code === '25006')
      return new ReadOnlyError('the PostgreSQL server is a read-only standby', { cause: error });
    if (/^(08|57P)/.test(code) || /ECONNREFUSED|ECONNRESET|timeout|terminat/i.test(String(error))) {
      return new UnavailableError('the PostgreSQL server cannot be reached', { cause: error });
    }
    return error;
  };
  const ensureTable = async () => {
    if (tableReady) return;
    await pool.query(`CREATE TABLE IF NOT EXISTS orders (
      seq BIGSERIAL PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      item TEXT NOT NULL,
      qty INTEGER NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    tableReady = true;
  };
  /** @param {Record<string, unknown>} row @returns {Order} */
  const toOrder = (row) => ({
    seq: Number(row.seq),
    id: String(row.id),
    item: String(row.item),
    qty: Number(row.qty),
    createdAt: new Date(/** @type {string} */ (row.created_at)).toISOString(),
  });
  return {
    kind: 'postgres',
    async insert(order) {
      try {
        await ensureTable();
        // The commit returns only when synchronous_standby_names is satisfied, so a 201 means "on both sites".
        const inserted = await pool.query(
          'INSERT INTO orders (id, item, qty) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING *',
          [order.id, order.item, order.qty],
        );
        if (inserted.rows[0] !== undefined) return { inserted: true, order: toOrder(inserted.rows[0]) };
        const existing = await pool.query('SELECT * FROM orders WHERE id = $1', [order.id]);
        return { inserted: false, order: toOrder(existing.rows[0]) };
      } catch (error) {
        throw translate(error);
      }
    },
    async get(id) {
      try {
        const result = await pool.query('SELECT * FROM orders WHERE id = $1', [id]);
        return result.rows[0] === undefined ? undefined : toOrder(result.rows[0]);
      } catch (error) {
        if (/** @type {{ code?: string }} */ (error).code === '42P01') return undefined;
        throw translate(error);
      }
    },
    async status() {
      try {
        // a primary fenced read-only (postgres.fence) is not in recovery, yet refuses writes
        const result = await pool.query(
          "SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') AS read_only",
        );
        const row = result.rows[0];
        return { reachable: true, writable: row?.recovery === false && row?.read_only === 'off' };
      } catch {
        return { reachable: false, writable: false };
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * Reads the orders flag from the switchboard, reusing a read for SWITCHBOARD_CACHE_MS so a busy service
 * does not hammer it. When the switchboard cannot be reached the last known value stands: a drill tool
 * that is down must not take the shop down with it.
 */
function createFlagReader() {
  /** @type {{ off: boolean, delayMs: number }} */
  let value = { off: false, delayMs: 0 };
  let readAt = -Infinity;
  /** @type {Promise<{ off: boolean, delayMs: number }> | undefined} */
  let pending;

  /**
   * true or a string naming how to fail switches the module off; a number slows it down by that many ms.
   * @param {unknown} raw @returns {{ off: boolean, delayMs: number }}
   */
  const interpret = (raw) => {
    if (raw === true) return { off: true, delayMs: 0 };
    if (typeof raw === 'number') return { off: false, delayMs: Math.max(0, Math.min(raw, 60_000)) };
    if (typeof raw === 'string')
      return { off: !['', 'off', 'false', '0', 'no'].includes(raw.toLowerCase()), delayMs: 0 };
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      const o = /** @type {Record<string, unknown>} */ (raw);
      for (const key of ['enabled', 'on', 'value', 'fail']) if (key in o) return interpret(o[key]);
    }
    return { off: false, delayMs: 0 };
  };
  /** Accepts {flags: {...}}, {name: value} and [{name, ...}] so the app does not pin the switchboard's shape. */
  const pick = (/** @type {unknown} */ body) => {
    const flags = body !== null && typeof body === 'object' && 'flags' in body ? body.flags : body;
    if (Array.isArray(flags)) {
      const entry = flags.find(
        (f) => f?.name === ORDERS_FLAG || f?.id === ORDERS_FLAG || f?.key === ORDERS_FLAG,
      );
      return interpret(entry);
    }
    if (flags !== null && typeof flags === 'object')
      return interpret(/** @type {Record<string, unknown>} */ (flags)[ORDERS_FLAG]);
    return interpret(undefined);
  };
  const refresh = async () => {
    try {
      const response = await fetch(`${SWITCHBOARD_URL}/flags`, { signal: AbortSignal.timeout(300) });
      if (response.ok) {
        const next = pick(await response.json());
        if (next.off !== value.off || next.delayMs !== value.delayMs)
          log('orders flag changed', { flag: ORDERS_FLAG, ...next });
        value = next;
      }
    } catch (error) {
      log('switchboard unreachable; keeping the last flag value', { error: String(error) });
    }
    readAt = performance.now();
    return value;
  };
  return {
    /** @returns {Promise<{ off: boolean, delayMs: number }>} */
    async orders() {
      if (SWITCHBOARD_URL === undefined) return value;
      if (performance.now() - readAt < SWITCHBOARD_CACHE_MS) return value;
      pending ??= refresh().finally(() => (pending = undefined));
      return pending;
    },
  };
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body @param {Record<string, string>} [headers] */
function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const READ_ONLY_BODY = {
  error: 'read-only',
  message: `Site ${SITE} is read-only: its database refuses writes (it is a standby). Orders cannot be placed here until it is promoted.`,
};
const ORDERS_OFF_BODY = {
  error: 'orders-unavailable',
  module: 'orders',
  message: 'Ordering is temporarily unavailable. You can still browse the catalog; please try again later.',
};
const UNAVAILABLE_BODY = {
  error: 'database-unavailable',
  message: `Site ${SITE} cannot reach its database.`,
};

/** @param {Store} store @param {ReturnType<typeof createFlagReader>} flags */
function createHandler(store, flags) {
  /** @param {import('node:http').ServerResponse} res @param {unknown} error */
  const fail = (res, error) => {
    if (error instanceof ReadOnlyError) return send(res, 503, READ_ONLY_BODY, { 'retry-after': '1' });
    if (error instanceof UnavailableError) return send(res, 503, UNAVAILABLE_BODY, { 'retry-after': '1' });
    log('request failed', { error: String(error) });
    return send(res, 500, { error: 'internal', message: 'The order could not be processed.' });
  };

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://service');
    const path = url.pathname;
    try {
      if (req.method === 'GET' && path === '/health') {
        const status = await store.status();
        return send(res, status.reachable ? 200 : 503, {
          status: status.reachable ? 'ok' : 'database-unavailable',
          site: SITE,
          store: store.kind,
          mode: status.writable ? 'read-write' : 'read-only',
        });
      }
      if (req.method === 'GET' && path === '/ready') {
        const status = await store.status();
        const ready = status.writable;
        return send(res, ready ? 200 : 503, {
          ready,
          site: SITE,
          mode: status.writable ? 'read-write' : 'read-only',
        });
      }
      if (req.method === 'GET' && path === '/catalog')
        return send(res, 200, { site: SITE, products: CATALOG });

      if (path === '/orders' || path.startsWith('/orders/')) {
        const module = await flags.orders();
        if (module.off) return send(res, 503, ORDERS_OFF_BODY, { 'retry-after': '5' });
        if (module.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, module.delayMs));
        if (req.method === 'POST' && path === '/orders') return await placeOrder(req, res);
        const id = decodeURIComponent(path.slice('/orders/'.length));
        if (req.method === 'GET' && id !== '') {
          const order = await store.get(id);
          return order === undefined
            ? send(res, 404, { error: 'not-found', message: `No order ${id} at site ${SITE}.` })
            : send(res, 200, { ...order, site: SITE });
        }
      }
      return send(res, 404, {
        error: 'not-found',
        message: `${req.method} ${path} is not a route of the order service.`,
      });
    } catch (error) {
      return fail(res, error);
    }
  };

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function placeOrder(req, res) {
    /** @type {Record<string, unknown>} */
    let body;
    try {
      const text = await readBody(req);
      body = text.trim() === '' ? {} : JSON.parse(text);
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new TypeError('not an object');
    } catch {
      return send(res, 400, {
        error: 'bad-request',
        message: 'The body must be a JSON object like {"id": "...", "item": "mug", "qty": 1}.',
      });
    }
    const id = body.id === undefined ? randomUUID() : body.id;
    const item = body.item === undefined ? 'canary' : body.item;
    const qty = body.qty === undefined ? 1 : body.qty;
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      return send(res, 400, {
        error: 'bad-request',
        message: 'id must be 1-100 letters, digits, "_", ".", ":" or "-".',
      });
    }
    if (typeof item !== 'string' || !CATALOG.some((p) => p.sku === item)) {
      return send(res, 400, {
        error: 'bad-request',
        message: `item must be one of ${CATALOG.map((p) => p.sku).join(', ')}.`,
      });
    }
    if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > 1000) {
      return send(res, 400, { error: 'bad-request', message: 'qty must be a whole number from 1 to 1000.' });
    }
    // A repeated id answers the stored order (200) instead of writing twice: clients may retry safely.
    const result = await store.insert({ id, item, qty });
    return send(res, result.inserted ? 201 : 200, { ...result.order, site: SITE });
  }
}

async function main() {
  /** @type {Store} */
  let store;
  if (env.DB_PATH !== undefined && env.DB_PATH !== '')
    store = await openSqlite(env.DB_PATH, env.DB_READONLY === '1');
  else if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '')
    store = await openPostgres(env.DATABASE_URL);
  else {
    process.stderr.write('order-service: set DB_PATH (SQLite) or DATABASE_URL (PostgreSQL)\n');
    process.exit(2);
  }
  const handler = createHandler(store, createFlagReader());
  const server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 5000;
  server.on('error', (error) => {
    process.stderr.write(`order-service: cannot listen on ${HOST}:${PORT}: ${error.message}\n`);
    process.exit(2);
  });
  server.listen(PORT, HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : PORT;
    log('listening', { port, host: HOST, store: store.kind, startupMs: Math.round(performance.now()) });
  });
  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    void store.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

await main();
