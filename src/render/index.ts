/**
 * Runbook documents: a plan rendered as the DR plan of seed 000, chapter by chapter (process requirements,
 * contacts, architecture, dependencies, prerequisites, step-by-step recovery, post-requisites, business review,
 * recovery post-requisites), in Markdown, self-contained HTML, or PDF printed by a local Chromium. Every
 * document carries the plan's content hash and the time it was rendered, so a printed copy says which plan it is.
 */
import type { Plan } from '../plan/model.ts';
import { buildDocument } from './document.ts';
import type { RenderOptions } from './document-model.ts';
import { writeHtml } from './html.ts';
import { writeMarkdown } from './markdown.ts';

export { buildDocument } from './document.ts';
export { CHAPTERS } from './document-model.ts';
export type { Block, Chapter, ChapterId, RenderOptions, RunbookDocument } from './document-model.ts';
export { CHROMIUM_ARGS, findChromium, htmlToPdf, renderPdf } from './pdf.ts';
export { escapeHtml } from './escape.ts';
export type { PdfOptions } from './pdf.ts';

export { RENDER_FORMATS, type RenderFormat } from './formats.ts';

export function renderMarkdown(plan: Plan, options: RenderOptions = {}): string {
  return writeMarkdown(buildDocument(plan, options));
}

export function renderHtml(plan: Plan, options: RenderOptions = {}): string {
  return writeHtml(buildDocument(plan, options));
}
