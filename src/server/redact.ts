/**
 * What the server answers never holds a secret: every plan secret's value is replaced (the engine's
 * Redactor), and so is the password of every URL (`postgres://app:secret@host` → `postgres://app:***@host`).
 */
import type { ServerContext } from './context.ts';

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)@/gi;

export function maskUrlPasswords(text: string): string {
  return text.includes('://') ? text.replace(URL_PASSWORD, '$1***@') : text;
}

function deepMask(value: unknown): unknown {
  if (typeof value === 'string') return maskUrlPasswords(value);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(deepMask);
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, deepMask(v)]),
  );
}

/** A copy of `value` safe to send: plan secrets and URL passwords replaced. */
export function redactAnswer<T>(ctx: Pick<ServerContext, 'plans'>, value: T): T {
  return deepMask(ctx.plans.redactor.value(value)) as T;
}

/** The same for text answers (rendered runbooks, SSE lines). */
export function redactText(ctx: Pick<ServerContext, 'plans'>, text: string): string {
  return maskUrlPasswords(ctx.plans.redactor.text(text));
}
