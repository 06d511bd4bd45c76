/**
 * The control plane under its own faults, with two real `drctl serve` instances on one PostgreSQL: a
 * driver SIGKILLed during a long step (the step's process group dies with it, and the instance taking
 * over starts the step again only once it is gone), and a database outage of a minute during a step
 * (the step's success is written once the database is back, and the same driver finishes the run).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { processGroupGone } from '../../src/system/guarded-spawn.ts';
import type { StepProcess } from '../../src/system/guarded-spawn.ts';
import { cli, stopAll } from '../engine/cli-process.ts';
import { site } from './instances.ts';
import type { RunView } from './instances.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

let cluster: PgCluster | undefined;

/** `start <ns>` and `end <ns>` lines, in the order the step's runs wrote them. */
function stepLog(dir: string): Array<{ what: string; at: number }> {
  return readFileSync(join(dir, 'exec.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [what = '', ns = '0'] = line.split(' ');
      return { what, at: Number(BigInt(ns) / 1_000_000n) };
    });
}

describe.skipIf(!pgAvailable())('the control plane under its own faults', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('ends a SIGKILLed driver’s 5 s step within a second and never runs it twice at once', async () => {
    const s = await site(
      cluster!.node('east').url,
      [
        {
          id: 'long',
          idempotent: true,
          run: 'echo "start $(date +%s%N)" >> exec.log; sleep 5; echo "end $(date +%s%N)" >> exec.log',
        },
      ],
      { leaseTtlMs: 2_000 },
    );
    try {
      const one = await s.start('one');
      const two = await s.start('two');
      await Promise.all([s.waitUp(one), s.waitUp(two)]);
      const run = await s.api<RunView>(one, 'POST', '/api/v1/runs', { runbook: 'failover' });
      const started = await eventually(async () => {
        const record = (await s.journal(run.id)).find((r) => r.type === 'step-process');
        return record?.data as unknown as StepProcess | undefined;
      }, 30_000);
      expect(started).toMatchObject({ host: expect.any(String), pid: expect.any(Number) });
      await sleep(1_000);
      expect(processGroupGone(started)).toBe(false);
      const killedAt = Date.now();
      one.process.child.kill('SIGKILL');
      await eventually(() => processGroupGone(started) === true || undefined, 5_000);
      const goneMs = Date.now() - killedAt;
      const done = await eventually(async () => {
        const view = await s.api<RunView>(two, 'GET', `/api/v1/runs/${run.id}`).catch(() => undefined);
        return view?.status === 'succeeded' ? view : undefined;
      }, 30_000);
      expect(done.status).toBe('succeeded');
      const log = stepLog(s.dir);
      console.log(`step process group gone ${goneMs} ms after its driver's SIGKILL`);
      expect(goneMs).toBeLessThan(1_000);
      // the killed driver's run started and never ended; the second started after the first was gone
      expect(log.map((entry) => entry.what)).toEqual(['start', 'start', 'end']);
      expect(log[1]!.at).toBeGreaterThanOrEqual(killedAt + goneMs - 50);
      const records = await s.journal(run.id);
      expect(records.find((r) => r.type === 'step-interrupted')?.data).toMatchObject({ processes: 'gone' });
    } finally {
      await s.close();
    }
  }, 120_000);

  it('rides out a 60 s database outage mid-step: the step is recorded as finished and the run finishes', async () => {
    const s = await site(
      cluster!.node('east').url,
      [
        { id: 'before', run: 'echo before >> exec.log' },
        // not idempotent: run twice, or recorded anything but succeeded, would be the bug
        { id: 'during', needs: ['before'], run: 'sleep 2; echo during >> exec.log' },
        { id: 'after', needs: ['during'], run: 'echo after >> exec.log' },
      ],
      { leaseTtlMs: 3_000 },
    );
    try {
      const one = await s.start('one');
      const two = await s.start('two');
      await Promise.all([s.waitUp(one), s.waitUp(two)]);
      const run = await s.api<RunView>(one, 'POST', '/api/v1/runs', { runbook: 'failover' });
      await eventually(
        async () => (await s.journal(run.id)).some((r) => r.type === 'step-process' && r.step === 'during'),
        30_000,
      );
      const east = cluster!.node('east');
      await east.stop();
      await sleep(60_000);
      await east.start();
      const done = await eventually(async () => {
        const view = await s.api<RunView>(one, 'GET', `/api/v1/runs/${run.id}`).catch(() => undefined);
        return view !== undefined && !['running', 'waiting'].includes(view.status) ? view : undefined;
      }, 60_000);
      expect(done.status).toBe('succeeded');
      const records = await s.journal(run.id);
      if (process.env.DRCTL_TRIAL_LOGS !== undefined) {
        console.log(
          records
            .map(
              (r) =>
                `${r.at.toISOString()} ${r.type} ${r.step ?? ''} ${JSON.stringify(r.data).slice(0, 120)}`,
            )
            .join('\n'),
        );
        for (const instance of [one, two]) {
          instance.process.child.kill('SIGKILL');
          for (const line of (await instance.process.exit).stderr.split('\n'))
            if (/"level":(40|50)|took over|reachable/.test(line))
              console.log(instance.name, line.slice(0, 300));
        }
      }
      expect(records.filter((r) => r.type === 'run-driven')).toHaveLength(1);
      expect(records.filter((r) => ['step-cancelled', 'step-interrupted'].includes(r.type))).toEqual([]);
      expect(s.executions()).toEqual(
        new Map([
          ['before', 1],
          ['during', 1],
          ['after', 1],
        ]),
      );
      const audit = await cli(['audit', 'verify', run.id, '--state', s.state], { cwd: s.dir });
      expect(audit.code).toBe(0);
      for (const instance of [one, two]) {
        instance.process.child.kill('SIGTERM');
        const { stdout, stderr } = await instance.process.exit;
        const said = `${stdout}\n${stderr}`
          .split('\n')
          .filter((line) => line.includes('communications tick'));
        // said when it began failing (and when the reason changed), and once when it worked again
        expect(said.length, said.join('\n')).toBeLessThanOrEqual(4);
      }
    } finally {
      await s.close();
    }
  }, 240_000);
});
