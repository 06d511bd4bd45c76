/**
 * `drctl serve --status-listen HOST:PORT` as a real process: the public status page answers on its own
 * address, and nothing else does there (no API, no console, no metrics), so that address can face the
 * internet while the API stays on loopback.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/index.ts';
import { openStore } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { cli, startCli, stopAll } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

async function setup() {
  const dir = tempDir('drctl-status-listen-');
  writePlan(dir, [{ id: 'go', run: 'true' }], {
    name: 'Acme',
    workloads: [
      {
        id: 'shop',
        name: 'Shop',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'alice',
        flows: [{ name: 'Checkout', users: 'customers', impact: 'lost revenue' }],
        components: [{ id: 'db', kind: 'database' }],
        runbooks: { failover: { steps: [{ id: 'go', run: 'true' }] } },
      },
    ],
  });
  const state = join(dir, 'state');
  const store = await openStore(state);
  const { token } = await createToken(store, { name: 'alice', role: 'operator', createdBy: 'test' });
  await store.close();
  return { dir, state, token };
}

describe('drctl serve --status-listen', () => {
  it('serves the status page on its own address and refuses the API, the console and metrics there', async () => {
    const { dir, state, token } = await setup();
    const [apiPort, statusPort] = [await freePort(), await freePort()];
    const api = `http://127.0.0.1:${apiPort}`;
    const status = `http://127.0.0.1:${statusPort}`;
    const server = startCli(
      [
        'serve',
        'plan.yaml',
        '--state',
        state,
        '--listen',
        `127.0.0.1:${apiPort}`,
        '--status-listen',
        `127.0.0.1:${statusPort}`,
        '--poll-ms',
        '50',
      ],
      { cwd: dir },
    );
    await eventually(() =>
      fetch(`${api}/healthz`).then(
        (r) => r.ok || undefined,
        () => undefined,
      ),
    );
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const opened = await fetch(`${api}/api/v1/incidents`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ title: 'Checkout down', components: ['db'], body: 'Looking into it.' }),
    });
    expect(opened.status).toBe(201);

    const page = await eventually(async () => {
      const response = await fetch(`${status}/status`);
      const html = await response.text();
      return response.status === 200 && html.includes('Checkout down') ? html : undefined;
    });
    expect(page).toContain('<title>Acme status</title>');
    expect(page).toMatch(/data-flow="Checkout" data-state="major-outage"/);
    const json = (await (await fetch(`${status}/status.json`)).json()) as { incidents: unknown[] };
    expect(json.incidents).toHaveLength(1);
    const feed = await fetch(`${status}/status/feed.atom`);
    expect(feed.status).toBe(200);
    expect(await feed.text()).toContain(`<id>${status}/status</id>`);

    // with a valid operator token, still nothing but the page on the status address
    const refused = await Promise.all(
      [
        ['GET', '/api/v1/incidents'],
        ['POST', '/api/v1/incidents'],
        ['GET', '/api/v1/runs'],
        ['GET', '/openapi.json'],
        ['GET', '/metrics'],
        ['GET', '/healthz'],
        ['GET', '/'],
        ['GET', '/sign-in'],
      ].map(async ([method = 'GET', path = '/']) => {
        const response = await fetch(`${status}${path}`, {
          method,
          headers: auth,
          ...(method === 'POST'
            ? { body: JSON.stringify({ title: 'x', components: ['db'], body: 'x' }) }
            : {}),
        });
        return `${method} ${path} ${response.status}`;
      }),
    );
    expect(refused).toEqual([
      'GET /api/v1/incidents 404',
      'POST /api/v1/incidents 404',
      'GET /api/v1/runs 404',
      'GET /openapi.json 404',
      'GET /metrics 404',
      'GET /healthz 404',
      'GET / 404',
      'GET /sign-in 404',
    ]);
    const listed = (await (await fetch(`${api}/api/v1/incidents`, { headers: auth })).json()) as {
      incidents: unknown[];
    };
    expect(listed.incidents).toHaveLength(1);
    // the main address keeps the page too
    expect((await fetch(`${api}/status`)).status).toBe(200);

    server.child.kill('SIGTERM');
    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toContain(`status page on ${status}/status\n`);
  });

  it('exits 2 with DRCTL_SERVE_LISTEN when the status address is taken or malformed', async () => {
    const { dir, state } = await setup();
    const taken = createServer(() => undefined);
    const takenPort = await freePort();
    await new Promise<void>((resolve) => taken.listen(takenPort, '127.0.0.1', resolve));
    try {
      const apiPort = await freePort();
      const busy = await cli(
        [
          'serve',
          'plan.yaml',
          '--state',
          state,
          '--listen',
          `127.0.0.1:${apiPort}`,
          '--status-listen',
          `127.0.0.1:${takenPort}`,
        ],
        { cwd: dir },
      );
      expect(busy.code).toBe(2);
      expect(busy.stderr).toContain(
        `DRCTL_SERVE_LISTEN cannot listen on --status-listen 127.0.0.1:${takenPort}: EADDRINUSE`,
      );
      const malformed = await cli(
        [
          'serve',
          'plan.yaml',
          '--state',
          state,
          '--listen',
          `127.0.0.1:${apiPort}`,
          '--status-listen',
          'public',
        ],
        { cwd: dir },
      );
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toContain('DRCTL_SERVE_LISTEN --status-listen public is not host:port');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
