/**
 * A run whose shell steps act on a host (a network namespace running sshd), driven by a real `drctl`
 * process that is SIGKILLed at the worst moments: right after a step's command completed on the host but
 * before the driver journaled it, and while a step's command is still running there. Resumed runs decide
 * from the marker on the host (`<state_dir>/done/<run>/<step>`), without asking a person: the completed
 * command is not run again, the cut-short one is. Skipped with a message where no bed can be made.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runView } from '../../src/engine/index.ts';
import { openStore } from '../../src/store/index.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { tempDir } from '../support/tmp.ts';
import { startCli, stopAll } from './cli-process.ts';
import type { CliProcess } from './cli-process.ts';
import { CONTACTS } from './fixtures.ts';

const unavailable = NetnsBed.unavailable();
if (unavailable !== undefined) console.warn(`resume on a host skipped: ${unavailable}`);

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function killed(driver: CliProcess): Promise<void> {
  driver.child.kill('SIGKILL');
  expect((await driver.exit).signal).toBe('SIGKILL');
}

describe.skipIf(unavailable !== undefined)('resuming a run whose steps act on a host', () => {
  let bed: NetnsBed;
  let dir: string;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east'] });
    dir = tempDir('drctl-resume-host-');
  });
  afterAll(async () => {
    stopAll();
    await bed?.close();
  });

  it('does not run again a command that completed on the host before the driver died, and runs again one that was cut short', async () => {
    const hostState = join(dir, 'on-east');
    // the host shares this machine's files: the test watches the commands' traces and the markers
    const log = join(dir, 'executions.log');
    const [arrived, go, once] = ['arrived', 'go', 'once'].map((name) => join(dir, name)) as [
      string,
      string,
      string,
    ];
    const step = (id: string, command: string, needs?: string[]) => ({
      id,
      action: 'shell.run',
      ...(needs === undefined ? {} : { needs }),
      with: { host: 'app-east', command },
    });
    writeFileSync(
      join(dir, 'plan.yaml'),
      stringify({
        version: 1,
        name: 'resume on a host',
        sites: {
          east: {
            role: 'primary',
            hosts: {
              'app-east': {
                address: bed.host('east').address,
                user: 'root',
                identity_file: bed.identityFile,
                known_hosts: bed.knownHostsFile,
                state_dir: hostState,
              },
            },
          },
          west: { role: 'secondary' },
        },
        contacts: CONTACTS,
        workloads: [
          {
            id: 'shop',
            tier: 1,
            strategy: 'hot-standby',
            owner: 'alice',
            runbooks: {
              failover: {
                steps: [
                  // completes once the test says so (it has stopped the driver by then)
                  step(
                    'fence',
                    `echo fence >> ${log}; touch ${arrived}; while [ ! -e ${go} ]; do sleep 0.02; done`,
                  ),
                  // the first time it never completes: the driver is killed while it runs
                  step(
                    'promote',
                    `echo promote >> ${log}; if [ ! -e ${once} ]; then touch ${once}; sleep 30; echo late >> ${log}; fi`,
                    ['fence'],
                  ),
                ],
              },
            },
          },
        ],
      }),
    );
    const stateDir = join(dir, 'state');
    const args = ['--state', stateDir, '--as', 'alice', '--no-wait'];
    const marker = (runId: string, stepId: string): string => join(hostState, 'done', runId, stepId);

    // 1. fence completes on the host while its driver is stopped; then the driver is killed
    let driver = startCli(['run', 'plan.yaml', '--runbook', 'failover', ...args], { cwd: dir });
    await until('fence started on the host', () => existsSync(arrived));
    driver.child.kill('SIGSTOP');
    writeFileSync(go, '');
    const store = await openStore(stateDir);
    try {
      const [run] = await store.listRuns({ limit: 1 });
      const runId = run!.id;
      await until('the marker of fence on the host', () => existsSync(marker(runId, 'fence')));
      await killed(driver);
      let view = runView(await store.readJournal(runId));
      expect(view.steps.find((s) => s.id === 'fence')?.status).toBe('running');

      // 2. resumed: fence is answered from the marker; promote is killed while it runs on the host
      driver = startCli(['resume', runId, ...args], { cwd: dir });
      await until('promote started on the host', () => existsSync(once));
      await killed(driver);
      expect(existsSync(marker(runId, 'promote'))).toBe(false);

      // 3. resumed again, with no decision given: promote runs again and the run completes
      const last = await startCli(['resume', runId, ...args], { cwd: dir }).exit;
      expect(last.code, last.stderr).toBe(0);
      view = runView(await store.readJournal(runId));
      expect(view.status).toBe('succeeded');
      expect(view.waiting).toEqual([]);
      expect(view.steps.find((s) => s.id === 'fence')?.summary).toMatch(
        /^not run again: it completed on app-east at \d{4}-\d\d-\d\dT/,
      );
      // fence ran once; promote twice, and the first, cut-short one never went on after its driver died
      expect(readFileSync(log, 'utf8')).toBe('fence\npromote\npromote\n');
      expect(existsSync(marker(runId, 'promote'))).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);
});
