/**
 * Reports drawn from the store: the post-incident review of a real run (pir.ts) and the auditor pack
 * (audit-pack.ts). Both are built as one small document model (document.ts), written as Markdown or
 * self-contained HTML.
 */
export { assertRealRun, draftPir } from './pir.ts';
export type { PirDraft, PirInput } from './pir.ts';
export { writeReportHtml, writeReportMarkdown } from './document.ts';
export type { ReportBlock, ReportDocument, ReportSection } from './document.ts';
export {
  AUDIT_CHAPTERS,
  AUDIT_PACK_FORMAT,
  MANIFEST_FILE,
  verifyAuditPack,
  writeAuditPack,
} from './audit-pack.ts';
export type { AuditPackOptions, AuditPackResult } from './audit-pack.ts';
