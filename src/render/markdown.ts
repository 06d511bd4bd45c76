// The runbook document as Markdown (CommonMark with GitHub tables). It must read well as plain text too,
// since it is what people open in a terminal or a repository viewer when everything else is down.
import type { Block, DependencyGraph, Inline, InlinePart, RunbookDocument } from './document-model.ts';

export function writeMarkdown(doc: RunbookDocument): string {
  const out: string[] = [];
  out.push(`# ${escapeText(doc.title)}`, '');
  out.push(`- **Plan:** ${escapeText(doc.planName)}`);
  out.push(`- **Version (content hash):** \`${doc.hash}\``);
  out.push(`- **Rendered:** ${doc.renderedAt.toISOString()}`);
  if (doc.scope !== undefined) out.push(`- **Runbook:** \`${doc.scope}\``);
  out.push('');
  if (doc.description) out.push(escapeText(doc.description), '');
  out.push('## Contents', '');
  for (const chapter of doc.chapters) out.push(`${chapter.number}. [${chapter.title}](#${chapter.id})`);
  out.push('');
  for (const chapter of doc.chapters) {
    out.push(`<a id="${chapter.id}"></a>`, '', `## ${chapter.number}. ${chapter.title}`, '');
    for (const block of chapter.blocks) out.push(...writeBlock(block), '');
  }
  out.push(
    '---',
    '',
    `Rendered by drctl from plan version \`${doc.hash}\` at ${doc.renderedAt.toISOString()}.`,
    '',
  );
  return out.join('\n');
}

function writeBlock(block: Block): string[] {
  switch (block.kind) {
    case 'heading':
      return [`${'#'.repeat(block.level)} ${escapeText(block.text)}`];
    case 'paragraph':
      return [inline(block.text, '\n')];
    case 'note':
      return [`> **Note:** ${inline(block.text, '\n> ')}`];
    case 'list':
      return block.items.map((item, index) => {
        const bullet = block.checklist ? '- [ ]' : block.ordered ? `${index + 1}.` : '-';
        return `${bullet} ${inline(item, `  \n${' '.repeat(bullet.length + 1)}`)}`;
      });
    case 'fields':
      return block.rows.map(([label, value]) => `- **${escapeText(label)}:** ${inline(value, '  \n  ')}`);
    case 'table': {
      const lines = [
        `| ${block.head.map(cell).join(' | ')} |`,
        `| ${block.head.map(() => '---').join(' | ')} |`,
      ];
      for (const row of block.rows) {
        const cells = row.map((value) => inline(value, '<br>').replaceAll('|', '\\|'));
        // blank cells of a sign-off table get a line to write on when printed from Markdown
        lines.push(
          `| ${cells.map((c) => (block.signatures && c === '' ? '____________________' : c)).join(' | ')} |`,
        );
      }
      return lines;
    }
    case 'diagram':
      return [inline(block.caption, '\n'), '', ...mermaid(block.graph)];
  }
}

/** A Mermaid flowchart: viewers that know Mermaid draw it, everyone else still reads the edges. */
function mermaid(graph: DependencyGraph): string[] {
  const ids = new Map(graph.nodes.map((node, index) => [node.id, `n${index + 1}`]));
  const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
  const label = (text: string): string =>
    text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const lines = ['```mermaid', 'flowchart LR'];
  graph.waves.forEach((wave, index) => {
    lines.push(`  subgraph wave${index + 1}["Wave ${index + 1}"]`);
    for (const id of wave) {
      const node = nodes.get(id);
      if (node) lines.push(`    ${ids.get(id)}["${label(node.label)}<br/>${label(node.detail)}"]`);
    }
    lines.push('  end');
  });
  for (const edge of graph.edges) {
    const from = ids.get(edge.from);
    const to = ids.get(edge.to);
    if (from && to) lines.push(`  ${from} --> ${to}`);
  }
  lines.push('```');
  return lines;
}

function cell(text: string): string {
  return escapeText(text).replaceAll('|', '\\|');
}

function inline(value: Inline, newline: string): string {
  const parts: InlinePart[] = typeof value === 'string' ? [{ text: value }] : value;
  return parts
    .map((part) => {
      // a bare run of underscores has no content to emphasise, so CommonMark prints it as is
      if (part.blank) return '____________';
      let text = part.code ? codeSpan(part.text) : escapeText(part.text);
      // CommonMark ignores ** next to inner spaces, so the spaces go outside the markers
      if (part.strong)
        text = text.replace(/^(\s*)(.*?)(\s*)$/s, (_, lead: string, core: string, tail: string) =>
          core ? `${lead}**${core}**${tail}` : text,
        );
      if (part.href) text = `[${text}](<${part.href.replace(/[<>\s]/g, encodeURIComponent)}>)`;
      return text;
    })
    .join('')
    .replace(/\r?\n/g, newline);
}

function codeSpan(text: string): string {
  const flat = text.replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** Plan text must never turn into Markdown markup (or raw HTML) by accident. */
export function escapeText(text: string): string {
  return text
    .replace(/[\\`*[\]<>|&]/g, (c) => `\\${c}`)
    .replace(/(^|[^\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, (m) => m.replace('_', '\\_'))
    .replace(/^(#{1,6}\s|[-+]\s|\d+[.)]\s)/gm, (m) => `\\${m}`);
}
