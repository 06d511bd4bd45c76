/**
 * The runbook document as format-neutral blocks: the chapters of seed 000's DR plan structure, each a
 * list of headings, paragraphs, lists, fields, tables and the dependency diagram. The Markdown, HTML and
 * PDF writers read this and only decide how it looks.
 */
/** The chapters of seed 000's DR plan structure, in its order. Titles are what readers and tests see. */
export const CHAPTERS = [
  { id: 'process-requirements', title: 'Process requirements' },
  { id: 'business-impact', title: 'Business impact analysis' },
  { id: 'contact-listing', title: 'Contact listing' },
  { id: 'architecture', title: 'Architecture' },
  { id: 'dependencies', title: 'Dependencies' },
  { id: 'prerequisites', title: 'DR prerequisites' },
  { id: 'technical-recovery', title: 'Technical recovery: step by step' },
  { id: 'post-requisites', title: 'Technical recovery: post-requisites' },
  { id: 'business-review', title: 'Business stakeholder review and approval' },
  { id: 'recovery-post-requisites', title: 'Recovery post-requisites' },
] as const;

export type ChapterId = (typeof CHAPTERS)[number]['id'];

export interface InlinePart {
  text: string;
  code?: boolean;
  strong?: boolean;
  href?: string;
  /** A line to write on by hand in a printed copy; `text` is ignored. */
  blank?: boolean;
}
/** Plain text, or parts with light formatting. */
export type Inline = string | InlinePart[];

export interface GraphNode {
  id: string;
  label: string;
  detail: string;
  tier: number;
  group: string;
}

export interface DependencyGraph {
  nodes: GraphNode[];
  /** from: the dependency, to: what needs it; recovery flows along the edge. */
  edges: { from: string; to: string }[];
  waves: string[][];
}

export type Block =
  | { kind: 'heading'; level: 3 | 4; text: string; anchor: string }
  | { kind: 'paragraph'; text: Inline }
  | { kind: 'note'; text: Inline }
  | { kind: 'list'; items: Inline[]; ordered?: boolean; checklist?: boolean }
  | { kind: 'fields'; rows: [string, Inline][] }
  | { kind: 'table'; head: string[]; rows: Inline[][]; signatures?: boolean }
  | { kind: 'diagram'; graph: DependencyGraph; caption: string };

export interface Chapter {
  id: ChapterId;
  number: number;
  title: string;
  blocks: Block[];
}

export interface RunbookDocument {
  title: string;
  planName: string;
  description: string | undefined;
  hash: string;
  renderedAt: Date;
  files: string[];
  /** The runbook this document is limited to, `workload/name`, when it is. */
  scope: string | undefined;
  chapters: Chapter[];
}

export interface RenderOptions {
  /** The render time printed on the document. @default new Date() */
  now?: Date;
  /** Limit the document to one runbook, written `workload/name`. @default every runbook */
  runbook?: string;
}
