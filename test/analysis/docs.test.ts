import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FINDINGS } from '../../src/analysis/index.ts';

describe('docs/analysis.md', () => {
  const doc = readFileSync(new URL('../../docs/analysis.md', import.meta.url), 'utf8');

  it('describes every finding code with its severity and seed', () => {
    for (const [code, { severity, seed }] of Object.entries(FINDINGS)) {
      // table cells may be padded by the formatter
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` +\\| ${severity} +\\| ${seed} +\\|`));
      expect(doc, code).toContain(`**\`${code}\`**`);
    }
  });
});
