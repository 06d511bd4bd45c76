/**
 * A real drctl server in process for the API tests: a plan written to a temp directory, a SQLite state,
 * one token per role, and helpers that call the app the way a client would (Hono's app.request: the
 * whole middleware and route stack, no socket).
 */
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createServer } from '../../src/server/index.ts';
import type { DrctlServer, RegisterRoutes, Role, ServerOptions } from '../../src/server/index.ts';
import { createToken } from '../../src/server/index.ts';
import pino from 'pino';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';

/** A manual step, a four-eyes approval by alice or bob, then a shell step. */
export const STEPS = [
  { id: 'check', manual: 'look at the dashboard', evidence: ['screenshot'] },
  { id: 'declare', needs: ['check'], approval: { by: ['alice', 'bob'], four_eyes: true } },
  { id: 'go', needs: ['declare'], run: 'echo done' },
];

export interface TestServer {
  server: DrctlServer;
  dir: string;
  stateDir: string;
  planFile: string;
  /** Token per person: alice operator (starts runs), bob approver, vera viewer, ada admin, otto second operator, alan alerts (Alertmanager). */
  tokens: Record<'alice' | 'bob' | 'vera' | 'ada' | 'otto' | 'carol' | 'alan', string>;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  json<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
}

export async function testServer(
  options: {
    steps?: unknown[];
    extra?: Record<string, unknown>;
    server?: Partial<ServerOptions>;
    routes?: RegisterRoutes[];
  } = {},
): Promise<TestServer> {
  const dir = tempDir('drctl-serve-');
  const planFile = writePlan(dir, options.steps ?? STEPS, options.extra);
  const stateDir = join(dir, 'state');
  const server = await createServer(
    {
      plans: [planFile],
      state: stateDir,
      pollMs: 50,
      logger: pino({ level: 'silent' }),
      engine: { pollMs: 20 },
      ...options.server,
    },
    { routes: options.routes ?? [] },
  );
  afterAll(() => server.close({ graceMs: 1000 }));
  await server.start();
  const people: Array<[keyof TestServer['tokens'], Role]> = [
    ['alice', 'operator'],
    ['bob', 'approver'],
    ['carol', 'approver'],
    ['vera', 'viewer'],
    ['ada', 'admin'],
    ['otto', 'operator'],
    ['alan', 'alerts'],
  ];
  const tokens = {} as TestServer['tokens'];
  for (const [name, role] of people)
    tokens[name] = (await createToken(server.ctx.store, { name, role, createdBy: 'test' })).token;
  const call: TestServer['call'] = (method, path, callOptions = {}) => {
    const headers: Record<string, string> = { ...callOptions.headers };
    if (callOptions.token !== undefined) headers.authorization = `Bearer ${callOptions.token}`;
    let body: BodyInit | undefined;
    if (callOptions.body instanceof FormData) body = callOptions.body;
    else if (callOptions.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(callOptions.body);
    }
    return Promise.resolve(
      server.app.request(path, { method, headers, ...(body === undefined ? {} : { body }) }),
    );
  };
  const json: TestServer['json'] = async (method, path, callOptions) => {
    const response = await call(method, path, callOptions);
    const text = await response.text();
    return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as never };
  };
  return { server, dir, stateDir, planFile, tokens, call, json };
}

/** Polls until `probe` returns something, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
