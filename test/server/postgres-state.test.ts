/**
 * `drctl serve` on a PostgreSQL state store, as a real process: selected with --state postgres://… or
 * DRCTL_STATE_URL like every other command, and refused with a clear code (exit 2) when the database is
 * not there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { freePort } from '../../src/system/ports.ts';
import { cli, startCli, stopAll } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { chainSteps, site } from './instances.ts';
import type { RunView } from './instances.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

describe('drctl serve --state with an unreachable PostgreSQL', () => {
  it('exits 2 with DRCTL_STORE_UNREACHABLE naming the host, without the password', async () => {
    const dir = tempDir();
    writePlan(dir, chainSteps(1));
    const port = await freePort();
    const result = await cli(
      [
        'serve',
        'plan.yaml',
        '--state',
        `postgres://drctl:hunter2@127.0.0.1:${port}/drctl`,
        '--listen',
        `127.0.0.1:${await freePort()}`,
      ],
      { cwd: dir },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_STORE_UNREACHABLE');
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).not.toContain('hunter2');
  }, 30_000);

  it('reads the URL from DRCTL_STATE_URL when --state is not given', async () => {
    const dir = tempDir();
    writePlan(dir, chainSteps(1));
    const port = await freePort();
    const result = await cli(['serve', 'plan.yaml', '--listen', `127.0.0.1:${await freePort()}`], {
      cwd: dir,
      env: { DRCTL_STATE_URL: `postgres://drctl:hunter2@127.0.0.1:${port}/drctl` },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_STORE_UNREACHABLE');
    expect(result.stderr).not.toContain('hunter2');
  }, 30_000);
});

let cluster: PgCluster | undefined;

describe.skipIf(!pgAvailable())('drctl serve --state postgres://', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('drives a run started through its API to the end, journaled in PostgreSQL', async () => {
    const s = await site(cluster!.node('east').url, chainSteps(3, 0));
    try {
      const one = await s.start('one');
      await s.waitUp(one);
      const run = await s.api<RunView>(one, 'POST', '/api/v1/runs', { runbook: 'failover' });
      const done = await eventually(async () => {
        const view = await s.api<RunView>(one, 'GET', `/api/v1/runs/${run.id}`);
        return view.status === 'succeeded' ? view : undefined;
      }, 20_000);
      expect(done.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      const records = await s.journal(run.id);
      expect(records.at(-1)).toMatchObject({ type: 'run-finished', data: { status: 'succeeded' } });
      expect([...s.executions().entries()]).toEqual([
        ['s1', 1],
        ['s2', 1],
        ['s3', 1],
      ]);
      one.process.child.kill('SIGTERM');
      const exit = await one.process.exit;
      expect(exit.code).toBe(0);
      expect(exit.stderr).toContain('state postgres://postgres:[redacted]@');
      expect(exit.stderr).not.toContain(cluster!.password);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('takes its state from DRCTL_STATE_URL when --state is not given', async () => {
    const s = await site(cluster!.node('east').url, chainSteps(1, 0));
    try {
      const port = await freePort();
      const serve = startCli(['serve', 'plan.yaml', '--listen', `127.0.0.1:${port}`], {
        cwd: s.dir,
        env: { DRCTL_STATE_URL: s.state, DRCTL_STATE_DIR: `${s.dir}/local` },
      });
      await eventually(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok || undefined,
            () => undefined,
          ),
        20_000,
      );
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ runbook: 'failover' }),
      });
      const run = (await response.json()) as RunView;
      expect((await (await s.store()).getRun(run.id))?.runbook).toBe('failover');
      serve.child.kill('SIGTERM');
      expect((await serve.exit).code).toBe(0);
    } finally {
      await s.close();
    }
  }, 60_000);
});
