import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.ts';
import { request, startUpstream, until } from '../../router/test-support.ts';
import { routerOptionsFrom } from './router.ts';

const BIN = fileURLToPath(new URL('../../../bin/drctl.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'drctl-router-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PLAN = `version: 1
name: shop
sites: { east: { role: primary }, west: { role: secondary } }
contacts: [{ id: alice, name: Alice, backup: bob }, { id: bob, name: Bob, backup: alice }]
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    components:
      - id: api
        kind: http-service
        placement:
          west: { url: "http://127.0.0.1:8082", standby: true }
          east: { url: "http://127.0.0.1:8081" }
        probe: { url: "http://127.0.0.1:8081/ready", interval: 2s, timeout: 300ms, failures: 4 }
      - id: orders
        kind: process
        placement:
          east: { command: node app.mjs, port: 8091 }
          west: { command: node app.mjs, port: 8092, standby: true }
`;

describe('drctl router', () => {
  it('routes to the healthy site from --endpoint flags, prints events, and stops on SIGTERM', async () => {
    const east = await startUpstream('east');
    const west = await startUpstream('west');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'router',
        '--endpoint',
        `east=${east.url},priority=1`,
        '--endpoint',
        `west=${west.url}`,
        '--probe-interval',
        '50ms',
        '--probe-timeout',
        '2s',
        '--json',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => (out += text));
    try {
      await until(() => out.includes('"type":"started"'), 'the router to start');
      const started = JSON.parse(out.split('\n')[0] as string) as {
        url: string;
        adminUrl: string;
        adminToken: string;
      };
      expect(started.adminToken.length).toBeGreaterThan(8);
      expect((await request(started.url)).headers['x-drctl-site']).toBe('east');

      await east.stop();
      await until(() => out.includes('"type":"endpoint-down"'), 'east to be marked down');
      expect((await request(started.url)).headers['x-drctl-site']).toBe('west');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await west.stop();
      await east.stop();
    }
  });

  it('takes endpoints and probe settings from a component of the plan, primary first', async () => {
    const file = path.join(dir, 'plan.yaml');
    writeFileSync(file, PLAN);
    const options = await routerOptionsFrom(file, { component: 'api', probeTimeout: '1s' });
    expect(options.endpoints).toEqual([
      { site: 'east', url: 'http://127.0.0.1:8081', priority: 1 },
      { site: 'west', url: 'http://127.0.0.1:8082', priority: 2 },
    ]);
    expect(options.probe).toMatchObject({ path: '/ready', intervalMs: 2000, timeoutMs: 1000, failures: 4 });
    const processes = await routerOptionsFrom(file, { component: 'orders' });
    expect(processes.endpoints.map((endpoint) => endpoint.url)).toEqual([
      'http://127.0.0.1:8091',
      'http://127.0.0.1:8092',
    ]);
    await expect(routerOptionsFrom(file, { component: 'db' })).rejects.toMatchObject({
      code: 'DRCTL_ROUTER_COMPONENT_NOT_FOUND',
    });
  });

  it('exits 2 with a code and a hint on a bad endpoint or no endpoints', async () => {
    const bad = await runCli('router', '--endpoint', 'east');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^DRCTL_ROUTER_ENDPOINT_INVALID --endpoint east is not site=url/);
    expect(bad.stderr).toContain('hint:');

    const none = await runCli('router');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^DRCTL_ROUTER_NO_ENDPOINTS/);

    const mode = await runCli('router', '--endpoint', 'east=http://127.0.0.1:1', '--mode', 'random');
    expect(mode.stderr).toMatch(/^DRCTL_ROUTER_OPTIONS_INVALID --mode random is not a routing mode/);
  });
});
