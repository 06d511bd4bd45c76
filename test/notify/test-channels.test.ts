// A drill that is not announced speaks only on the plan's test channels: the people's chat and the status
// page hear nothing of it. Real receivers (a webhook per channel), a real engine on a SQLite store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Engine } from '../../src/engine/index.ts';
import { Communications } from '../../src/notify/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { runIncidentId } from '../../src/status/index.ts';
import { openStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually, startWebhook } from './support.ts';

describe('communications of a drill that is not announced', async () => {
  const people = await startWebhook();
  const room = await startWebhook();
  afterAll(async () => {
    await people.close();
    await room.close();
  });

  it('go to the test channels only, marked as a drill, and open no incident', async () => {
    const dir = tempDir();
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        name: 'test channels',
        sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
        contacts: [{ id: 'alice', name: 'Alice Ng', email: 'alice@example.com' }],
        communications: {
          channels: [
            { id: 'chat', type: 'webhook', url: `${people.url}/chat` },
            { id: 'drill-room', type: 'webhook', url: `${room.url}/room`, test: true },
          ],
          templates: [
            { id: 'declared', on: 'activation', channel: 'chat', body: 'DR declared for {{workload_name}}' },
            {
              id: 'declared-room',
              on: 'activation',
              channel: 'drill-room',
              body: 'DR declared for {{workload_name}}',
            },
          ],
        },
        workloads: [
          {
            id: 'shop',
            name: 'Shop',
            tier: 1,
            strategy: 'hot-standby',
            owner: 'alice',
            components: [{ id: 'db', kind: 'database' }],
            runbooks: { failover: { steps: [{ id: 'promote', run: 'true' }] } },
          },
        ],
      }),
    );
    const plan = await loadPlan(file);
    const store = await openStore(join(dir, 'state'));
    const comms = new Communications({ store, plans: () => [plan], tickMs: 50 });
    comms.start();
    try {
      const engine = new Engine({
        store,
        providers,
        stateDir: join(dir, 'state'),
        hooks: [comms.hooks],
        pollMs: 20,
      });
      const drill = await engine.start({
        plan,
        runbook: 'failover',
        workload: 'shop',
        startedBy: 'drill',
        trigger: { automatic: true, reason: 'drill', drill: { scenario: 'east-lost', announce: false } },
      });
      await drill.done;
      const declared = await eventually(
        () => room.requests.find((r) => String(r.body.text).includes('DR declared for Shop')),
        5_000,
        'the declaration on the test channel',
      );
      expect(String(declared.body.text)).toContain('This is a drill (scenario east-lost)');
      await comms.tick();
      expect(people.requests).toEqual([]);
      expect(await comms.incidents.get(runIncidentId(drill.runId))).toBeUndefined();
    } finally {
      await comms.stop();
      await store.close();
    }
  });
});
