// The dependency diagram as inline SVG, laid out here so the document needs no script and no network.
// Layered layout: one column per dependency wave, left to right in recovery order (seed 000: recover the
// foundation, then follow the workflow left to right); rows inside a column are ordered by the average row
// of their neighbours, a few sweeps each way, which removes most crossings for plans of this size.
import type { DependencyGraph, GraphNode } from './document-model.ts';
import { escapeHtml } from './escape.ts';

const NODE_WIDTH = 184;
const NODE_HEIGHT = 50;
const GAP_X = 72;
const GAP_Y = 16;
const PAD = 16;
const HEADER = 22;
const LEGEND = 30;

/** Stroke and fill per tier: the hotter the colour, the more critical. */
const TIER_COLOURS: Record<number, { stroke: string; fill: string; name: string }> = {
  0: { stroke: '#b42318', fill: '#fef3f2', name: 'tier 0' },
  1: { stroke: '#c4320a', fill: '#fff6ed', name: 'tier 1' },
  2: { stroke: '#175cd3', fill: '#eff8ff', name: 'tier 2' },
  3: { stroke: '#475467', fill: '#f9fafb', name: 'tier 3' },
};

export function renderDiagramSvg(graph: DependencyGraph, caption: string): string {
  const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
  const columns = orderColumns(graph);
  const rows = Math.max(1, ...columns.map((column) => column.length));
  const columnHeight = rows * (NODE_HEIGHT + GAP_Y) - GAP_Y;
  const width = PAD * 2 + columns.length * (NODE_WIDTH + GAP_X) - GAP_X;
  const height = PAD * 2 + HEADER + columnHeight + LEGEND;

  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, c) => {
    const offset = ((rows - column.length) * (NODE_HEIGHT + GAP_Y)) / 2;
    column.forEach((id, r) => {
      position.set(id, {
        x: PAD + c * (NODE_WIDTH + GAP_X),
        y: PAD + HEADER + offset + r * (NODE_HEIGHT + GAP_Y),
      });
    });
  });

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="dependency-diagram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(caption)}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
  );
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#667085"/></marker></defs>',
  );
  columns.forEach((_, c) => {
    const x = PAD + c * (NODE_WIDTH + GAP_X) + NODE_WIDTH / 2;
    out.push(
      `<text x="${x}" y="${PAD + 12}" text-anchor="middle" font-size="12" font-weight="600" fill="#475467">Wave ${c + 1}</text>`,
    );
  });
  for (const edge of graph.edges) {
    const from = position.get(edge.from);
    const to = position.get(edge.to);
    if (!from || !to) continue;
    const x1 = from.x + NODE_WIDTH;
    const y1 = from.y + NODE_HEIGHT / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_HEIGHT / 2;
    const bend = Math.max(24, Math.abs(x2 - x1) / 2);
    out.push(
      `<path class="edge" d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2 - 1},${y2}" fill="none" stroke="#667085" stroke-width="1.4" marker-end="url(#arrow)"><title>${escapeHtml(`${edge.to} needs ${edge.from}`)}</title></path>`,
    );
  }
  for (const [id, { x, y }] of position) {
    const node = nodes.get(id);
    if (node) out.push(nodeSvg(node, x, y));
  }
  const legendY = height - PAD - 8;
  Object.values(TIER_COLOURS).forEach((colour, index) => {
    const lx = PAD + index * 96;
    out.push(
      `<rect x="${lx}" y="${legendY - 10}" width="14" height="12" rx="3" fill="${colour.fill}" stroke="${colour.stroke}" stroke-width="1.5"/>`,
      `<text x="${lx + 20}" y="${legendY}" font-size="11" fill="#344054">${colour.name}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function nodeSvg(node: GraphNode, x: number, y: number): string {
  const colour = TIER_COLOURS[node.tier] ?? TIER_COLOURS[3]!;
  const title = `${node.label} (${node.id}) · ${node.detail} · workload ${node.group}`;
  return [
    `<g class="node" data-id="${escapeHtml(node.id)}"><title>${escapeHtml(title)}</title>`,
    `<rect x="${x}" y="${y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="7" fill="${colour.fill}" stroke="${colour.stroke}" stroke-width="1.6"/>`,
    `<text x="${x + 10}" y="${y + 20}" font-size="13" font-weight="600" fill="#101828">${escapeHtml(truncate(node.label, 24))}</text>`,
    `<text x="${x + 10}" y="${y + 38}" font-size="11" fill="#475467">${escapeHtml(truncate(`${node.id} · ${node.detail}`, 30))}</text>`,
    '</g>',
  ].join('');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Columns from the waves, rows reordered by the barycentre of their neighbours in the adjacent columns. */
function orderColumns(graph: DependencyGraph): string[][] {
  const columns = graph.waves.map((wave) => [...wave]);
  const predecessors = new Map<string, string[]>();
  const successors = new Map<string, string[]>();
  for (const { from, to } of graph.edges) {
    predecessors.set(to, [...(predecessors.get(to) ?? []), from]);
    successors.set(from, [...(successors.get(from) ?? []), to]);
  }
  const rowOf = new Map<string, number>();
  const index = (): void => columns.forEach((column) => column.forEach((id, row) => rowOf.set(id, row)));
  const sweep = (column: string[], neighbours: Map<string, string[]>): void => {
    const key = new Map<string, number>();
    column.forEach((id, row) => {
      const rows = (neighbours.get(id) ?? []).flatMap((n) => (rowOf.has(n) ? [rowOf.get(n)!] : []));
      key.set(id, rows.length > 0 ? rows.reduce((a, b) => a + b, 0) / rows.length : row);
    });
    column.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0));
    column.forEach((id, row) => rowOf.set(id, row));
  };
  index();
  for (let round = 0; round < 3; round++) {
    for (let c = 1; c < columns.length; c++) sweep(columns[c]!, predecessors);
    for (let c = columns.length - 2; c >= 0; c--) sweep(columns[c]!, successors);
  }
  return columns;
}
