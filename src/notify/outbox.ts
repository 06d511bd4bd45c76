/**
 * The outbox: every message is a document (collection `outbox`, id = the message id, so a moment is sent
 * once however many processes see it) and every delivery attempt is journaled in the `messages` event
 * stream (sent, retried, failed). A channel that fails is retried with exponential backoff up to its
 * limit; delivery runs beside the run and never waits for it nor makes it wait.
 */
import type { Logger } from 'pino';
import type { Counter, Gauge, Registry } from 'prom-client';
import promClient from 'prom-client';
import { DrctlError, hasCode } from '../errors.ts';
import { Redactor } from '../engine/redact.ts';
import type { MessageChannel } from '../plan/model.ts';
import type { RunStore, StoredDocument } from '../store/store.ts';
import { channelSecrets, channelTarget, deliver, type Message } from './channels.ts';

export const OUTBOX_COLLECTION = 'outbox';
export const MESSAGES_STREAM = 'messages';

/** pending: waiting for its (next) attempt; sending: an attempt is under way; sent; failed: out of attempts. */
export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface OutboxEntry {
  message: Message;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | undefined;
  sentAt: string | undefined;
  /** What the channel points at, redacted (a webhook's origin). */
  target: string;
}

export interface OutboxOptions {
  store: RunStore;
  /** The channel a message names, from the plan it was made for. */
  channel(
    message: Message,
  ): { channel: MessageChannel; cwd: string; secrets: Record<string, string> } | undefined;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Where drctl_messages_total and drctl_channel_failing are registered. */
  metrics?: Registry;
  now?: () => Date;
}

interface Metrics {
  total: Counter<'channel' | 'outcome'>;
  failing: Gauge<'channel'>;
}

function metricsOn(registry: Registry | undefined): Metrics | undefined {
  if (registry === undefined) return undefined;
  const existing = registry.getSingleMetric('drctl_messages_total') as Metrics['total'] | undefined;
  const total =
    existing ??
    new promClient.Counter({
      name: 'drctl_messages_total',
      help: 'Message deliveries by channel and outcome (sent, retried, failed).',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    });
  const failing =
    (registry.getSingleMetric('drctl_channel_failing') as Metrics['failing'] | undefined) ??
    new promClient.Gauge({
      name: 'drctl_channel_failing',
      help: '1 while the last delivery on the channel failed, else 0.',
      labelNames: ['channel'] as const,
      registers: [registry],
    });
  return { total, failing };
}

export class Outbox {
  readonly #options: OutboxOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly #now: () => Date;
  readonly #metrics: Metrics | undefined;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#env = options.env ?? process.env;
    this.#now = options.now ?? (() => new Date());
    this.#metrics = metricsOn(options.metrics);
  }

  /** Queues a message; false when a message with its id was queued before (by any process). */
  async enqueue(message: Message): Promise<boolean> {
    const resolved = this.#options.channel(message);
    const entry: OutboxEntry = {
      message,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: this.#now().toISOString(),
      lastError: undefined,
      sentAt: undefined,
      target: resolved ? channelTarget(resolved.channel, this.#env) : 'unknown channel',
    };
    try {
      await this.#options.store.putDocument(OUTBOX_COLLECTION, message.id, toData(entry), {
        expectVersion: 0,
      });
      return true;
    } catch (error) {
      if (hasCode(error, 'DRCTL_STORE_CONFLICT')) return false;
      throw error;
    }
  }

  /** Newest first. */
  async list(options: { limit?: number } = {}): Promise<OutboxEntry[]> {
    const docs = await this.#options.store.listDocuments(OUTBOX_COLLECTION, { limit: options.limit ?? 100 });
    return docs.map((d) => d.data as unknown as OutboxEntry);
  }

  /**
   * Starts every due delivery (in parallel, each message once) and returns when they are done. A caller
   * that must not wait for a slow channel (the service's tick) does not await it.
   */
  async deliverDue(): Promise<void> {
    const now = this.#now();
    const docs = await this.#options.store.listDocuments(OUTBOX_COLLECTION, { limit: 200 });
    const started: Promise<void>[] = [];
    for (const doc of docs) {
      const entry = doc.data as unknown as OutboxEntry;
      if (this.#inFlight.has(doc.id)) {
        started.push(this.#inFlight.get(doc.id)!);
        continue;
      }
      if (entry.status !== 'pending' || new Date(entry.nextAttemptAt) > now) continue;
      const attempt = this.#attempt(doc, entry).finally(() => this.#inFlight.delete(doc.id));
      this.#inFlight.set(doc.id, attempt);
      started.push(attempt);
    }
    await Promise.all(started);
  }

  /** Resolves when no delivery is under way in this process. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #attempt(doc: StoredDocument, entry: OutboxEntry): Promise<void> {
    const { store } = this.#options;
    // claiming by version: another process that read the same pending entry loses the race
    let version: number;
    try {
      version = (
        await store.putDocument(OUTBOX_COLLECTION, doc.id, toData({ ...entry, status: 'sending' }), {
          expectVersion: doc.version,
        })
      ).version;
    } catch (error) {
      if (hasCode(error, 'DRCTL_STORE_CONFLICT')) return;
      throw error;
    }
    const message = entry.message;
    const resolved = this.#options.channel(message);
    const attempts = entry.attempts + 1;
    const redactor = new Redactor({
      ...(resolved?.secrets ?? {}),
      ...(resolved ? channelSecrets(resolved.channel, this.#env) : {}),
    });
    let error: string | undefined;
    try {
      if (resolved === undefined)
        throw new DrctlError('DRCTL_NOTIFY_UNKNOWN_CHANNEL', `the plan has no channel ${message.channel}`);
      await deliver(resolved.channel, message, { env: this.#env, cwd: resolved.cwd });
    } catch (caught) {
      error = redactor.text(caught instanceof Error ? caught.message : String(caught));
    }
    const retry = resolved?.channel.retry ?? { attempts: 1, backoffMs: 0, maxBackoffMs: 0 };
    const now = this.#now();
    const outcome = error === undefined ? 'sent' : attempts < retry.attempts ? 'retried' : 'failed';
    const backoffMs = Math.min(retry.backoffMs * 2 ** (attempts - 1), retry.maxBackoffMs);
    const next: OutboxEntry = {
      ...entry,
      status: outcome === 'sent' ? 'sent' : outcome === 'retried' ? 'pending' : 'failed',
      attempts,
      nextAttemptAt: new Date(now.getTime() + (outcome === 'retried' ? backoffMs : 0)).toISOString(),
      lastError: error,
      sentAt: outcome === 'sent' ? now.toISOString() : undefined,
    };
    await store.putDocument(OUTBOX_COLLECTION, doc.id, toData(next), { expectVersion: version });
    await store.appendEvent(MESSAGES_STREAM, {
      type: `message-${outcome}`,
      actor: 'drctl',
      data: toData({
        message: message.id,
        event: message.event,
        channel: message.channel,
        target: entry.target,
        attempt: attempts,
        subject: message.subject,
        recipients: message.recipients.map((r) => r.id),
        run: message.run,
        incident: message.incident,
        error,
        retryInMs: outcome === 'retried' ? backoffMs : undefined,
      }),
    });
    this.#metrics?.total.inc({ channel: message.channel, outcome });
    this.#metrics?.failing.set({ channel: message.channel }, error === undefined ? 0 : 1);
    const log = this.#options.logger;
    const fields = { message: message.id, channel: message.channel, attempt: attempts, target: entry.target };
    if (outcome === 'sent') log?.info(fields, 'message sent');
    else
      log?.warn(
        { ...fields, error },
        outcome === 'retried' ? 'message delivery failed; retrying' : 'message failed',
      );
  }
}

function toData(value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}
