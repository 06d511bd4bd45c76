/**
 * The small document model the post-incident review and the auditor pack share: sections of paragraphs,
 * lists and tables, written as Markdown or as one self-contained, print-friendly HTML page.
 */
import { escapeHtml as e } from '../render/escape.ts';

export type ReportBlock =
  | { kind: 'p'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][]; className?: string }
  /** Already-escaped HTML (a chart); `markdown` is what the Markdown form shows instead. */
  | { kind: 'html'; html: string; markdown: string };

export interface ReportSection {
  id: string;
  title: string;
  blocks: ReportBlock[];
}

export interface ReportDocument {
  title: string;
  /** Lines under the title: what it is about, its version. */
  meta: string[];
  sections: ReportSection[];
  footer: string;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function writeReportMarkdown(doc: ReportDocument): string {
  const out: string[] = [`# ${doc.title}`, '', ...doc.meta.map((m) => `${m}  `), ''];
  for (const section of doc.sections) {
    out.push(`## ${section.title}`, '');
    for (const block of section.blocks) {
      if (block.kind === 'p') out.push(block.text, '');
      else if (block.kind === 'list') out.push(...block.items.map((i) => `- ${i}`), '');
      else if (block.kind === 'html') out.push(block.markdown, '');
      else {
        out.push(`| ${block.head.map(cell).join(' | ')} |`, `| ${block.head.map(() => '---').join(' | ')} |`);
        for (const row of block.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
        out.push('');
      }
    }
  }
  out.push('---', '', doc.footer, '');
  return out.join('\n');
}

export const REPORT_CSS = `
  :root { --ok: #2e7d32; --bad: #c62828; --ink: #1a1a1a; --muted: #5f6368; --line: #dadce0; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 1040px; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
  .meta { color: var(--muted); margin: 0 0 1rem; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  td { font-variant-numeric: tabular-nums; } code { font-size: .85em; }
  .pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
  .chart { margin: .5rem 0 1.25rem; }
  @media print { body { margin: 0; max-width: none; } section { page-break-inside: auto; } h2 { page-break-after: avoid; } }
`;

/** A cell whose text is "pass"/"fail"-like gets a colour; everything else is escaped text. */
function htmlCell(text: string): string {
  const cls = /^(pass|passed|ok|intact|succeeded|resolved)$/i.test(text)
    ? ' class="pass"'
    : /^(fail|failed|broken|overdue|never|open|missed)$/i.test(text)
      ? ' class="fail"'
      : '';
  return `<td${cls}>${e(text)}</td>`;
}

export function writeReportHtml(doc: ReportDocument, options: { head?: string } = {}): string {
  const sections = doc.sections
    .map((section) => {
      const blocks = section.blocks
        .map((block) => {
          if (block.kind === 'p') return `<p>${e(block.text)}</p>`;
          if (block.kind === 'list') return `<ul>${block.items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>`;
          if (block.kind === 'html') return block.html;
          return `<table${block.className ? ` class="${e(block.className)}"` : ''}><thead><tr>${block.head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${block.rows.map((r) => `<tr>${r.map(htmlCell).join('')}</tr>`).join('\n')}</tbody></table>`;
        })
        .join('\n');
      return `<section class="chapter" id="${e(section.id)}" data-chapter="${e(section.id)}">\n<h2>${e(section.title)}</h2>\n${blocks}\n</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(doc.title)}</title>
<style>${REPORT_CSS}</style>
${options.head ?? ''}
</head>
<body>
<header><h1>${e(doc.title)}</h1><p class="meta">${doc.meta.map(e).join('<br>')}</p></header>
${sections}
<footer><p class="meta">${e(doc.footer)}</p></footer>
</body>
</html>
`;
}
