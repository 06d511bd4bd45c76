// The runbook document as one self-contained HTML file: inline CSS, inline SVG, no script, no fonts or
// images fetched, so it opens from a USB stick with the network down. Print styles start every chapter on a
// new page, hide the navigation and keep a step's fields together.
import { renderDiagramSvg } from './diagram.ts';
import type { Block, Inline, InlinePart, RunbookDocument } from './document-model.ts';
import { escapeHtml } from './escape.ts';

const STYLE = `
:root { color-scheme: light; --ink: #101828; --muted: #475467; --line: #d0d5dd; --soft: #f2f4f7; --accent: #175cd3; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
.layout { display: grid; grid-template-columns: 16rem minmax(0, 1fr); gap: 2rem; max-width: 82rem; margin: 0 auto; padding: 1.5rem; }
nav.toc { position: sticky; top: 1rem; align-self: start; font-size: 0.9rem; border-right: 1px solid var(--line); padding-right: 1rem; }
nav.toc ol { padding-left: 1.2rem; margin: 0.5rem 0; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
header.doc-header { border-bottom: 3px solid var(--ink); margin-bottom: 1.5rem; }
header.doc-header h1 { font-size: 1.8rem; margin: 0 0 0.5rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; margin: 0 0 1rem; font-size: 0.9rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
section.chapter { margin-bottom: 2.5rem; }
h2 { font-size: 1.45rem; border-bottom: 1px solid var(--line); padding-bottom: 0.25rem; margin: 2rem 0 1rem; }
h2 .num { color: var(--muted); margin-right: 0.4rem; }
h3 { font-size: 1.15rem; margin: 1.6rem 0 0.6rem; }
h4 { font-size: 1rem; margin: 1.4rem 0 0.5rem; padding: 0.35rem 0.6rem; background: var(--soft); border-left: 4px solid var(--accent); }
code { font: 0.88em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft); padding: 0.05em 0.3em; border-radius: 3px; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
thead th { background: var(--soft); }
table.fields th { width: 11rem; background: var(--soft); font-weight: 600; }
table.signatures td { height: 3.2rem; }
span.blank { display: inline-block; min-width: 7em; border-bottom: 1px solid var(--ink); height: 1.1em; vertical-align: bottom; }
ul.checklist { list-style: none; padding-left: 0.2rem; }
ul.checklist li { display: flex; gap: 0.55rem; margin: 0.25rem 0; }
ul.checklist .box { flex: none; width: 0.95rem; height: 0.95rem; margin-top: 0.22rem; border: 1.5px solid var(--ink); border-radius: 2px; }
.note { border-left: 4px solid #f79009; background: #fffaeb; padding: 0.5rem 0.75rem; margin: 0.75rem 0; }
figure.diagram { margin: 0.5rem 0 1rem; overflow-x: auto; }
figure.diagram svg { max-width: 100%; height: auto; }
figure.diagram figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 0.25rem; }
footer.doc-footer { border-top: 1px solid var(--line); margin-top: 2rem; padding-top: 0.5rem; font-size: 0.8rem; color: var(--muted); }
@media (max-width: 60rem) { .layout { grid-template-columns: minmax(0, 1fr); } nav.toc { position: static; border-right: 0; } }
@media (max-width: 40rem) { .layout { padding: 0.75rem; } table { display: block; overflow-x: auto; } table.fields th { width: auto; } pre { overflow-x: auto; } }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { font-size: 10.5pt; }
  .layout { display: block; max-width: none; padding: 0; }
  nav.toc { display: none; }
  section.chapter { break-before: page; margin: 0; }
  h2 { margin-top: 0; }
  h3, h4 { break-after: avoid; }
  tr, li, table.fields, figure.diagram, .note { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  code { background: none; padding: 0; }
  figure.diagram { overflow: visible; }
}
`;

export function writeHtml(doc: RunbookDocument): string {
  const rendered = doc.renderedAt.toISOString();
  const out: string[] = [];
  out.push('<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push('<meta name="generator" content="drctl">');
  out.push(`<meta name="drctl-plan-hash" content="${escapeHtml(doc.hash)}">`);
  out.push(`<meta name="drctl-rendered-at" content="${rendered}">`);
  out.push(`<title>${escapeHtml(doc.title)}</title>`, `<style>${STYLE}</style>`, '</head>', '<body>');
  out.push('<div class="layout">');

  out.push('<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>');
  for (const chapter of doc.chapters)
    out.push(`<li><a href="#${chapter.id}">${escapeHtml(chapter.title)}</a></li>`);
  out.push('</ol></nav>');

  out.push('<main>');
  out.push('<header class="doc-header">', `<h1>${escapeHtml(doc.title)}</h1>`, '<dl class="meta">');
  out.push(`<dt>Plan</dt><dd class="plan-name">${escapeHtml(doc.planName)}</dd>`);
  out.push(`<dt>Version (content hash)</dt><dd><code class="plan-hash">${escapeHtml(doc.hash)}</code></dd>`);
  out.push(`<dt>Rendered</dt><dd><time class="rendered-at" datetime="${rendered}">${rendered}</time></dd>`);
  if (doc.scope !== undefined) out.push(`<dt>Runbook</dt><dd><code>${escapeHtml(doc.scope)}</code></dd>`);
  out.push('</dl>');
  if (doc.description) out.push(`<p>${text(doc.description)}</p>`);
  out.push('</header>');

  for (const chapter of doc.chapters) {
    out.push(`<section class="chapter" id="${chapter.id}" data-chapter="${chapter.number}">`);
    out.push(`<h2><span class="num">${chapter.number}.</span>${escapeHtml(chapter.title)}</h2>`);
    for (const block of chapter.blocks) out.push(writeBlock(block));
    out.push('</section>');
  }
  out.push(
    `<footer class="doc-footer">Rendered by drctl from plan <span class="plan-name">${escapeHtml(doc.planName)}</span>, version <code>${escapeHtml(doc.hash)}</code>, at ${rendered}.</footer>`,
  );
  out.push('</main>', '</div>', '</body>', '</html>', '');
  return out.join('\n');
}

function writeBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h${block.level} id="${escapeHtml(block.anchor)}">${escapeHtml(block.text)}</h${block.level}>`;
    case 'paragraph':
      return `<p>${inline(block.text)}</p>`;
    case 'note':
      return `<p class="note">${inline(block.text)}</p>`;
    case 'list': {
      if (block.checklist) {
        const items = block.items.map(
          (item) => `<li><span class="box" aria-hidden="true"></span><span>${inline(item)}</span></li>`,
        );
        return `<ul class="checklist">${items.join('')}</ul>`;
      }
      const tag = block.ordered ? 'ol' : 'ul';
      return `<${tag}>${block.items.map((item) => `<li>${inline(item)}</li>`).join('')}</${tag}>`;
    }
    case 'fields':
      return `<table class="fields"><tbody>${block.rows
        .map(
          ([label, value]) => `<tr><th scope="row">${escapeHtml(label)}</th><td>${inline(value)}</td></tr>`,
        )
        .join('')}</tbody></table>`;
    case 'table': {
      const head = `<thead><tr>${block.head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>`;
      const body = block.rows
        .map((row) => `<tr>${row.map((value) => `<td>${inline(value)}</td>`).join('')}</tr>`)
        .join('');
      return `<table${block.signatures ? ' class="signatures"' : ''}>${head}<tbody>${body}</tbody></table>`;
    }
    case 'diagram':
      return `<figure class="diagram">${renderDiagramSvg(block.graph, block.caption)}<figcaption>${escapeHtml(block.caption)}</figcaption></figure>`;
  }
}

function text(value: string): string {
  return escapeHtml(value).replace(/\r?\n/g, '<br>');
}

function inline(value: Inline): string {
  const parts: InlinePart[] = typeof value === 'string' ? [{ text: value }] : value;
  return parts
    .map((part) => {
      if (part.blank) return '<span class="blank"></span>';
      let html = part.code ? `<code>${escapeHtml(part.text)}</code>` : text(part.text);
      if (part.strong) html = `<strong>${html}</strong>`;
      if (part.href && /^(mailto:|tel:|https?:|#)/i.test(part.href))
        html = `<a href="${escapeHtml(part.href)}">${html}</a>`;
      return html;
    })
    .join('');
}
