/**
 * The state store's own failover: drctl serve on a PostgreSQL primary with a synchronous streaming standby
 * (pg_basebackup -R), reached through a multi-host URL with target_session_attrs=read-write. Mid-run the
 * primary stops and the standby is promoted with pg_ctl promote: the run finishes, no step runs twice or
 * is recorded twice, and the journal verifies.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPgTool } from '../../src/pg/binaries.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { cli, stopAll } from '../engine/cli-process.ts';
import { chainSteps, site } from './instances.ts';
import type { RunView } from './instances.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

let cluster: PgCluster | undefined;

describe.skipIf(!pgAvailable())('drctl serve across a promotion of the state database', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east', 'west'], mode: 'sync' });
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('finishes a run when the primary stops and the standby is promoted mid-run, no step doubled', async () => {
    const east = cluster!.node('east');
    const west = cluster!.node('west');
    const multiHost = east.url
      .replace(`127.0.0.1:${east.port}`, `127.0.0.1:${east.port},127.0.0.1:${west.port}`)
      .concat('?target_session_attrs=read-write');
    const STEPS = 20;
    const s = await site(multiHost, chainSteps(STEPS));
    try {
      const one = await s.start('one');
      await s.waitUp(one);
      const run = await s.api<RunView>(one, 'POST', '/api/v1/runs', { runbook: 'failover' });
      await eventually(async () =>
        (await s.journal(run.id)).some((r) => r.type === 'step-succeeded' && r.step === 's5'),
      );
      const stoppedAt = Date.now();
      await east.stop();
      await sleep(500);
      await runPgTool(cluster!.binaries, 'pg_ctl', ['promote', '-w', '-D', west.dataDir]);
      const promotedAt = Date.now();
      const done = await eventually(async () => {
        const view = await s.api<RunView>(one, 'GET', `/api/v1/runs/${run.id}`).catch(() => undefined);
        return view?.status === 'succeeded' ? view : undefined;
      }, 60_000);
      expect(done.steps.every((step) => step.status === 'succeeded')).toBe(true);
      const records = await s.journal(run.id);
      // the first record after the stop, written to the promoted standby
      const resumedAt = records.find((r) => r.at.getTime() > promotedAt)?.at.getTime();
      for (let index = 1; index <= STEPS; index += 1) {
        const id = `s${index}`;
        expect(
          records.filter((r) => r.type === 'step-started' && r.step === id),
          id,
        ).toHaveLength(1);
        expect(
          records.filter((r) => r.type === 'step-succeeded' && r.step === id),
          id,
        ).toHaveLength(1);
        expect(s.executions().get(id), id).toBe(1);
      }
      // one driver throughout: the store reconnected, nothing was taken over or resumed
      expect(records.filter((r) => r.type === 'run-driven')).toHaveLength(1);
      const audit = await cli(['audit', 'verify', run.id, '--state', s.state], { cwd: s.dir });
      expect(audit.code).toBe(0);
      console.log(
        `state database failover: primary stopped, standby promoted ${promotedAt - stoppedAt} ms later; next record ${resumedAt === undefined ? '?' : resumedAt - promotedAt} ms after the promotion`,
      );
      one.process.child.kill('SIGTERM');
      expect((await one.process.exit).code).toBe(0);
    } finally {
      await s.close();
    }
  }, 120_000);
});
