/**
 * Communications: channels (webhook in the Slack, Teams or Alertmanager shape, e-mail over SMTP, a
 * command), the plan's templates rendered with a run's facts, the outbox that retries with backoff and
 * journals every attempt in the `messages` event stream, and the service that decides what is sent when
 * (docs/communications.md).
 */
export { Communications, READINESS_BREACHES } from './communications.ts';
export { escalationChain, reachableRecipients } from './recipients.ts';
export type { CommunicationsOptions, ReadinessSnapshot } from './communications.ts';
export { channelTarget, deliver, webhookBody } from './channels.ts';
export type { Message, Recipient } from './channels.ts';
export { MESSAGES_STREAM, OUTBOX_COLLECTION, Outbox } from './outbox.ts';
export type { OutboxEntry, OutboxStatus } from './outbox.ts';
export { renderTemplate } from './template.ts';
export { testChannel } from './test-channel.ts';
export type { ChannelTestOptions, ChannelTestResult } from './test-channel.ts';
