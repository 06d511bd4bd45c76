// Communications against real receivers: an SMTP server and a webhook, a real engine driving a real run on
// a SQLite store. The graph decides who is told; a failing webhook is retried and never holds the run up.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Engine, approveStep } from '../../src/engine/index.ts';
import { Communications, MESSAGES_STREAM } from '../../src/notify/index.ts';
import type { OutboxEntry } from '../../src/notify/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { runIncidentId } from '../../src/status/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually, startSmtp, startWebhook } from './support.ts';
import type { MailReceiver, WebhookReceiver } from './support.ts';

const PASSWORD = 'smtp-pass-5up3r-s3cret';
const TOKEN = 'T0KEN-9f8e7d6c5b4a';

function planYaml(webhook: string, smtpPort: number): Record<string, unknown> {
  return {
    version: 1,
    name: 'comms test',
    sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
    contacts: [
      { id: 'alice', name: 'Alice Ng', email: 'alice@example.com', backup: 'bob', escalation: ['carol'] },
      { id: 'bob', name: 'Bob Li', email: 'bob@example.com' },
      { id: 'carol', name: 'Carol Diaz', email: 'carol@example.com' },
      { id: 'dave', name: 'Dave Ora', email: 'dave@example.com' },
      { id: 'erin', name: 'Erin Unrelated', email: 'erin@example.com' },
    ],
    secrets: { env: ['COMMS_TEST_SMTP_PASSWORD'] },
    communications: {
      cadence: { updates_every: '700ms' },
      channels: [
        {
          id: 'chat',
          type: 'webhook',
          shape: 'slack',
          url: `${webhook}/hooks/${TOKEN}`,
          retry: { attempts: 4, backoff: '50ms' },
        },
        {
          id: 'mail',
          type: 'email',
          host: '127.0.0.1',
          port: smtpPort,
          from: 'drctl@example.com',
          user: 'drctl',
          password_env: 'COMMS_TEST_SMTP_PASSWORD',
          retry: { attempts: 3, backoff: '50ms' },
        },
      ],
      templates: [
        {
          id: 'declared',
          on: 'activation',
          channel: 'mail',
          subject: 'DR declared for {{workload_name}}',
          body: 'Failing over {{workload_name}} (run {{run}}). Affected: {{flows}}. ETA {{eta}}.',
        },
        { id: 'declared-chat', on: 'activation', channel: 'chat', body: 'DR declared: {{flows}}' },
      ],
    },
    workloads: [
      {
        id: 'shop',
        name: 'Shop',
        tier: 1,
        strategy: 'warm-standby',
        owner: 'alice',
        flows: [
          { name: 'Browse', users: 'customers', impact: 'no sales', survives: ['db'] },
          { name: 'Order', users: 'customers', impact: 'lost revenue' },
        ],
        components: [
          { id: 'db', kind: 'database' },
          { id: 'api', kind: 'http-service', depends_on: ['db'] },
        ],
        runbooks: {
          failover: {
            steps: [
              { id: 'promote', validate: [{ run: 'true', component: 'db' }], expected: '100ms' },
              {
                id: 'sign-off',
                needs: ['promote'],
                approval: { by: ['carol'] },
                expected: '300ms',
                escalate_to: 'alice',
              },
            ],
          },
        },
      },
      {
        id: 'billing',
        tier: 2,
        strategy: 'backup-restore',
        owner: 'dave',
        flows: [{ name: 'Invoices', users: 'finance', impact: 'late invoices' }],
        components: [{ id: 'ledger', kind: 'service', depends_on: ['db'] }],
      },
      {
        id: 'reports',
        tier: 3,
        strategy: 'backup-restore',
        owner: 'erin',
        flows: [{ name: 'Monthly report', users: 'board', impact: 'late report' }],
        components: [{ id: 'warehouse', kind: 'database' }],
      },
    ],
  };
}

describe('communications of a failover run', () => {
  let smtp: MailReceiver;
  let hook: WebhookReceiver;
  let store: RunStore;
  let plan: Plan;
  let comms: Communications;
  let metrics: Registry;
  let runId: string;
  let done: Promise<unknown>;
  let engine: Engine;
  const startedAt = Date.now();

  beforeAll(async () => {
    process.env.COMMS_TEST_SMTP_PASSWORD = PASSWORD;
    smtp = await startSmtp(PASSWORD);
    // the declaration to chat fails twice before it is taken
    hook = await startWebhook(2, (body) => String(body.text).includes('DR declared'));
    const dir = tempDir();
    const file = join(dir, 'plan.yaml');
    writeFileSync(file, stringify(planYaml(hook.url, smtp.port)));
    plan = await loadPlan(file);
    store = await openStore(join(dir, 'state'));
    metrics = new Registry();
    comms = new Communications({ store, plans: () => [plan], metrics, tickMs: 50 });
    comms.start();
    engine = new Engine({
      store,
      providers,
      stateDir: join(dir, 'state'),
      hooks: [comms.hooks],
      pollMs: 20,
    });
    const driver = await engine.start({ plan, runbook: 'failover', workload: 'shop', startedBy: 'tester' });
    runId = driver.runId;
    done = driver.done;
  });

  afterAll(async () => {
    await comms?.stop();
    await store?.close();
    await smtp?.close();
    await hook?.close();
  });

  it('mails the declaration to the people of every workload the graph says is affected, and nobody else', async () => {
    const mail = await eventually(
      () => smtp.mails.find((m) => m.subject === 'DR declared for Shop'),
      5_000,
      'the declaration',
    );
    // alice owns shop; dave owns billing, whose ledger depends on shop's db; erin's reports depend on nothing lost
    expect(mail.to.sort()).toEqual(['alice@example.com', 'dave@example.com']);
    expect(mail.raw.replace(/=\r\n/g, '')).toContain(
      'Affected: Browse (degraded), Order (major outage), Invoices (major outage)',
    );
    expect(smtp.logins).toContainEqual({ user: 'drctl', password: PASSWORD });
  });

  it('retries a webhook that fails twice and delivers on the third attempt, journaling each attempt', async () => {
    const ok = await eventually(
      () => hook.requests.find((r) => r.status === 200 && String(r.body.text).includes('DR declared')),
      5_000,
      'the declaration on chat',
    );
    const declarations = hook.requests.filter((r) => String(r.body.text).includes('DR declared'));
    expect(declarations.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(ok.path).toBe(`/hooks/${TOKEN}`);
    // the receiver answers before the outbox journals the attempt
    let declared = (await store.readEvents(MESSAGES_STREAM)).filter((e) =>
      String(e.data.message).includes(':declared-chat:'),
    );
    for (let i = 0; i < 100 && !declared.some((e) => e.type === 'message-sent'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      declared = (await store.readEvents(MESSAGES_STREAM)).filter((e) =>
        String(e.data.message).includes(':declared-chat:'),
      );
    }
    expect(declared.map((e) => [e.type, e.data.attempt])).toEqual([
      ['message-retried', 1],
      ['message-retried', 2],
      ['message-sent', 3],
    ]);
    expect(declared[0]!.data.error).toContain('HTTP 500');
    const counted = await metrics.getSingleMetricAsString('drctl_messages_total');
    expect(counted).toContain('drctl_messages_total{channel="chat",outcome="retried"} 2');
  });

  it('escalates an approval waiting past its limit to escalate_to, then the backup, then the escalation list', async () => {
    const waits = await eventually(
      () => {
        const found = smtp.mails.filter((m) => m.subject.includes('waits for you'));
        return found.length >= 3 ? found : undefined;
      },
      8_000,
      'three escalations',
    );
    expect(waits.map((m) => m.to)).toEqual([
      ['alice@example.com'],
      ['bob@example.com'],
      ['carol@example.com'],
    ]);
    // made one limit (expected: 300ms) apart, in that order
    const made = (await comms.outbox.list({ limit: 500 }))
      .filter((e) => e.message.event === 'approval-waiting' && e.message.channel === 'mail')
      .map((e) => Date.parse(e.message.createdAt))
      .sort((a, b) => a - b);
    expect(made).toHaveLength(3);
    expect(made[1]! - made[0]!).toBeGreaterThanOrEqual(250);
    expect(made[2]! - made[1]!).toBeGreaterThanOrEqual(250);
  });

  it('sends an update on each cadence tick while the incident is open', async () => {
    const update = await eventually(
      () => hook.requests.find((r) => String(r.body.text).startsWith('*Update: Shop*')),
      5_000,
      'a cadence update',
    );
    expect(update.at - startedAt).toBeGreaterThanOrEqual(700);
    expect((await comms.incidents.get(runIncidentId(runId)))?.state).toBe('identified');
    // every field filled, and the run said to wait for its approval, not to be "running"
    expect(String(update.body.text)).toMatch(
      new RegExp(
        `^\\*Update: Shop\\*\\nShop: failover in progress\\. Run ${runId} is waiting for approval \\(sign-off\\); expected time left: \\d+ms\\. Affected: Browse \\(degraded\\), Order \\(major outage\\), Invoices \\(major outage\\)\\.`,
      ),
    );
  });

  it('moves the incident to monitoring once the approved run succeeds, and keeps every secret out', async () => {
    await approveStep(store, { runId, step: 'sign-off', by: 'carol' });
    await done;
    await eventually(
      () => smtp.mails.some((m) => m.subject === 'Shop recovered'),
      5_000,
      'the recovery mail',
    );
    expect((await comms.incidents.get(runIncidentId(runId)))?.state).toBe('monitoring');
    // the recovery was announced: no more "in progress" updates while the incident is monitored
    const recoveredAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const late = (await comms.outbox.list({ limit: 500 })).filter(
      (e) => e.message.event === 'update' && Date.parse(e.message.createdAt) > recoveredAt,
    );
    expect(late).toEqual([]);
    const outbox = (await store.listDocuments('outbox', { limit: 500 })).map(
      (d) => d.data as unknown as OutboxEntry,
    );
    const everything = JSON.stringify([outbox, await store.readEvents(MESSAGES_STREAM)]);
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(PASSWORD);
    expect(outbox.find((e) => e.message.channel === 'chat')?.target).toBe(`${hook.url}/…`);
  });

  it('marks every message of an announced drill as a drill', async () => {
    const drill = await engine.start({
      plan,
      runbook: 'failover',
      workload: 'shop',
      startedBy: 'drill',
      trigger: { automatic: true, reason: 'drill', drill: { scenario: 'east-lost', announce: true } },
    });
    const declared = await eventually(
      () => smtp.mails.find((m) => m.subject === '[DRILL] DR declared for Shop'),
      5_000,
      'the drill declaration',
    );
    expect(declared.raw.replace(/=\r\n/g, '')).toContain(
      'This is a drill (scenario east-lost), not a real incident. Failing over Shop',
    );
    expect((await comms.incidents.get(runIncidentId(drill.runId)))?.title).toBe(
      'Shop: failover drill in progress',
    );
    await approveStep(store, { runId: drill.runId, step: 'sign-off', by: 'carol' });
    await drill.done;
    const sent = (await comms.outbox.list({ limit: 500 })).filter((e) => e.message.run === drill.runId);
    expect(sent.length).toBeGreaterThan(0);
    for (const entry of sent) expect(entry.message.subject).toMatch(/^\[DRILL\] /);
  });
});
