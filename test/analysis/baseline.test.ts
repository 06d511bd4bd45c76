import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import { NOW, baseline } from './baseline.ts';

describe('the baseline plan', () => {
  it('has no findings at all', async () => {
    const analysis = analyzePlan(await baseline(), { now: NOW });
    expect(analysis.findings.map((f) => `${f.code} ${f.message}`)).toEqual([]);
  });
});
