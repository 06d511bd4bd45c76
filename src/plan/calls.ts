/**
 * A plan's provider calls: `action: postgres.promote` with its `with:` is compiled once into a
 * `ProviderCall` (compile.ts, which also turns `run:` into a call of the shell provider). Free of zod, so
 * the engine can read calls without loading the schema.
 */
import type { ProviderCall } from './model.ts';

/** `provider.name` split at its first dot (no dot: an unknown provider, named as written). */
export function providerCall(ref: string, params: Record<string, unknown>): ProviderCall {
  const dot = ref.indexOf('.');
  return dot === -1
    ? { provider: '', name: ref, params }
    : { provider: ref.slice(0, dot), name: ref.slice(dot + 1), params };
}

/** `provider.name`, as people write it. */
export function callName(call: ProviderCall): string {
  return call.provider === '' ? call.name : `${call.provider}.${call.name}`;
}
