/** Communications: channels, the events templates are sent on, and the update cadence. */
import { z } from 'zod';
import { Id, Duration, Interval, Count, Port } from './values.ts';

export const CHANNEL_TYPES = ['webhook', 'email', 'command'] as const;
export const WEBHOOK_SHAPES = ['slack', 'teams', 'alertmanager'] as const;
/** Events a template can be sent on; docs/communications.md says when each fires. */
export const MESSAGE_EVENTS = [
  'activation',
  'run-started',
  'update',
  'step-failed',
  'approval-waiting',
  'escalation',
  'degraded',
  'recovered',
  'run-failed',
  'run-ended',
  'test',
  'readiness-broken',
  'readiness-reminder',
  'readiness-resolved',
  'promise-reminder',
  'promise-missed',
] as const;

export const ChannelRetry = z.strictObject({
  attempts: Count(1, 100).optional().describe('Deliveries tried before the message is failed. @default 5'),
  backoff: Duration.optional().describe('Wait before the first retry; doubled each time. @default 2s'),
  max_backoff: Duration.optional().describe('@default 5m'),
});

export const Channel = z.strictObject({
  id: Id,
  type: z.enum(CHANNEL_TYPES),
  description: z.string().optional(),
  shape: z
    .enum(WEBHOOK_SHAPES)
    .optional()
    .describe('JSON body of a webhook: Slack, Microsoft Teams or Prometheus Alertmanager. @default slack'),
  url: z.string().optional().describe('Webhook URL. Keep tokens out of the plan with url_env.'),
  url_env: z
    .string()
    .optional()
    .describe('Environment variable holding the webhook URL (it carries a token).'),
  host: z.string().optional().describe('SMTP host (email).'),
  port: Port.optional().describe('SMTP port. @default 587'),
  secure: z.boolean().optional().describe('TLS from the first byte (SMTPS). @default true on port 465'),
  user: z.string().optional().describe('SMTP user name.'),
  password_env: z.string().optional().describe('Environment variable holding the SMTP password.'),
  from: z.string().optional().describe('Sender address (email).'),
  to: z.array(z.string()).optional().describe('Addresses every message on this channel also goes to.'),
  command: z.string().optional().describe('Program run with the message as JSON on stdin (command).'),
  timeout: Interval.optional().describe('One delivery attempt gives up after this long. @default 10s'),
  retry: ChannelRetry.optional(),
  test: z
    .boolean()
    .optional()
    .describe(
      "A channel for drills: a drill that is not announced sends its messages only to test channels, never to people's usual channels or the status page. @default false",
    ),
});

export const Communications = z.strictObject({
  cadence: z
    .strictObject({
      status_page_within: Duration.optional().describe('@default 15m'),
      updates_every: Interval.optional().describe('@default 30m'),
      root_cause_within: Duration.optional().describe('@default 72h'),
    })
    .optional(),
  console_url: z
    .string()
    .optional()
    .describe('Base URL of the drctl console, for links in messages. @default http://127.0.0.1:7400'),
  channels: z.array(Channel).optional().describe('Where messages go: webhooks, e-mail, commands.'),
  templates: z
    .array(
      z.strictObject({
        id: Id,
        on: z.enum(MESSAGE_EVENTS).describe('When it is sent (docs/communications.md).'),
        channel: Id.describe('A channel id from communications.channels, or status-page.'),
        to: z.array(z.string()).optional(),
        subject: z.string().optional(),
        body: z
          .string()
          .describe('Text with {{field}} placeholders (docs/communications.md lists the fields).'),
      }),
    )
    .optional(),
});
