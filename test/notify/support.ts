/** Real receivers for the communications tests: an SMTP server (smtp-server) and a webhook (node:http). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  at: number;
}

export interface MailReceiver {
  port: number;
  mails: ReceivedMail[];
  /** The user and password every successful login used. */
  logins: Array<{ user: string; password: string }>;
  close(): Promise<void>;
}

export async function startSmtp(password: string): Promise<MailReceiver> {
  const mails: ReceivedMail[] = [];
  const logins: MailReceiver['logins'] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.password !== password) return callback(new Error('bad password'));
      logins.push({ user: auth.username ?? '', password: auth.password ?? '' });
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          subject: /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '',
          at: Date.now(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, logins, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export interface HookRequest {
  path: string;
  body: Record<string, unknown>;
  status: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: HookRequest[];
  /** Answer 500 to this many requests first (of those `failWhen` picks). */
  failFirst: number;
  failWhen: (body: Record<string, unknown>) => boolean;
  close(): Promise<void>;
}

export async function startWebhook(
  failFirst = 0,
  failWhen: WebhookReceiver['failWhen'] = () => true,
): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    requests: [],
    failFirst,
    failWhen,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      const fail = receiver.failFirst > 0 && receiver.failWhen(body);
      if (fail) receiver.failFirst -= 1;
      const status = fail ? 500 : 200;
      receiver.requests.push({
        path: req.url ?? '',
        body,
        status,
        at: Date.now(),
      });
      res.writeHead(status).end(status === 200 ? 'ok' : 'down');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** Polls until `check` holds, or fails with what `describe` says after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | false,
  ms = 5_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
