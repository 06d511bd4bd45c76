/**
 * Preflight against real targets, each kind of check broken on purpose: an endpoint nobody listens on, a
 * PostgreSQL server given the wrong password, a program that is not installed, a restore that does not
 * fit on its disk, an approver without a token, a port already taken, and a target that never answers
 * (cut at the timeout). Nothing the checks touch is changed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runPreflight, type PreflightItem } from '../../src/preflight/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { PgCluster, pgAvailable } from '../../src/providers/postgres/index.ts';
import { findProvider, providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { silentLogger } from '../../src/system/logger.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const CONTACTS = [
  { id: 'alice', name: 'Alice Ng', backup: 'bob' },
  { id: 'bob', name: 'Bob Li', backup: 'alice' },
];

function writePlan(
  dir: string,
  workload: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): string {
  const file = join(dir, 'plan.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: CONTACTS,
      workloads: [{ id: 'shop', tier: 1, strategy: 'warm-standby', owner: 'alice', ...workload }],
      ...extra,
    }),
  );
  return file;
}

async function preflight(file: string, options: { timeoutMs?: number; stateDir?: string } = {}) {
  const plan = await loadPlan(file);
  const stateDir = options.stateDir ?? join(tempDir('drctl-preflight-state-'), 'state');
  const store = options.stateDir === undefined ? undefined : await openStore(options.stateDir);
  try {
    return await runPreflight(plan, {
      providers,
      stateDir,
      timeoutMs: options.timeoutMs ?? 5_000,
      ...(store === undefined ? {} : { store }),
    });
  } finally {
    await store?.close();
  }
}

const summary = (items: PreflightItem[]) => items.map((item) => [item.step, item.kind, item.status]);

describe('drctl preflight', () => {
  it('reports an endpoint nobody listens on as unreachable, and one that answers as passed', async () => {
    const server = http.createServer((_, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const up = (server.address() as net.AddressInfo).port;
    const down = await freePort();
    try {
      const dir = tempDir('drctl-preflight-');
      const report = await preflight(
        writePlan(dir, {
          runbooks: {
            failover: {
              steps: [
                { id: 'probe-up', action: 'http.request', with: { url: `http://127.0.0.1:${up}/health` } },
                {
                  id: 'switch-down',
                  action: 'http.request',
                  with: { url: `http://127.0.0.1:${down}/flags`, method: 'PUT', body: { off: true } },
                },
              ],
            },
          },
        }),
      );
      expect(summary(report.items)).toEqual([
        ['probe-up', 'reachable', 'passed'],
        ['switch-down', 'reachable', 'failed'],
      ]);
      expect(report.items[1]?.message).toMatch(
        /127\.0\.0\.1:\d+ does not accept connections: .*ECONNREFUSED/,
      );
      expect(report.ok).toBe(false);
      expect(report.workloads).toEqual({ shop: { ok: false, failed: 1 } });
    } finally {
      server.close();
    }
  });

  it('cuts a target that never answers at the timeout and reports it as timed out', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const dir = tempDir('drctl-preflight-');
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      const report = await preflight(
        writePlan(dir, {
          runbooks: {
            failover: {
              steps: [{ id: 'hangs', action: 'http.request', with: { url: `http://127.0.0.1:${port}/` } }],
            },
          },
        }),
        { timeoutMs: 300 },
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(summary(report.items)).toEqual([['hangs', 'reachable', 'timed-out']]);
      expect(report.items[0]?.message).toBe('no answer within 300ms');
      expect(report.summary['timed-out']).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('reports a program that is not installed, and the version of one that is', async () => {
    const dir = tempDir('drctl-preflight-');
    const report = await preflight(
      writePlan(dir, {
        runbooks: {
          failover: {
            steps: [
              { id: 'missing', run: 'drctl-no-such-tool-4711 --promote west' },
              { id: 'present', run: 'LANG=C node -e 1' },
              { id: 'builtin', run: 'echo done' },
            ],
          },
        },
      }),
    );
    expect(summary(report.items)).toEqual([
      ['missing', 'tool', 'failed'],
      ['present', 'tool', 'passed'],
    ]);
    expect(report.items[0]?.message).toBe('drctl-no-such-tool-4711 is not installed (not on the PATH)');
    expect(report.items[1]?.message).toMatch(/^node at .*node: v\d+/);
  });

  it('reports a port another process holds for a process.start', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      const dir = tempDir('drctl-preflight-');
      const report = await preflight(
        writePlan(dir, {
          components: [
            {
              id: 'api',
              kind: 'process',
              placement: {
                east: { command: 'node app.js', port: 1 },
                west: { command: 'node app.js', port: taken, standby: true },
              },
            },
          ],
          runbooks: {
            failover: {
              steps: [
                { id: 'start-west', action: 'process.start', with: { component: 'api', site: 'west' } },
              ],
            },
          },
        }),
      );
      expect(summary(report.items)).toEqual([
        ['start-west', 'tool', 'passed'],
        ['start-west', 'capacity', 'failed'],
      ]);
      expect(report.items[1]?.message).toBe(
        `port ${taken} is already in use by another process: api@west could not listen`,
      );
    } finally {
      holder.close();
    }
  });

  it('reports an approver or escalation contact without a token of the right role when a store is given', async () => {
    const dir = tempDir('drctl-preflight-');
    const state = join(dir, 'state');
    const file = writePlan(dir, {
      runbooks: {
        failover: {
          steps: [
            { id: 'declare', approval: { by: ['alice', 'bob'] } },
            { id: 'fix', needs: ['declare'], run: 'true', on_failure: 'escalate', escalate_to: 'bob' },
          ],
        },
      },
    });
    for (const [name, role] of [
      ['alice', 'approver'],
      ['bob', 'viewer'],
    ] as const) {
      const made = await runCli('token', 'create', name, '--role', role, '--state', state);
      expect(made.code).toBe(0);
    }
    const withoutStore = await preflight(file);
    expect(withoutStore.ok).toBe(true);
    const report = await preflight(file, { stateDir: state });
    expect(report.items.map((item) => [item.check, item.status, item.message])).toEqual([
      ['approver alice can act', 'passed', 'alice holds a approver token'],
      ['approver bob can act', 'failed', 'bob holds a viewer token, not approver or admin'],
      ['escalation contact bob can act', 'failed', 'bob holds a viewer token, not operator or admin'],
    ]);
  });

  it('reports a restore that does not fit on the disk it goes to', async (context) => {
    const dir = tempDir('drctl-preflight-');
    const small = join(dir, 'small');
    mkdirSync(small);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      context.skip('no tmpfs mount here (needs root): the disk-space check is not exercised');
      return;
    }
    try {
      const data = join(dir, 'data');
      mkdirSync(data);
      writeFileSync(join(data, 'orders.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
      const file = writePlan(dir, {
        components: [
          {
            id: 'files',
            kind: 'files',
            placement: { east: { path: 'data' }, west: { path: 'small/restored', standby: true } },
            backups: [{ every: '1h', to: 'west', path: 'repo' }],
          },
        ],
        runbooks: {
          failover: {
            steps: [
              { id: 'restore-west', action: 'files.restore', with: { component: 'files', site: 'west' } },
            ],
          },
        },
      });
      const plan = await loadPlan(file);
      const files = findProvider('files');
      await files?.actions.backup?.run(
        { component: 'files', site: 'east' },
        {
          signal: new AbortController().signal,
          log: silentLogger(),
          plan,
          stateDir: join(dir, 'state'),
          evidence: () => undefined,
        },
      );
      const report = await preflight(file);
      expect(summary(report.items)).toEqual([['restore-west', 'capacity', 'failed']]);
      expect(report.items[0]?.message).toMatch(
        /^only \d+ bytes free at .*small\/restored; backup \S+ needs 3145728$/,
      );
    } finally {
      execFileSync('umount', [small]);
    }
  });
});

describe.skipIf(!pgAvailable())('drctl preflight against PostgreSQL', () => {
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'async' });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('reports the wrong password as credentials refused, and a streaming standby as ready to promote', async () => {
    const dir = tempDir('drctl-preflight-');
    const east = cluster!.node('east').url;
    const west = cluster!.node('west').url;
    const wrong = new URL(west);
    wrong.password = 'not-the-password';
    const report = await preflight(
      writePlan(dir, {
        components: [
          {
            id: 'db',
            kind: 'postgres',
            placement: { east: { url: east }, west: { url: west, standby: true } },
          },
          {
            id: 'db-wrong',
            kind: 'postgres',
            placement: { east: { url: east }, west: { url: wrong.toString(), standby: true } },
          },
        ],
        runbooks: {
          failover: {
            steps: [
              { id: 'promote', action: 'postgres.promote', with: { component: 'db', site: 'west' } },
              {
                id: 'promote-wrong',
                action: 'postgres.promote',
                with: { component: 'db-wrong', site: 'west' },
              },
            ],
          },
        },
      }),
    );
    expect(summary(report.items)).toEqual([
      ['promote', 'credentials', 'passed'],
      ['promote', 'capacity', 'passed'],
      ['promote-wrong', 'credentials', 'failed'],
    ]);
    expect(report.items[2]?.message).toMatch(/db-wrong at west refuses the credentials/);
    expect(report.items[2]?.message).not.toContain('not-the-password');
    // nothing changed: the standby is still a standby
    const again = await preflight(
      writePlan(dir, {
        components: [
          {
            id: 'db',
            kind: 'postgres',
            placement: { east: { url: east }, west: { url: west, standby: true } },
          },
        ],
        runbooks: {
          failover: {
            steps: [{ id: 'promote', action: 'postgres.promote', with: { component: 'db', site: 'west' } }],
          },
        },
      }),
    );
    expect(again.items.find((item) => item.kind === 'capacity')?.status).toBe('passed');
  }, 60_000);
});

describe('preflight on the examples', () => {
  it.each([
    'examples/two-site/warm-standby.yaml',
    'examples/backup-archive/plan.yaml',
    'examples/data-platform/plan.yaml',
  ])(
    'checks every automated step and every approver of %s within the timeout',
    async (file) => {
      const plan = await loadPlan(file);
      const report = await preflight(file, { timeoutMs: 2_000 });
      const stepsWithChecks = new Set(
        report.items.map((item) => `${item.workload}/${item.runbook}/${item.step}`),
      );
      for (const workload of plan.workloads)
        for (const runbook of workload.runbooks)
          for (const step of runbook.steps) {
            const covered = step.kind === 'approval' || step.escalateTo !== undefined;
            if (covered) expect(stepsWithChecks).toContain(`${workload.id}/${runbook.name}/${step.id}`);
          }
      expect(report.items.every((item) => item.durationMs <= 2_500)).toBe(true);
      expect(report.planHash).toBe(plan.hash);
    },
    30_000,
  );
});

describe('needs verification', () => {
  it('holds until a preflight and a drill pass on the plan as it is now, and comes back when the plan changes', async () => {
    const dir = tempDir('drctl-preflight-');
    const state = join(dir, 'state');
    const steps = [{ id: 'go', run: 'true' }];
    const file = writePlan(dir, { runbooks: { failover: { steps } } });
    const store = await openStore(state);
    try {
      const { checkReadiness } = await import('../../src/monitor/readiness.ts');
      const { savePreflight } = await import('../../src/preflight/index.ts');
      const readiness = async () =>
        (await checkReadiness(await loadPlan(file), { stateDir: state, store })).verification?.shop;
      expect(await readiness()).toEqual({
        state: 'needs-verification',
        preflightPassed: false,
        drillPassed: false,
      });

      const plan = await loadPlan(file);
      await savePreflight(store, plan, await runPreflight(plan, { providers, stateDir: state, store }));
      expect(await readiness()).toMatchObject({
        state: 'needs-verification',
        preflightPassed: true,
        drillPassed: false,
      });

      await store.saveDrillReport({
        id: 'drill-1',
        workload: 'shop',
        scenario: 'east-killed',
        planHash: plan.hash,
        startedAt: new Date(),
        passed: true,
        detectionMs: 100,
        rtoMs: 500,
        lostWrites: 0,
        report: {},
      });
      expect(await readiness()).toEqual({ state: 'verified', preflightPassed: true, drillPassed: true });

      writePlan(dir, {
        runbooks: { failover: { steps: [...steps, { id: 'check', needs: ['go'], run: 'true' }] } },
      });
      expect(await readiness()).toEqual({
        state: 'needs-verification',
        preflightPassed: false,
        drillPassed: false,
      });
      const report = await checkReadiness(await loadPlan(file), { stateDir: state, store });
      const { formatReadiness } = await import('../../src/monitor/readiness.ts');
      expect(formatReadiness(report)).toContain(
        'shop: needs verification (no passed preflight and drill of this plan version)',
      );
      expect(report.preflight).toMatchObject({ ok: true, current: false });
    } finally {
      await store.close();
    }
  });
});
