/** `drctl monitor` as people run it: a real CLI process, real site processes, the SQLite store in --state. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { startCli, stopAll } from '../engine/cli-process.ts';
import { runCli } from '../support/cli.ts';
import { startSite, stopAllSites, until, writePlan } from './sites.ts';

afterEach(async () => {
  stopAll();
  await stopAllSites();
});

describe('drctl monitor', () => {
  it('--once reports each site and exits 1 when one does not answer', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const { file } = await writePlan([
      { id: 'shop', automatic: true, detectAfter: '1s', east: east.port, west: west.port },
    ]);
    const healthy = await runCli('monitor', file, '--once', '--json');
    expect(healthy.code).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      ok: true,
      probes: [
        { site: 'east', ok: true },
        { site: 'west', ok: true },
      ],
    });

    east.kill('SIGKILL');
    await until(async () => (await runCli('monitor', file, '--once')).code === 1);
    const broken = await runCli('monitor', file, '--once');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/shop-api\s+east\s+FAILED/);
  });

  it('fails over by itself when the primary dies, stops cleanly on SIGINT, and does not fail over again after a restart', async () => {
    const [east, west] = await Promise.all([startSite(), startSite()]);
    const { file, dir } = await writePlan([
      { id: 'shop', automatic: true, detectAfter: '400ms', east: east.port, west: west.port },
    ]);
    const state = join(dir, 'state');
    const cli = startCli(['monitor', file, '--state', state, '--json'], { cwd: dir });
    let out = '';
    cli.child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const lines = (): { type: string; [key: string]: unknown }[] =>
      out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string });

    expect(await until(() => lines().some((l) => l.type === 'watching'), 20_000)).toBe(true);
    east.kill('SIGKILL');
    const started = await until(() => lines().find((l) => l.type === 'run-finished'), 20_000);
    expect(started).toMatchObject({ status: 'succeeded' });
    expect(lines().map((l) => l.type)).toEqual(
      expect.arrayContaining(['site-suspect', 'site-lost', 'failover-started']),
    );
    expect(lines().find((l) => l.type === 'failover-started')).toMatchObject({
      workload: 'shop',
      automatic: true,
    });

    cli.child.kill('SIGINT');
    const exit = await cli.exit;
    expect(exit.code).toBe(0);
    expect(lines().at(-1)).toMatchObject({ type: 'stopped' });

    // a restarted monitor sees east still lost and remembers the failover it already made
    const again = startCli(['monitor', file, '--state', state, '--json', '--preflight-every', '300ms'], {
      cwd: dir,
    });
    let out2 = '';
    again.child.stdout?.on('data', (chunk: Buffer) => (out2 += chunk.toString()));
    const skipped = await until(
      () =>
        out2
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { type: string })
          .find((l) => l.type === 'failover-skipped'),
      20_000,
    );
    expect(skipped).toMatchObject({ why: 'latched' });
    // and it preflights the plan on its schedule, as drctl serve does, keeping the report for readiness
    const preflight = await until(
      () =>
        out2
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { type: string; ok?: boolean })
          .find((l) => l.type === 'preflight'),
      20_000,
    );
    expect(preflight).toMatchObject({ ok: true, summary: { failed: 0, 'timed-out': 0 } });
    again.child.kill('SIGINT');
    expect((await again.exit).code).toBe(0);

    const store = await openStore(state);
    try {
      const runs = await store.listRuns();
      expect(runs).toHaveLength(1);
      const kept = await store.getDocument('preflight', 'monitor test');
      expect(kept?.data.lastPassed).toMatchObject({ planHash: expect.any(String) });
      expect(runs[0]).toMatchObject({
        workload: 'shop',
        runbook: 'failover',
        startedBy: 'monitor',
        status: 'succeeded',
      });
    } finally {
      await store.close();
    }
  }, 60_000);
});
