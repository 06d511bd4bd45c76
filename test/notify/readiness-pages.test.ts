// A broken readiness promise pages the workload's owner: once when it breaks, a reminder on the plan's
// cadence while it lasts, "resolved" when it holds again — and nothing twice, across restarts. Readiness is
// the real check (a TCP probe of a port nobody listens on, then a listener), the receiver a real webhook.
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkReadiness } from '../../src/monitor/index.ts';
import { Communications, READINESS_BREACHES } from '../../src/notify/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually, startWebhook } from './support.ts';
import type { WebhookReceiver } from './support.ts';

/** The plan written into `dir`, loaded as drctl loads it. */
async function planIn(dir: string, doc: Record<string, unknown>): Promise<Plan> {
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, stringify(doc));
  return loadPlan(file);
}

describe('readiness that pages', () => {
  let hook: WebhookReceiver | undefined;
  let store: RunStore | undefined;
  let listener: net.Server | undefined;
  afterAll(async () => {
    listener?.close();
    await store?.close();
    await hook?.close();
  });

  it('tells the owner once when a promise breaks, reminds every updates_every, says resolved, and sends nothing twice after a restart', async () => {
    hook = await startWebhook();
    const port = await freePort();
    const dir = tempDir();
    const plan = await planIn(dir, {
      version: 1,
      name: 'paging',
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: [
        { id: 'alice', name: 'Alice Ng', email: 'alice@example.com', backup: 'bob' },
        { id: 'bob', name: 'Bob Okafor', email: 'bob@example.com', backup: 'alice' },
        { id: 'carol', name: 'Carol Diaz', email: 'carol@example.com', backup: 'alice' },
      ],
      communications: {
        cadence: { updates_every: '10m' },
        channels: [{ id: 'chat', type: 'webhook', shape: 'slack', url: `${hook.url}/hooks/x` }],
      },
      workloads: [
        {
          id: 'shop',
          name: 'Shop',
          tier: 3,
          strategy: 'backup-restore',
          owner: 'alice',
          components: [
            {
              id: 'api',
              kind: 'http-service',
              placement: { east: {} },
              probe: { tcp: `127.0.0.1:${port}`, interval: '1s', timeout: '300ms', failures: 1 },
            },
          ],
        },
        {
          id: 'reports',
          tier: 3,
          strategy: 'backup-restore',
          owner: 'carol',
          components: [{ id: 'warehouse', kind: 'service', placement: { east: {} } }],
        },
      ],
    });
    store = await openStore(join(dir, 'state'));
    let now = new Date('2026-12-06T12:00:00Z');
    // each check and delivery by a new instance: what a restarted (or second) server would do
    const check = async (): Promise<void> => {
      const comms = new Communications({ store: store!, plans: () => [plan], now: () => now });
      await comms.pageReadiness(plan, await checkReadiness(plan, { stateDir: dir }));
      await comms.outbox.deliverDue();
      await comms.stop();
    };
    const texts = (): string[] => hook!.requests.map((r) => String(r.body.text));

    await check();
    await eventually(() => hook!.requests.length === 1, 5_000, 'the page');
    expect(texts()[0]).toMatch(/^\*Shop: a readiness promise is broken\*\napi: /);
    const outbox = new Communications({ store, plans: () => [plan] }).outbox;
    expect((await outbox.list())[0]?.message).toMatchObject({
      event: 'readiness-broken',
      recipients: [expect.objectContaining({ id: 'alice' })],
      addresses: ['alice@example.com'],
    });

    await check(); // the same breach a moment later: nothing new
    now = new Date('2026-12-06T12:10:30Z');
    await check();
    await check();
    now = new Date('2026-12-06T12:25:00Z');
    await check();
    await eventually(() => hook!.requests.length === 3, 5_000, 'two reminders');
    expect(texts().slice(1)).toEqual([
      expect.stringMatching(/^\*Still broken: Shop\*\napi: .*\. Broken for 10m 30s\./),
      expect.stringMatching(/^\*Still broken: Shop\*\napi: .*\. Broken for 25m\./),
    ]);

    // the service answers again: resolved, once
    listener = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener!.listen(port, '127.0.0.1', resolve));
    now = new Date('2026-12-06T12:31:00Z');
    await check();
    await check();
    await eventually(() => hook!.requests.length === 4, 5_000, 'resolved');
    expect(texts()[3]).toMatch(/^\*Resolved: Shop\*\nHolds again after 31m: api: /);
    expect(await store.listDocuments(READINESS_BREACHES)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hook.requests).toHaveLength(4);
    // carol's workload never broke a promise: she heard nothing
    expect((await outbox.list()).flatMap((e) => e.message.recipients.map((r) => r.id))).not.toContain(
      'carol',
    );
  }, 30_000);
});

describe("the communication plan's deadlines", () => {
  let store: RunStore | undefined;
  afterAll(async () => store?.close());

  it("reminds the incident's owner of the root cause due in 72h at two thirds of it, then says once it was missed", async () => {
    const dir = tempDir();
    const plan = await planIn(dir, {
      version: 1,
      name: 'deadlines',
      sites: { east: { role: 'primary' } },
      contacts: [
        { id: 'alice', name: 'Alice Ng', email: 'alice@example.com' },
        { id: 'carol', name: 'Carol Diaz', email: 'carol@example.com' },
      ],
      communications: { channels: [{ id: 'log', type: 'command', command: 'cat > /dev/null' }] },
      workloads: [
        {
          id: 'shop',
          tier: 3,
          strategy: 'backup-restore',
          owner: 'alice',
          components: [{ id: 'api', kind: 'service', placement: { east: {} } }],
        },
        {
          id: 'reports',
          tier: 3,
          strategy: 'backup-restore',
          owner: 'carol',
          components: [{ id: 'warehouse', kind: 'service', placement: { east: {} } }],
        },
      ],
    });
    store = await openStore(join(dir, 'state'));
    const opened = new Date('2026-12-06T12:00:00Z');
    let now = opened;
    const comms = new Communications({ store, plans: () => [plan], now: () => now });
    const hours = (h: number): Date => new Date(opened.getTime() + h * 3_600_000);
    // one incident owes its root cause; the other published it before it was resolved
    const { incident } = await comms.incidents.open({
      title: 'API down',
      components: ['api'],
      body: 'Looking',
      by: 'alice',
    });
    const { incident: kept } = await comms.incidents.open({
      id: 'kept',
      title: 'API slow',
      components: ['api'],
      body: 'Looking',
      by: 'alice',
    });
    now = hours(1);
    await comms.incidents.update(incident.id, { body: 'Fixed', by: 'alice', state: 'resolved' });
    await comms.incidents.update(kept.id, {
      body: 'Root cause: a full disk',
      by: 'alice',
      state: 'resolved',
    });
    const promises = async () =>
      (await comms.outbox.list())
        .filter((e) => e.message.event.startsWith('promise-'))
        .map((e) => [
          e.message.incident,
          e.message.event,
          e.message.recipients.map((r) => r.id),
          e.message.subject,
        ])
        .reverse();

    for (const at of [0.2, 47.9]) {
      now = hours(at);
      await comms.tick();
    }
    expect(await promises()).toEqual([]);
    for (const at of [48.1, 60, 72.1, 80]) {
      now = hours(at);
      await comms.tick();
    }
    expect(await promises()).toEqual([
      [
        incident.id,
        'promise-reminder',
        ['alice'],
        'API down: the root cause published within 3d due 2026-12-09T12:00:00.000Z',
      ],
      [incident.id, 'promise-missed', ['alice'], 'API down: the root cause published within 3d missed'],
    ]);
    await comms.stop();
  });
});
