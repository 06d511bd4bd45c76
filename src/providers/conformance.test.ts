/**
 * The contract every registered provider keeps, checked on its declarations alone (no services run):
 * names and kinds that resolve to one provider, actions and checks with descriptions and strict
 * parameter schemas people get clear errors from, undo and preflight naming real actions, and the data
 * drills and verifications read (`drill`, `backup`) pointing at what exists. A new provider in
 * `providers/index.ts` is held to it without touching this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKUP_ENGINES } from '../plan/schema.ts';
import { findProvider, providerForKind, providers } from './index.ts';
import type { PreflightKind, ProviderAction, ProviderCheck } from './provider.ts';

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'providers');
const PREFLIGHT_KINDS: readonly PreflightKind[] = ['reachable', 'credentials', 'tool', 'capacity', 'people'];
const NAME = /^[a-z][a-z0-9-]*$/;
const NOT_A_PARAMETER = 'surely_not_a_parameter';

/** The top-level parameters of an object schema (what the plan error's hint lists). */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  return (schema as { shape?: Record<string, z.ZodType> }).shape;
}

describe('the provider registry', () => {
  it('names each provider once, and each component kind resolves to one provider', () => {
    const names = providers.map((provider) => provider.name);
    expect(new Set(names).size).toBe(names.length);
    const kinds = providers.flatMap((provider) => provider.kinds);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const provider of providers) {
      expect(findProvider(provider.name)).toBe(provider);
      for (const kind of provider.kinds) expect(providerForKind(kind)).toBe(provider);
    }
  });

  it('has a provider for every backup engine a plan may name other than drctl’s own', () => {
    for (const engine of BACKUP_ENGINES.filter((name) => name !== 'drctl'))
      expect(findProvider(engine)?.backup, engine).toBeDefined();
  });
});

describe.each(providers.map((provider) => [provider.name, provider] as const))(
  'provider %s',
  (name, provider) => {
    const calls: [string, ProviderAction | ProviderCheck][] = [
      ...Object.entries(provider.actions).map(
        ([n, a]) => [`action ${name}.${n}`, a] as [string, ProviderAction],
      ),
      ...Object.entries(provider.checks).map(
        ([n, c]) => [`check ${name}.${n}`, c] as [string, ProviderCheck],
      ),
    ];

    it('has a plan-friendly name, a description, kinds and at least one action or check', () => {
      expect(name).toMatch(NAME);
      expect(provider.description.trim().length).toBeGreaterThan(10);
      for (const kind of provider.kinds) expect(kind).toMatch(NAME);
      expect(calls.length).toBeGreaterThan(0);
      for (const [call] of calls) expect(call.split('.').at(-1)).toMatch(/^[a-z][a-z0-9_-]*$/);
    });

    it('documents itself in docs/providers, naming every action and check', () => {
      const page = join(DOCS, `${name}.md`);
      expect(existsSync(page), page).toBe(true);
      const text = readFileSync(page, 'utf8');
      for (const [call] of calls) {
        const short = call.split('.').at(-1)!;
        expect(text.includes(short), `${call} in docs/providers/${name}.md`).toBe(true);
      }
    });

    it('describes every action and check, and refuses parameters it does not know by name', () => {
      for (const [call, declared] of calls) {
        expect(declared.description.trim().length, call).toBeGreaterThan(10);
        expect(typeof declared.run, call).toBe('function');
        // a plan error says `parameter "x" is not a parameter of this action` and lists the real ones
        const shape = shapeOf(declared.params);
        expect(shape, `${call}: parameters are an object`).toBeDefined();
        const parsed = declared.params.safeParse({ [NOT_A_PARAMETER]: true });
        expect(parsed.success, `${call} accepts an unknown parameter`).toBe(false);
        const unknown = parsed.error?.issues.find((issue) => issue.code === 'unrecognized_keys');
        expect(unknown, `${call} names an unknown parameter`).toMatchObject({ keys: [NOT_A_PARAMETER] });
        expect(declared.params.safeParse('text').success, call).toBe(false);
        // the API and the docs render parameters as JSON Schema
        expect(
          () => z.toJSONSchema(declared.params, { io: 'input', unrepresentable: 'any' }),
          call,
        ).not.toThrow();
      }
    });

    it('declares idempotence, evidence and an undo that is one of its own actions', () => {
      for (const [action, declared] of Object.entries(provider.actions)) {
        expect(typeof declared.idempotent, action).toBe('boolean');
        expect(Array.isArray(declared.evidence), action).toBe(true);
        for (const evidence of declared.evidence) expect(evidence.length, action).toBeGreaterThan(0);
        if (declared.undo !== undefined)
          expect(Object.hasOwn(provider.actions, declared.undo), `${action} undo ${declared.undo}`).toBe(
            true,
          );
        if (declared.clientsMove !== undefined) expect(typeof declared.clientsMove).toBe('function');
      }
    });

    it('declares preflight checks only for its actions, each named and of a known kind', () => {
      for (const [action, checks] of Object.entries(provider.preflight ?? {})) {
        expect(Object.hasOwn(provider.actions, action), `preflight for ${action}`).toBe(true);
        for (const check of checks) {
          expect(check.name.trim().length, action).toBeGreaterThan(0);
          expect(PREFLIGHT_KINDS, `${action}: ${check.name}`).toContain(check.kind);
          expect(typeof check.run).toBe('function');
        }
      }
    });

    it('is reachable for the readiness and queries it answers', () => {
      // readiness is asked of a component's kind's provider and of its backup engines; queries by kind only
      if (provider.readiness !== undefined)
        expect(provider.kinds.length > 0 || provider.backup !== undefined, 'readiness').toBe(true);
      if (provider.query !== undefined) expect(provider.kinds.length, 'queries').toBeGreaterThan(0);
    });

    it('points what drills and verifications read of it at what exists', () => {
      const { backup, drill } = provider;
      if (backup !== undefined) {
        for (const [task, action] of Object.entries(backup.actions))
          expect(Object.hasOwn(provider.actions, action), `backup ${task}: ${action}`).toBe(true);
        expect(shapeOf(provider.actions[backup.actions.restore]!.params)).toHaveProperty(
          backup.snapshotParam,
        );
        if (backup.typeParam !== undefined)
          expect(shapeOf(provider.actions[backup.actions.backup]!.params)).toHaveProperty(backup.typeParam);
      }
      if (drill !== undefined)
        expect(provider.kinds.length, 'a drill finds it by component kind').toBeGreaterThan(0);
    });
  },
);
