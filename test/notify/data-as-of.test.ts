// "Data is current to ..." told to people must be the data's real point in time, not the time the message was
// made: a real restore from drctl's repository, through a real engine run, to a real webhook.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Engine } from '../../src/engine/index.ts';
import { Communications } from '../../src/notify/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually, startWebhook } from './support.ts';
import type { WebhookReceiver } from './support.ts';

describe('the data_as_of and sent_at fields of a message', () => {
  let hook: WebhookReceiver | undefined;
  let store: RunStore | undefined;
  let comms: Communications | undefined;

  afterAll(async () => {
    await comms?.stop();
    await store?.close();
    await hook?.close();
  });

  it('say when the restored backup was taken, and when the message was sent, after a restore run', async () => {
    hook = await startWebhook();
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'orders.csv'), 'id,total\n1,20\n');
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        name: 'data age',
        sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
        contacts: [{ id: 'alice', name: 'Alice Ng' }],
        communications: {
          channels: [{ id: 'chat', type: 'webhook', shape: 'slack', url: `${hook.url}/hooks/x` }],
          templates: [
            {
              id: 'back',
              on: 'run-ended',
              channel: 'chat',
              body: 'Orders are back. Data is current to {{data_as_of}}; sent {{sent_at}}.',
            },
          ],
        },
        workloads: [
          {
            id: 'shop',
            tier: 3,
            strategy: 'backup-restore',
            owner: 'alice',
            components: [
              {
                id: 'orders',
                kind: 'files',
                placement: { east: { path: 'data' }, west: { path: 'restored', standby: true } },
                backups: [{ every: '1h', to: 'west', path: 'repo' }],
              },
            ],
            runbooks: {
              restore: {
                steps: [
                  { id: 'backup', action: 'files.backup', with: { component: 'orders', site: 'east' } },
                  {
                    id: 'restore',
                    needs: ['backup'],
                    action: 'files.restore',
                    with: { component: 'orders', site: 'west' },
                  },
                ],
              },
            },
          },
        ],
      }),
    );
    const plan = await loadPlan(file);
    store = await openStore(join(dir, 'state'));
    comms = new Communications({ store, plans: () => [plan], tickMs: 50 });
    comms.start();
    const engine = new Engine({
      store,
      providers,
      stateDir: join(dir, 'state'),
      hooks: [comms.hooks],
      pollMs: 20,
    });
    const before = new Date();
    const driver = await engine.start({ plan, runbook: 'restore', workload: 'shop', startedBy: 'tester' });
    await driver.done;
    const request = await eventually(
      () => hook!.requests.find((r) => String(r.body.text).includes('Orders are back')),
      5_000,
      'the message',
    );
    const text = String(request.body.text);
    const match = /Data is current to orders at west: (\S+); sent (\S+)\./.exec(text);
    expect(match, text).not.toBeNull();
    const dataAsOf = new Date(match![1]!);
    const sentAt = new Date(match![2]!);
    // the backup was taken during the run, before the restore finished and the message went out
    expect(dataAsOf.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1_000);
    expect(dataAsOf.getTime()).toBeLessThanOrEqual(sentAt.getTime());
  });
});
