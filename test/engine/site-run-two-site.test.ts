/**
 * A real site run on the two-site bed: site east is lost, and the order service of two workloads (a shared
 * accounts service and the shop that depends on it) is brought up at west by one run, on free loopback
 * ports. The orchestrator is SIGKILLed while the shop's child is in flight and resumed; the run finishes
 * with both children recovered, no finished step run twice, and the audit chain intact.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RECORD, verifyRun } from '../../src/engine/index.ts';
import { Supervisor } from '../../src/supervise/index.ts';
import { openStore } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { cli, startCli, stopAll } from './cli-process.ts';

const SERVICE = resolve('examples/two-site/app/order-service.mjs');

function service(dir: string, name: string, site: string, port: number, standby: boolean) {
  return {
    command: `node ${SERVICE}`,
    port,
    env: { PORT: '{{port}}', SITE: site, DB_PATH: join(dir, `${name}-${site}.db`) },
    ready: 'http://127.0.0.1:{{port}}/ready',
    ...(standby ? { standby: true } : {}),
  };
}

async function writeBed(dir: string): Promise<{ accountsWest: number; shopWest: number }> {
  const [accountsEast, accountsWest, shopEast, shopWest] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const startWest = (component: string, port: number, needs: string[] = []) => ({
    id: 'start-west',
    name: `Start ${component} at west, writable`,
    needs,
    action: 'process.start',
    with: { component, site: 'west' },
    validate: [{ name: 'west takes orders', http: { url: `http://127.0.0.1:${port}/ready`, status: 200 } }],
    expected: '2s',
  });
  writeFileSync(
    join(dir, 'plan.yaml'),
    stringify({
      version: 1,
      name: 'two-site site run',
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: [
        { id: 'alice', name: 'Alice Ng', backup: 'bob' },
        { id: 'bob', name: 'Bob Li', backup: 'alice' },
      ],
      activation: { criteria: ['east is unreachable'], approvers: ['bob'], quorum: 1 },
      workloads: [
        {
          id: 'shop',
          tier: 1,
          strategy: 'warm-standby',
          owner: 'alice',
          components: [
            {
              id: 'shop-orders',
              kind: 'process',
              depends_on: ['accounts-orders'],
              placement: {
                east: service(dir, 'shop', 'east', shopEast, false),
                west: service(dir, 'shop', 'west', shopWest, true),
              },
            },
          ],
          runbooks: {
            failover: {
              steps: [
                // the kill window: long enough to SIGKILL the driver while it runs, safe to run again
                {
                  id: 'drain',
                  run: `sleep 1.5; echo drain >> ${join(dir, 'exec.log')}`,
                  idempotent: true,
                  expected: '2s',
                },
                startWest('shop-orders', shopWest, ['drain']),
              ],
            },
          },
        },
        {
          id: 'accounts',
          tier: 0,
          strategy: 'hot-standby',
          owner: 'bob',
          components: [
            {
              id: 'accounts-orders',
              kind: 'process',
              placement: {
                east: service(dir, 'accounts', 'east', accountsEast, false),
                west: service(dir, 'accounts', 'west', accountsWest, true),
              },
            },
          ],
          runbooks: { failover: { steps: [startWest('accounts-orders', accountsWest)] } },
        },
      ],
    }),
  );
  return { accountsWest, shopWest };
}

afterAll(stopAll);

describe('a site run on the two-site bed', () => {
  it('recovers two workloads at west in one run, resumed after SIGKILL without re-running finished steps', async () => {
    const dir = tempDir('drctl-site-bed-');
    const state = join(dir, 'state');
    const ports = await writeBed(dir);
    const supervisor = Supervisor.create({ stateDir: state });
    try {
      const args = ['--state', state];
      const started = await cli(['run', 'plan.yaml', '--site-lost', 'east', '--no-wait', '--json', ...args], {
        cwd: dir,
      });
      expect(started.code).toBe(0);
      const runId = (JSON.parse(started.stdout) as { id: string }).id;
      expect(JSON.parse(started.stdout)).toMatchObject({
        status: 'waiting',
        workload: 'site:east',
        waiting: [{ step: 'activation', on: ['bob'] }],
      });

      // a second declaration of the same site is refused with the first run's id
      const second = await cli(['run', 'plan.yaml', '--site-lost', 'east', '--no-wait', ...args], {
        cwd: dir,
      });
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(
        `DRCTL_SITE_RUN_OPEN site east is already being recovered by run ${runId}`,
      );

      const approved = await cli(['approve', runId, 'activation', '--as', 'bob', ...args], { cwd: dir });
      expect(approved.code).toBe(0);

      // drive it, and kill the driver once the accounts child is back and the shop's drain is in flight
      const driver = startCli(['resume', runId, ...args], { cwd: dir });
      const store = await openStore(state);
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const records = await store.readJournal(runId);
          const done = (step: string) =>
            records.some((r) => r.type === RECORD.stepSucceeded && r.step === step);
          const began = (step: string) =>
            records.some((r) => r.type === RECORD.stepStarted && r.step === step);
          if (done('accounts.start-west') && began('shop.drain')) break;
          if (Date.now() > deadline)
            throw new Error(
              `the run did not get there: ${records.map((r) => `${r.type} ${r.step ?? ''}`).join(', ')}`,
            );
          await sleep(25);
        }
        driver.child.kill('SIGKILL');
        expect((await driver.exit).signal).toBe('SIGKILL');
        // the accounts service started by the killed driver is still serving at west
        expect((await fetch(`http://127.0.0.1:${ports.accountsWest}/ready`)).status).toBe(200);

        const resumed = await cli(['resume', runId, '--json', ...args], { cwd: dir });
        expect(resumed.stderr).not.toMatch(/DRCTL_/);
        expect(resumed.code).toBe(0);
        const view = JSON.parse(resumed.stdout) as {
          status: string;
          site: { site: string; children: Array<{ workload: string; status: string; fits: boolean }> };
        };
        expect(view.status).toBe('succeeded');
        expect(view.site.children.map((child) => [child.workload, child.status, child.fits])).toEqual([
          ['accounts', 'succeeded', true],
          ['shop', 'succeeded', true],
        ]);
        for (const port of [ports.accountsWest, ports.shopWest]) {
          const ready = (await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { site: string };
          expect(ready.site).toBe('west');
        }
        const records = await store.readJournal(runId);
        const starts = (step: string) =>
          records.filter((r) => r.type === RECORD.stepStarted && r.step === step).length;
        expect(starts('accounts.start-west')).toBe(1);
        expect(starts('shop.start-west')).toBe(1);
        expect(records.some((r) => r.type === RECORD.stepInterrupted && r.step === 'shop.drain')).toBe(true);
        expect(records.filter((r) => r.type === RECORD.runDriven)).toHaveLength(3);
        expect((await verifyRun(store, runId)).ok).toBe(true);
        const status = await cli(['status', runId, ...args], { cwd: dir });
        expect(status.stdout).toMatch(
          /site east lost: 2 workloads; declared after .+; all back after .+ \(2 within RTO, 0 late, 0 not recovered, 0 under way\)\n\s+succeeded\s+accounts\/failover tier 0, recovered after .*\n\s+succeeded\s+shop\/failover tier 1 after accounts, recovered after .*\n\s+tier 0: back after .+ against RTO .+: fits \(accounts\)\n\s+tier 1: back after .+ against RTO .+: fits \(shop\)\n/,
        );
      } finally {
        await store.close();
      }
      expect(existsSync(join(dir, 'exec.log')) && readFileSync(join(dir, 'exec.log'), 'utf8')).toMatch(
        /drain/,
      );
    } finally {
      await Promise.allSettled([
        supervisor.stop('accounts-orders@west', { graceMs: 1_000 }),
        supervisor.stop('shop-orders@west', { graceMs: 1_000 }),
      ]);
    }
  }, 60_000);
});
