import { describe, expect, it } from 'vitest';
import { dataIntegrityHtml, dataIntegrityLines, type StrandedWritesFigures } from './data-integrity.ts';

const captured: StrandedWritesFigures = {
  step: 'rebuild',
  status: 'captured',
  from: 'east',
  to: 'west',
  rows: 6,
  transactions: 5,
  conflicts: 1,
  noPrimaryKey: 1,
  tables: { 'public.orders': { inserted: 2, updated: 2, deleted: 1, conflicts: 1 } },
  firstCommitAt: '2026-12-06T13:00:00.000Z',
  lastCommitAt: '2026-12-06T13:00:02.500Z',
  spanMs: 2500,
  files: {
    json: '/state/runs/r/reconciliation/db-east/reconciliation.json',
    sql: '/state/runs/r/reconciliation/db-east/reconciliation.sql',
  },
};

describe('data integrity in drill reports and reviews', () => {
  it('shows stranded writes with their counts, span and reconciliation files', () => {
    expect(dataIntegrityLines({ strandedWrites: [captured] })).toEqual([
      'Stranded writes on east: 6 rows in 5 transactions, committed over 2.5s (2026-12-06T13:00:00.000Z … 2026-12-06T13:00:02.500Z); 1 changed on both sides, 1 without a primary key. Reconciliation: `/state/runs/r/reconciliation/db-east/reconciliation.json`, `/state/runs/r/reconciliation/db-east/reconciliation.sql`.',
      'east → public.orders: 2 inserted, 2 updated, 1 deleted, 1 conflicts',
    ]);
    expect(dataIntegrityHtml({ strandedWrites: [captured] })).toContain('6 rows in 5 transactions');
  });

  it('says a loss nobody could count is unknown, never zero', () => {
    const unknown: StrandedWritesFigures = {
      ...captured,
      status: 'unknown',
      reason: 'the data directory is gone',
      rows: null,
      transactions: null,
      tables: {},
    };
    expect(dataIntegrityLines({ strandedWrites: [unknown] })).toEqual([
      'Stranded writes on east: UNKNOWN — the data directory is gone. What was lost is not known.',
    ]);
    const html = dataIntegrityHtml({ strandedWrites: [unknown] });
    expect(html).toContain('<strong>unknown</strong>');
    expect(html).not.toContain('0 rows');
  });
});
