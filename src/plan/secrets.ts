/**
 * Secrets a plan holds or names, and hiding them. A password written inline in a URL is a secret the plan
 * itself carries; the values of `secrets.env` and `secrets.file`, of every `*_env` variable and
 * `password_file`, and of every `${NAME}` drctl expands are secrets it names (read by
 * src/engine/redact.ts). A Redactor replaces both in everything drctl writes: documents, reports, the
 * journal, logs and `--json` answers.
 */
import type { SourceLocation } from '../errors.ts';
import type { Plan } from './model.ts';

/** Shorter values would redact ordinary words and numbers everywhere. */
const MIN_SECRET_LENGTH = 4;

/** `scheme://user:password@`: the password of any URL, wherever it is written. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*):([^\s@/?#]+)@/gi;
/** `?password=...` in a URL's query (libpq accepts it) or a `password=...` keyword connection string. */
const PASSWORD_PARAMETER = /(\b(?:password|passwd|pwd)=)([^&\s#'"]+)/gi;

/** The text with every URL password and password parameter replaced by `[redacted]`. */
export function redactCredentials(text: string): string {
  return text.replace(URL_PASSWORD, '$1:[redacted]@').replace(PASSWORD_PARAMETER, '$1[redacted]');
}

export class Redactor {
  readonly #secrets: Array<{ name: string; value: string }>;

  constructor(secrets: Record<string, string> = {}) {
    // longest first, so a secret containing another is replaced whole
    this.#secrets = Object.entries(secrets)
      .filter(([, value]) => value.length >= MIN_SECRET_LENGTH)
      .map(([name, value]) => ({ name, value }))
      .sort((a, b) => b.value.length - a.value.length);
  }

  get size(): number {
    return this.#secrets.length;
  }

  text(input: string): string {
    let output = redactCredentials(input);
    for (const { name, value } of this.#secrets) {
      if (output.includes(value)) output = output.split(value).join(`[redacted:${name}]`);
    }
    return output;
  }

  /** A deep copy of `value` with every secret replaced in strings and object keys. */
  value<T>(value: T): T {
    return this.#deep(value) as T;
  }

  #deep(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Date || ArrayBuffer.isView(value)) return value;
    if (Array.isArray(value)) return value.map((item) => this.#deep(item));
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        this.text(key),
        this.#deep(item),
      ]),
    );
  }
}

export interface InlineCredential {
  /** The password as written, and percent-decoded when that differs (clients print it decoded). */
  values: string[];
  /** The text it was written in, with the password redacted. */
  text: string;
  /** The nearest place in the plan the text belongs to. */
  at: SourceLocation;
}

/** Every password written inline in the plan: in a URL, or as a password parameter. */
export function inlineCredentials(plan: Plan): InlineCredential[] {
  const found = new Map<string, InlineCredential>();
  // the model shares objects between its parts (a component is also reachable from a step): visit once
  const seen = new WeakSet<object>();
  const visit = (value: unknown, at: SourceLocation): void => {
    if (typeof value === 'string') {
      const values = [
        ...[...value.matchAll(URL_PASSWORD)].map((m) => m[2]!),
        ...[...value.matchAll(PASSWORD_PARAMETER)].map((m) => m[2]!),
      ].flatMap((raw) => {
        const decoded = safeDecode(raw);
        return decoded === raw ? [raw] : [raw, decoded];
      });
      // the password may be written again elsewhere in the same text (`… || echo <password>`)
      const text = values.reduce(
        (hidden, secret) => hidden.split(secret).join('[redacted]'),
        redactCredentials(value),
      );
      const key = `${at.file}:${at.line}:${at.column} ${text}`;
      if (values.length > 0 && !found.has(key)) found.set(key, { values, text, at });
      return;
    }
    if (value === null || typeof value !== 'object' || value instanceof Date || seen.has(value)) return;
    seen.add(value);
    const own = (value as { at?: unknown }).at;
    const here = isLocation(own) ? own : at;
    for (const item of Array.isArray(value) ? value : Object.values(value)) visit(item, here);
  };
  visit(plan, plan.at);
  return [...found.values()];
}

/** The inline passwords as Redactor secrets, so one echoed on its own (by a shell step, say) is hidden too. */
export function inlineSecrets(plan: Plan): Record<string, string> {
  const secrets: Record<string, string> = {};
  const values = new Set(inlineCredentials(plan).flatMap((credential) => credential.values));
  for (const [index, value] of [...values].entries())
    secrets[index === 0 ? 'password' : `password-${index + 1}`] = value;
  return secrets;
}

/** `${NAME}`: a value drctl takes from its environment where the plan says so (a header, a URL). */
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface SecretReferences {
  /** Environment variables whose values are secret. */
  env: Set<string>;
  /** Files whose contents are secret, as written (relative to the plan's folder). */
  files: Set<string>;
}

/**
 * What the plan says holds a secret without holding it: every `*_env` field names a variable (a webhook
 * URL with its token, an SMTP or repository password), every `password_file` a file, and every `${NAME}`
 * a variable drctl expands into what it sends. Read from the compiled plan as data, whatever part of it
 * (a channel, a backup policy, a step's parameters) the field belongs to.
 */
export function secretReferences(plan: Plan): SecretReferences {
  const found: SecretReferences = { env: new Set(plan.secrets.env), files: new Set() };
  const seen = new WeakSet<object>();
  const visit = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (/(?:Env|_env)$/.test(key)) found.env.add(value);
      else if (/^password(?:File|_file)$/.test(key)) found.files.add(value);
      for (const match of value.matchAll(VARIABLE)) found.env.add(match[1]!);
      return;
    }
    if (value === null || typeof value !== 'object' || value instanceof Date || seen.has(value)) return;
    seen.add(value);
    for (const [name, item] of Object.entries(value)) visit(item, Array.isArray(value) ? key : name);
  };
  visit(plan, '');
  return found;
}

/** The missing variable's name, thrown by expandVariables. */
export class MissingVariable extends Error {
  override readonly name = 'MissingVariable';
  constructor(readonly variable: string) {
    super(`\${${variable}} is not set`);
  }
}

/** `text` with every `${NAME}` replaced by its value in `env`; throws MissingVariable for one not set. */
export function expandVariables(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(VARIABLE, (_, name: string) => {
    const value = env[name];
    if (value === undefined) throw new MissingVariable(name);
    return value;
  });
}

function isLocation(value: unknown): value is SourceLocation {
  return typeof value === 'object' && value !== null && 'file' in value && 'line' in value;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
