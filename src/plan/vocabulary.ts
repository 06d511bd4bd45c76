/**
 * "Did you mean": every key the plan schema knows, and the nearest one to a misspelling.
 * The key list comes from the published JSON Schema, so it can never drift from the schema.
 */
import { planJsonSchema } from './json-schema.ts';

export { closest } from './closest.ts';

let vocabulary: string[] | undefined;

export function planVocabulary(): string[] {
  if (vocabulary) return vocabulary;
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && value && typeof value === 'object')
        for (const name of Object.keys(value)) keys.add(name);
      walk(value);
    }
  };
  walk(planJsonSchema());
  vocabulary = [...keys];
  return vocabulary;
}
