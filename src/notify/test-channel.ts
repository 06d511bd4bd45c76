/**
 * Testing one channel before a disaster (`drctl notify test`): a test message goes through the same
 * outbox as every other message (rendered, redacted, journaled in `messages`), and the caller waits until
 * the channel took it or gave up. One attempt unless asked to follow the channel's retry policy.
 */
import { DrctlError } from '../errors.ts';
import type { ChannelType, Plan } from '../plan/model.ts';
import type { RunStore } from '../store/store.ts';
import { Communications } from './communications.ts';
import { OUTBOX_COLLECTION, type OutboxEntry } from './outbox.ts';

export interface ChannelTestOptions {
  store: RunStore;
  /** E-mail addresses the test also goes to. @default [] */
  to?: readonly string[];
  /** Follow the channel's `retry` (attempts, backoff); else one attempt. @default false */
  retry?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface ChannelTestResult {
  channel: string;
  type: ChannelType;
  /** What the channel points at, safe to show (a webhook's origin only). */
  target: string;
  status: 'sent';
  attempts: number;
  message: string;
  subject: string;
  /** From queuing to the channel taking it. */
  ms: number;
}

export async function testChannel(
  plan: Plan,
  channelId: string,
  options: ChannelTestOptions,
): Promise<ChannelTestResult> {
  const channel = plan.communications.channels.find((c) => c.id === channelId);
  if (channel === undefined) {
    const ids = plan.communications.channels.map((c) => c.id);
    throw new DrctlError('DRCTL_NOTIFY_UNKNOWN_CHANNEL', `plan ${plan.name} has no channel ${channelId}`, {
      hint:
        ids.length > 0
          ? `its channels: ${ids.join(', ')}`
          : 'add one under communications.channels (docs/communications.md)',
    });
  }
  const tried: Plan = options.retry
    ? plan
    : {
        ...plan,
        communications: {
          ...plan.communications,
          channels: plan.communications.channels.map((c) =>
            c.id === channelId ? { ...c, retry: { ...c.retry, attempts: 1 } } : c,
          ),
        },
      };
  const comms = new Communications({
    store: options.store,
    plans: () => [tried],
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const started = performance.now();
  const message = await comms.sendTest(tried, channelId, { to: options.to ?? [] });
  for (;;) {
    await comms.outbox.deliverDue();
    const entry = (await options.store.getDocument(OUTBOX_COLLECTION, message.id))?.data as
      OutboxEntry | undefined;
    if (entry === undefined) throw new Error(`the test message ${message.id} left the outbox`);
    if (entry.status === 'sent')
      return {
        channel: channelId,
        type: channel.type,
        target: entry.target,
        status: 'sent',
        attempts: entry.attempts,
        message: message.id,
        subject: message.subject,
        ms: Math.round(performance.now() - started),
      };
    if (entry.status === 'failed')
      throw new DrctlError(
        'DRCTL_NOTIFY_TEST_FAILED',
        `channel ${channelId} (${channel.type}, ${entry.target}) did not take the test message after ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}: ${entry.lastError ?? 'no reason given'}`,
        {
          hint:
            channel.type === 'email' && entry.message.addresses.length === 0
              ? "give the test an address with --to, or set the channel's to:"
              : 'fix the receiver, then test again; the attempt is journaled in the messages stream',
          details: { channel: channelId, attempts: entry.attempts, target: entry.target },
        },
      );
    const wait = Math.max(0, Date.parse(entry.nextAttemptAt) - Date.now());
    await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 10), 60_000)));
  }
}
