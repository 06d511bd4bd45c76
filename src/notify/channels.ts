/**
 * Delivering one message on one channel: a webhook (Slack, Microsoft Teams or Prometheus Alertmanager
 * JSON), e-mail through SMTP (nodemailer), or a command given the message as JSON on stdin (pagers).
 * Secrets (the SMTP password, a webhook URL with its token) are read from the environment at send time
 * and never appear in what is shown: `channelTarget` names a webhook by its origin only.
 */
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import { DrctlError } from '../errors.ts';
import type { MessageChannel } from '../plan/model.ts';

export interface Recipient {
  id: string;
  name: string;
  email: string | undefined;
  phone: string | undefined;
}

/** A rendered message: what is journaled, shown in the console and sent. */
export interface Message {
  /** Stable: the same moment of the same run makes the same id, so it is sent once. */
  id: string;
  event: string;
  channel: string;
  subject: string;
  body: string;
  recipients: Recipient[];
  /** E-mail addresses (recipients', the template's and the channel's). */
  addresses: string[];
  workload: string | undefined;
  run: string | undefined;
  incident: string | undefined;
  /** The console link, when there is one. */
  link: string | undefined;
  /** Whether it reports a problem that is over (Alertmanager's resolved). */
  resolved: boolean;
  createdAt: string;
}

export interface DeliveryContext {
  env: NodeJS.ProcessEnv;
  /** Where a command channel runs. */
  cwd: string;
}

/** What a channel points at, safe to show: a webhook's origin (its path and query may hold a token). */
export function channelTarget(channel: MessageChannel, env: NodeJS.ProcessEnv = process.env): string {
  if (channel.type === 'webhook') {
    const url = channel.url ?? (channel.urlEnv === undefined ? undefined : env[channel.urlEnv]);
    if (url === undefined) return `$${channel.urlEnv ?? '?'} (not set)`;
    try {
      const parsed = new URL(url);
      return `${parsed.origin}/…`;
    } catch {
      return 'an invalid URL';
    }
  }
  if (channel.type === 'email') return `smtp://${channel.host ?? '?'}:${channel.port}`;
  return (channel.command ?? '').split(/\s+/)[0] ?? '';
}

/** The secret values a channel uses, by name, for redaction. */
export function channelSecrets(channel: MessageChannel, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  const url = channel.url ?? (channel.urlEnv === undefined ? undefined : env[channel.urlEnv]);
  if (channel.type === 'webhook' && url !== undefined) {
    secrets[`${channel.id}.url`] = url;
    try {
      const parsed = new URL(url);
      const tail = `${parsed.pathname}${parsed.search}`;
      if (tail.length > 1) secrets[`${channel.id}.url`] = tail;
    } catch {
      // an unparsable URL is redacted whole
    }
  }
  if (channel.passwordEnv !== undefined) {
    const password = env[channel.passwordEnv];
    if (password !== undefined && password !== '') secrets[channel.passwordEnv] = password;
  }
  return secrets;
}

function failed(channel: MessageChannel, message: string, cause?: unknown): DrctlError {
  return new DrctlError('DRCTL_NOTIFY_DELIVERY', `channel ${channel.id} (${channel.type}): ${message}`, {
    hint: 'the message is retried with backoff; see GET /api/v1/messages and drctl_messages_total',
    ...(cause === undefined ? {} : { cause }),
  });
}

export function webhookBody(channel: MessageChannel, message: Message): unknown {
  const to = message.recipients.map((r) => r.name).join(', ');
  const text = `${message.body}${to ? `\nFor: ${to}` : ''}${message.link ? `\n${message.link}` : ''}`;
  if (channel.shape === 'teams')
    return {
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: message.subject,
      title: message.subject,
      text: text.replace(/\n/g, '\n\n'),
      ...(message.link
        ? {
            potentialAction: [
              { '@type': 'OpenUri', name: 'Open in drctl', targets: [{ os: 'default', uri: message.link }] },
            ],
          }
        : {}),
    };
  if (channel.shape === 'alertmanager') {
    const status = message.resolved ? 'resolved' : 'firing';
    const labels = {
      alertname: `drctl_${message.event.replace(/-/g, '_')}`,
      severity: message.resolved ? 'info' : 'critical',
      ...(message.workload === undefined ? {} : { workload: message.workload }),
      ...(message.run === undefined ? {} : { run: message.run }),
    };
    const annotations = { summary: message.subject, description: text };
    return {
      version: '4',
      status,
      receiver: channel.id,
      groupKey: message.run ?? message.incident ?? message.id,
      truncatedAlerts: 0,
      groupLabels: { alertname: labels.alertname },
      commonLabels: labels,
      commonAnnotations: annotations,
      externalURL: message.link ?? '',
      alerts: [
        {
          status,
          labels,
          annotations,
          startsAt: message.createdAt,
          endsAt: message.resolved ? message.createdAt : '0001-01-01T00:00:00Z',
          generatorURL: message.link ?? '',
          fingerprint: message.id,
        },
      ],
    };
  }
  return { text: `*${message.subject}*\n${text}` };
}

export async function deliver(
  channel: MessageChannel,
  message: Message,
  context: DeliveryContext,
): Promise<void> {
  const signal = AbortSignal.timeout(channel.timeoutMs);
  if (channel.type === 'webhook') {
    const url = channel.url ?? (channel.urlEnv === undefined ? undefined : context.env[channel.urlEnv]);
    if (url === undefined || url === '')
      throw failed(channel, `the environment variable ${channel.urlEnv} holding its URL is not set`);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhookBody(channel, message)),
        signal,
      });
    } catch (error) {
      const reason = signal.aborted ? `no answer within ${channel.timeoutMs}ms` : describe(error);
      throw failed(channel, reason, error);
    }
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw failed(channel, `the webhook answered HTTP ${response.status}`);
    return;
  }
  if (channel.type === 'email') {
    if (message.addresses.length === 0) throw failed(channel, 'the message has no recipient address');
    const password = channel.passwordEnv === undefined ? undefined : context.env[channel.passwordEnv];
    if (channel.user !== undefined && (password === undefined || password === ''))
      throw failed(channel, `the environment variable ${channel.passwordEnv ?? '(password_env)'} is not set`);
    const transport = nodemailer.createTransport({
      host: channel.host,
      port: channel.port,
      secure: channel.secure,
      ...(channel.user === undefined ? {} : { auth: { user: channel.user, pass: password } }),
      connectionTimeout: channel.timeoutMs,
      greetingTimeout: channel.timeoutMs,
      socketTimeout: channel.timeoutMs,
    });
    try {
      await transport.sendMail({
        from: channel.from,
        to: message.addresses,
        subject: message.subject,
        text: `${message.body}${message.link ? `\n\n${message.link}` : ''}`,
      });
    } catch (error) {
      throw failed(channel, describe(error), error);
    } finally {
      transport.close();
    }
    return;
  }
  await runCommand(channel, message, context, signal);
}

function runCommand(
  channel: MessageChannel,
  message: Message,
  context: DeliveryContext,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', channel.command ?? 'false'], {
      cwd: context.cwd,
      env: context.env,
      stdio: ['pipe', 'ignore', 'pipe'],
      signal,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2_000) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(message));
    child.on('error', (error) =>
      reject(
        failed(channel, signal.aborted ? `no exit within ${channel.timeoutMs}ms` : describe(error), error),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          failed(
            channel,
            `the command exited ${code ?? 'on a signal'}${stderr ? `: ${stderr.trim().slice(0, 300)}` : ''}`,
          ),
        );
    });
  });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return `${error.message}${detail}`;
}
