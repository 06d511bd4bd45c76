/**
 * Communications during a disaster: the update cadence, the channels messages go out on (each type
 * with what it needs) and the templates, whose channel must exist and whose {{fields}} messages have.
 */
import type { SourceLocation } from '../errors.ts';
import { CADENCE_DEFAULTS, CHANNEL_DEFAULTS, CONSOLE_URL_DEFAULT } from './defaults.ts';
import type { MessageChannel, Plan } from './model.ts';
import type { ChannelInput } from './schema.ts';
import { MESSAGE_FIELDS, STATUS_PAGE_CHANNEL } from './terms.ts';
import { closest } from './closest.ts';
import { locateText, type PathSegment } from './source.ts';
import {
  duplicates,
  optMs,
  reportUnknown,
  type CompileContext,
  type LoadedFile,
  type Locator,
  type Report,
} from './compile-context.ts';

/** A {{field}} placeholder in a template; spaces inside the braces are allowed. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

export function compileCommunications(ctx: CompileContext): Plan['communications'] {
  const { report } = ctx;
  const section = ctx.single('communications');
  const cadence = section?.value.cadence;
  const cat = (...p: PathSegment[]): SourceLocation => ctx.at(section!.file, 'communications', ...p);
  const channels = (section?.value.channels ?? []).map((c, i) =>
    compileChannel(c, (...p) => cat('channels', i, ...p), report),
  );
  duplicates(channels, 'channel', report);
  const communications: Plan['communications'] = {
    statusPageWithinMs: optMs(cadence?.status_page_within) ?? CADENCE_DEFAULTS.statusPageWithinMs,
    updatesEveryMs: optMs(cadence?.updates_every) ?? CADENCE_DEFAULTS.updatesEveryMs,
    rootCauseWithinMs: optMs(cadence?.root_cause_within) ?? CADENCE_DEFAULTS.rootCauseWithinMs,
    consoleUrl: section?.value.console_url ?? CONSOLE_URL_DEFAULT,
    channels,
    templates: (section?.value.templates ?? []).map((t, i) => ({
      id: t.id,
      on: t.on,
      channel: t.channel,
      to: t.to ?? [],
      subject: t.subject,
      body: t.body,
      at: cat('templates', i),
    })),
  };
  duplicates(communications.templates, 'communication template', report);
  if (section !== undefined)
    checkTemplates(section.file, cat, channels, section.value.templates ?? [], report);
  return communications;
}

type TemplateInput = NonNullable<NonNullable<LoadedFile['input']['communications']>['templates']>[number];

/** A template's channel exists, and the {{fields}} of its subject and body are fields messages have. */
function checkTemplates(
  file: LoadedFile,
  cat: Locator,
  channels: MessageChannel[],
  templates: TemplateInput[],
  report: Report,
): void {
  const channelIds = [...channels.map((c) => c.id), STATUS_PAGE_CHANNEL];
  for (const [i, template] of templates.entries()) {
    if (!channelIds.includes(template.channel))
      reportUnknown(
        'channel',
        template.channel,
        channelIds,
        cat('templates', i, 'channel'),
        `template ${template.id}`,
        report,
      );
    for (const key of ['subject', 'body'] as const) {
      const text = template[key];
      if (text === undefined) continue;
      for (const match of text.matchAll(PLACEHOLDER)) {
        const field = match[1]!;
        if (Object.hasOwn(MESSAGE_FIELDS, field)) continue;
        // {{timestamp}} read as "data current to" during a disaster, a false statement: it was the send time
        const suggestion =
          field === 'timestamp' ? 'sent_at}} or {{data_as_of' : closest(field, Object.keys(MESSAGE_FIELDS));
        report(
          'DRCTL_PLAN_TEMPLATE_FIELD',
          `template ${template.id} names the field {{${field}}}, which messages do not have${suggestion ? `; did you mean {{${suggestion}}}?` : ''}`,
          locateText(file.source, ['communications', 'templates', i, key], match[0]),
          `use one of: ${Object.keys(MESSAGE_FIELDS).join(', ')} (docs/communications.md)`,
        );
      }
    }
  }
}

/** What each channel type needs: a webhook a URL, an e-mail a host and a sender, a command its program. */
function compileChannel(input: ChannelInput, at: Locator, report: Report): MessageChannel {
  const need = (ok: boolean, what: string, key: string, hint: string): void => {
    if (!ok) report('DRCTL_PLAN_CHANNEL', `channel ${input.id} (${input.type}) needs ${what}`, at(key), hint);
  };
  if (input.type === 'webhook')
    need(
      (input.url === undefined) !== (input.url_env === undefined),
      'exactly one of url or url_env',
      'type',
      'write url: http://127.0.0.1:9000/hook, or url_env: NAME to keep a token out of the plan',
    );
  if (input.type === 'email') {
    need(input.host !== undefined, 'a host', 'type', 'write host: 127.0.0.1 (the SMTP server)');
    need(input.from !== undefined, 'a from address', 'type', 'write from: drctl@example.com');
  }
  if (input.type === 'command')
    need(input.command !== undefined, 'a command', 'type', 'write command: ./page-on-call.sh');
  const port = input.port ?? CHANNEL_DEFAULTS.smtpPort;
  return {
    id: input.id,
    type: input.type,
    description: input.description,
    shape: input.shape ?? 'slack',
    url: input.url,
    urlEnv: input.url_env,
    host: input.host,
    port,
    secure: input.secure ?? port === 465,
    user: input.user,
    passwordEnv: input.password_env,
    from: input.from,
    to: input.to ?? [],
    command: input.command,
    timeoutMs: optMs(input.timeout) ?? CHANNEL_DEFAULTS.timeoutMs,
    retry: {
      attempts: input.retry?.attempts ?? CHANNEL_DEFAULTS.attempts,
      backoffMs: optMs(input.retry?.backoff) ?? CHANNEL_DEFAULTS.backoffMs,
      maxBackoffMs: optMs(input.retry?.max_backoff) ?? CHANNEL_DEFAULTS.maxBackoffMs,
    },
    test: input.test ?? false,
    at: at(),
  };
}
