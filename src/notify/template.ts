/** Rendering a template: `{{field}}` replaced by the fact of that name (the plan checked the names). */
import { PLACEHOLDER } from '../plan/compile-communications.ts';

export function renderTemplate(text: string, facts: Readonly<Record<string, string>>): string {
  return text.replace(new RegExp(PLACEHOLDER.source, 'g'), (_, field: string) => facts[field] ?? '');
}
