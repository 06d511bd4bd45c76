/**
 * The data-integrity part of a drill report and a PIR: writes stranded on a former primary (from the
 * `stranded-writes` evidence of a rebuild step) and the figures of a corruption drill. Shared by the drill
 * report (HTML) and the post-incident review. See docs/data-integrity.md.
 */
import { formatDuration } from '../plan/duration.ts';
import type { JournalRecord } from '../store/store.ts';

/** What a corruption drill measured. */
export interface CorruptionFigures {
  table: string;
  change: 'delete' | 'overwrite';
  /** Rows the bad transaction changed. */
  rows: number;
  /** Its xid, as journaled by the fault. */
  transaction: string;
  corruptedAt: string;
  /** Damage → the first failing validation. */
  detectionMs: number | undefined;
  detectedBy: string | undefined;
  /** Damage → restored data passing every validation. */
  rtoMs: number | undefined;
  /** Detection → restored data passing every validation. */
  restoreMs: number | undefined;
  /** The restore-to-before run. */
  run: string | undefined;
  runStatus: string;
  /** The site holding the restored data. */
  recoveredAt: string;
  /**
   * Good writes acknowledged after the restore point and missing from the restored data: how many, the
   * seconds they span, and the last one's distance from the damage. Undefined when nothing was restored.
   */
  goodWritesLost: { rows: number; spanMs: number; sinceDamageMs: number } | undefined;
}

/** The `stranded-writes` evidence of a rebuild (postgres/stranded.ts strandedSummary). */
export interface StrandedWritesFigures {
  step: string | undefined;
  status: 'captured' | 'unknown';
  from: string;
  to: string;
  reason?: string;
  /** null when unknown: never zero for a loss nobody could count. */
  rows: number | null;
  transactions: number | null;
  conflicts: number;
  noPrimaryKey: number;
  tables: Record<string, { inserted: number; updated: number; deleted: number; conflicts: number }>;
  firstCommitAt: string | null;
  lastCommitAt: string | null;
  spanMs: number | null;
  files?: { json: string; sql: string };
}

export interface DataIntegrityReport {
  corruption?: CorruptionFigures;
  strandedWrites?: StrandedWritesFigures[];
}

/** The stranded writes a run's rebuild steps saved, from its journal. */
export function strandedWritesOf(journal: readonly JournalRecord[]): StrandedWritesFigures[] {
  return journal
    .filter((record) => record.type === 'evidence' && record.data.name === 'stranded-writes')
    .map((record) => ({ step: record.step, ...(record.data.value as Omit<StrandedWritesFigures, 'step'>) }));
}

const ms = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : formatDuration(Math.round(value));

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One sentence per fact, for a PIR's list or a text report. */
export function dataIntegrityLines(report: DataIntegrityReport): string[] {
  const lines: string[] = [];
  for (const stranded of report.strandedWrites ?? []) {
    lines.push(
      stranded.status === 'unknown'
        ? `Stranded writes on ${stranded.from}: UNKNOWN — ${stranded.reason ?? 'the former primary could not be read'}. What was lost is not known.`
        : `Stranded writes on ${stranded.from}: ${stranded.rows ?? 0} rows in ${stranded.transactions ?? 0} transactions, committed over ${ms(stranded.spanMs)} (${stranded.firstCommitAt ?? '—'} … ${stranded.lastCommitAt ?? '—'}); ${stranded.conflicts} changed on both sides, ${stranded.noPrimaryKey} without a primary key.${stranded.files === undefined ? '' : ` Reconciliation: \`${stranded.files.json}\`, \`${stranded.files.sql}\`.`}`,
    );
    for (const [table, counts] of Object.entries(stranded.tables ?? {})) {
      lines.push(
        `${stranded.from} → ${table}: ${counts.inserted} inserted, ${counts.updated} updated, ${counts.deleted} deleted, ${counts.conflicts} conflicts`,
      );
    }
  }
  const c = report.corruption;
  if (c !== undefined) {
    lines.push(
      `Corruption: ${c.change} of ${c.rows} rows of ${c.table} (transaction ${c.transaction}) at ${c.corruptedAt}`,
      `Detected after ${ms(c.detectionMs)}${c.detectedBy === undefined ? '' : ` by ${c.detectedBy}`}`,
      `Restored and validated at ${c.recoveredAt} ${ms(c.rtoMs)} after the damage (restore ${ms(c.restoreMs)}; run ${c.run ?? '—'} ${c.runStatus})`,
      c.goodWritesLost === undefined
        ? 'Good writes lost: not measured (nothing was restored)'
        : `Good writes lost: ${c.goodWritesLost.rows} rows, spanning ${ms(c.goodWritesLost.spanMs)}, the last ${ms(c.goodWritesLost.sinceDamageMs)} after the damage`,
    );
  }
  return lines;
}

/** A section of the drill report's HTML; empty when there is nothing to say. */
export function dataIntegrityHtml(report: DataIntegrityReport | undefined): string {
  if (report === undefined) return '';
  const rows: string[] = [];
  for (const s of report.strandedWrites ?? []) {
    rows.push(
      `<tr data-integrity="stranded-writes" class="${s.status === 'unknown' || s.conflicts > 0 ? 'fail' : 'pass'}"><th scope="row">Writes stranded on ${escape(s.from)}</th><td>${
        s.status === 'unknown'
          ? `<strong>unknown</strong>: ${escape(s.reason ?? '')}`
          : `${s.rows ?? 0} rows in ${s.transactions ?? 0} transactions over ${escape(ms(s.spanMs))}; ${s.conflicts} conflicts, ${s.noPrimaryKey} without a primary key${s.files === undefined ? '' : `<br><small>${escape(s.files.json)}<br>${escape(s.files.sql)}</small>`}`
      }</td></tr>`,
    );
  }
  const c = report.corruption;
  if (c !== undefined) {
    rows.push(
      `<tr data-integrity="corruption"><th scope="row">Corruption</th><td>${escape(`${c.change} of ${c.rows} rows of ${c.table} (transaction ${c.transaction})`)}</td></tr>`,
      `<tr data-integrity="detection"><th scope="row">Time to detect</th><td>${escape(ms(c.detectionMs))}${c.detectedBy === undefined ? '' : ` <small>${escape(c.detectedBy)}</small>`}</td></tr>`,
      `<tr data-integrity="rto"><th scope="row">Damage → restored and validated</th><td>${escape(ms(c.rtoMs))} <small>(restore ${escape(ms(c.restoreMs))}, at ${escape(c.recoveredAt)})</small></td></tr>`,
      `<tr data-integrity="good-writes-lost"><th scope="row">Good writes lost</th><td>${
        c.goodWritesLost === undefined
          ? 'not measured'
          : escape(
              `${c.goodWritesLost.rows} rows, ${ms(c.goodWritesLost.spanMs)} of writes, the last ${ms(c.goodWritesLost.sinceDamageMs)} after the damage`,
            )
      }</td></tr>`,
    );
  }
  if (rows.length === 0) return '';
  return `<h2>Data integrity</h2>\n<table class="data-integrity"><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}
