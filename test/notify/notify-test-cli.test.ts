// `drctl notify test` against real receivers: a webhook on a local socket, a local SMTP server and a
// command that fails. Exit 0 when the channel took the message, 1 with a code when it did not.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { MESSAGES_STREAM } from '../../src/notify/index.ts';
import { openStore } from '../../src/store/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';
import { startSmtp, startWebhook } from './support.ts';
import type { MailReceiver, WebhookReceiver } from './support.ts';

const TOKEN = 'XOXB-notify-test-7a6b5c';
const PASSWORD = 'notify-test-smtp-pw-91';

describe('drctl notify test', () => {
  let ok: WebhookReceiver;
  let flaky: WebhookReceiver;
  let smtp: MailReceiver;
  let plan: string;
  let state: string;

  beforeAll(async () => {
    ok = await startWebhook();
    flaky = await startWebhook(2);
    smtp = await startSmtp(PASSWORD);
    process.env.NOTIFY_TEST_SMTP_PASSWORD = PASSWORD;
    const dir = tempDir();
    plan = join(dir, 'plan.yaml');
    state = join(dir, 'state');
    writeFileSync(
      plan,
      stringify({
        version: 1,
        name: 'notify test',
        sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
        contacts: [{ id: 'alice', name: 'Alice Ng', email: 'alice@example.com' }],
        communications: {
          channels: [
            { id: 'chat', type: 'webhook', url: `${ok.url}/hooks/${TOKEN}` },
            { id: 'teams', type: 'webhook', shape: 'teams', url: `${ok.url}/teams/${TOKEN}` },
            {
              id: 'flaky',
              type: 'webhook',
              url: `${flaky.url}/hooks/${TOKEN}`,
              retry: { attempts: 3, backoff: '20ms' },
            },
            {
              id: 'mail',
              type: 'email',
              host: '127.0.0.1',
              port: smtp.port,
              from: 'drctl@example.com',
              user: 'drctl',
              password_env: 'NOTIFY_TEST_SMTP_PASSWORD',
            },
            { id: 'pager', type: 'command', command: 'cat >/dev/null; echo pager is down >&2; exit 1' },
          ],
          templates: [
            {
              id: 'ping',
              on: 'test',
              channel: 'teams',
              subject: 'Ping from {{plan}}',
              body: 'Channel check at {{sent_at}}',
            },
          ],
        },
        workloads: [
          {
            id: 'shop',
            tier: 2,
            strategy: 'cold-standby',
            owner: 'alice',
            components: [{ id: 'db', kind: 'database' }],
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await ok?.close();
    await flaky?.close();
    await smtp?.close();
  });

  it('delivers a test message to a webhook, exits 0 and journals the attempt without the URL token', async () => {
    const result = await runCli('notify', 'test', plan, '--channel', 'chat', '--state', state);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      new RegExp(`^sent a test message on chat \\(webhook, ${ok.url}/…\\) in 1 attempt, \\d+ ms\\n$`),
    );
    const request = ok.requests.find((r) => r.path === `/hooks/${TOKEN}`);
    expect(request?.body.text).toBe(
      '*drctl test message for notify test*\nThis is a test of channel chat of plan notify test. Nothing is wrong.',
    );
    const store = await openStore(state);
    const journal = await store.readEvents(MESSAGES_STREAM).finally(() => store.close());
    expect(journal.map((e) => [e.type, e.data.channel, e.data.event])).toContainEqual([
      'message-sent',
      'chat',
      'test',
    ]);
    expect(JSON.stringify(journal)).not.toContain(TOKEN);
  });

  it("answers one JSON document with --json, rendering the plan's test template in the channel's shape (Teams)", async () => {
    const result = await runCli('notify', 'test', plan, '--channel', 'teams', '--state', state, '--json');
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({
      channel: 'teams',
      type: 'webhook',
      target: `${ok.url}/…`,
      status: 'sent',
      attempts: 1,
      subject: 'Ping from notify test',
    });
    const request = ok.requests.find((r) => r.path === `/teams/${TOKEN}`);
    expect(request?.body).toMatchObject({ '@type': 'MessageCard', title: 'Ping from notify test' });
    expect(String(request?.body.text)).toMatch(/^Channel check at \d{4}-\d\d-\d\dT/);
  });

  it('fails with DRCTL_NOTIFY_TEST_FAILED and exit 1 when the webhook answers 500, trying once by default', async () => {
    flaky.failFirst = 2;
    const before = flaky.requests.length;
    const result = await runCli('notify', 'test', plan, '--channel', 'flaky', '--state', state, '--json');
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('DRCTL_NOTIFY_TEST_FAILED');
    expect(error.message).toContain(
      'after 1 attempt: channel flaky (webhook): the webhook answered HTTP 500',
    );
    expect(flaky.requests.length - before).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it("follows the channel's retry policy with --retry: two 500s, then taken on the third attempt", async () => {
    flaky.failFirst = 2;
    const before = flaky.requests.length;
    const result = await runCli(
      'notify',
      'test',
      plan,
      '--channel',
      'flaky',
      '--retry',
      '--state',
      state,
      '--json',
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'sent', attempts: 3 });
    expect(flaky.requests.slice(before).map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('mails the test through a real SMTP server with the password from the environment, never printing it', async () => {
    const result = await runCli(
      'notify',
      'test',
      plan,
      '--channel',
      'mail',
      '--to',
      'ops@example.com',
      '--state',
      state,
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`sent a test message on mail (email, smtp://127.0.0.1:${smtp.port})`);
    const mail = smtp.mails.find((m) => m.subject === 'drctl test message for notify test');
    expect(mail?.to).toEqual(['ops@example.com']);
    expect(smtp.logins).toContainEqual({ user: 'drctl', password: PASSWORD });
    expect(result.stdout).not.toContain(PASSWORD);
  });

  it('tells to pass --to when an e-mail channel has nobody to send the test to', async () => {
    const result = await runCli('notify', 'test', plan, '--channel', 'mail', '--state', state);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DRCTL_NOTIFY_TEST_FAILED');
    expect(result.stderr).toContain('the message has no recipient address');
    expect(result.stderr).toContain('hint: give the test an address with --to');
  });

  it('reports a pager command that exits 1 with its stderr, exit 1', async () => {
    const result = await runCli('notify', 'test', plan, '--channel', 'pager', '--state', state);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'DRCTL_NOTIFY_TEST_FAILED channel pager (command, cat) did not take the test message after 1 attempt',
    );
    expect(result.stderr).toContain('the command exited 1: pager is down');
  });

  it('refuses a channel id the plan does not have with DRCTL_NOTIFY_UNKNOWN_CHANNEL, listing its channels', async () => {
    const result = await runCli('notify', 'test', plan, '--channel', 'slack', '--state', state);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'DRCTL_NOTIFY_UNKNOWN_CHANNEL plan notify test has no channel slack\n  hint: its channels: chat, teams, flaky, mail, pager\n',
    );
  });
});
