// The runbook document as format-neutral blocks. Every fact a reader sees is chosen here, once; the Markdown
// and HTML writers only decide how it looks, so the two formats cannot drift apart. All text stays plain
// here and is escaped by the writer for its format.
import { UsageError } from '../errors.ts';
import { analyzePlan, formatMoney, stepCostMs, workloadCost, type Analysis } from '../analysis/index.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Check, Component, Contact, Plan, Runbook, Step, Workload } from '../plan/model.ts';
import { Redactor, inlineSecrets } from '../plan/secrets.ts';
import { recoveryWaves, runOrder } from './order.ts';

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

const FAILURE_PROCESS: Record<Step['onFailure'], string> = {
  abort: 'Stop the runbook: no later step starts. Call the escalation contact and record what failed.',
  continue: 'Record the failure with its evidence and carry on with the next steps.',
  rollback:
    'Undo this step and the finished steps before it, in reverse order, then stop and call the escalation contact.',
  escalate: 'Pause and call the escalation contact; they decide whether to retry, skip or abort.',
};

const STEP_KIND: Record<Step['kind'], string> = {
  shell: 'automated (shell)',
  action: 'automated (provider action)',
  manual: 'manual',
  approval: 'approval',
  wait: 'wait',
  check: 'check',
};

/** Filled in by hand on a printed runbook: the seed asks for an evidence trail and a completed runbook. */
const RECORD_LINE: InlinePart[] = ['started', 'finished', 'by', 'evidence ref'].flatMap((label, index) => [
  { text: `${index === 0 ? '' : '  '}${label} ` },
  { text: '', blank: true },
]);

/** Seed 000's recovery post-requisites: the hand-overs that close a recovery. */
const RECOVERY_POST_REQUISITES = [
  'Hand over to operational support to run the data processes that bring the system up to date.',
  'Hand over to the downstream processes and solutions, confirming the date and the connection details of the DR system.',
  'Confirm with the DR lead that the recovery is complete: the evidence trail and the completed runbook.',
  'Notify security administration that the elevated access granted to the DR team can be removed.',
];

/**
 * Build the document for a plan; `renderMarkdown` and `renderHtml` write it out. Every format is written
 * from this one model, so it is the one place credentials are taken out: a runbook is printed, mailed and
 * kept offline, the worst place for a password.
 */
export function buildDocument(plan: Plan, options: RenderOptions = {}): RunbookDocument {
  return new Redactor(inlineSecrets(plan)).value(documentOf(plan, options));
}

function documentOf(plan: Plan, options: RenderOptions): RunbookDocument {
  const ctx = new Context(plan, options);
  const builders: Record<ChapterId, () => Block[]> = {
    'process-requirements': () => processRequirements(ctx),
    'business-impact': () => businessImpact(ctx),
    'contact-listing': () => contactListing(ctx),
    architecture: () => architecture(ctx),
    dependencies: () => dependencies(ctx),
    prerequisites: () => prerequisites(ctx),
    'technical-recovery': () => technicalRecovery(ctx),
    'post-requisites': () => postRequisites(ctx),
    'business-review': () => businessReview(ctx),
    'recovery-post-requisites': () => recoveryPostRequisites(ctx),
  };
  return {
    title: ctx.scope === undefined ? `${plan.name}: DR runbook` : `${plan.name}: DR runbook ${ctx.scope}`,
    planName: plan.name,
    description: plan.description,
    hash: plan.hash,
    renderedAt: options.now ?? new Date(),
    files: plan.files,
    scope: ctx.scope,
    chapters: CHAPTERS.map((chapter, index) => ({
      id: chapter.id,
      number: index + 1,
      title: chapter.title,
      blocks: builders[chapter.id](),
    })),
  };
}

/** What every chapter needs: lookups, the part of the plan in scope, and unique anchors. */
class Context {
  readonly contacts: Map<string, Contact>;
  readonly components: Map<string, Component>;
  readonly workloads: Workload[];
  readonly runbooks: Runbook[];
  readonly scope: string | undefined;
  /** The same numbers `drctl analyze` prints: waves, critical paths, fit against the RTO, remedies. */
  readonly analysis: Analysis;
  private readonly anchors = new Set<string>();
  private workloadsById: Map<string, Workload> | undefined;
  private dependencyGraph: DependencyGraph | undefined;

  constructor(
    readonly plan: Plan,
    options: RenderOptions,
  ) {
    this.contacts = new Map(plan.contacts.map((contact) => [contact.id, contact]));
    this.components = new Map(plan.workloads.flatMap((w) => w.components.map((c) => [c.id, c] as const)));
    this.analysis = analyzePlan(plan, options.now === undefined ? {} : { now: options.now });
    const all = plan.workloads.flatMap((w) => w.runbooks);
    if (options.runbook === undefined) {
      this.workloads = plan.workloads;
      this.runbooks = all;
      this.scope = undefined;
    } else {
      const wanted = options.runbook;
      const runbook = all.find((r) => `${r.workload}/${r.name}` === wanted);
      if (!runbook) {
        const known = all.map((r) => `${r.workload}/${r.name}`);
        throw new UsageError(
          'DRCTL_RENDER_RUNBOOK_UNKNOWN',
          `plan "${plan.name}" has no runbook "${wanted}"`,
          {
            hint:
              known.length > 0
                ? `write it as workload/name, one of: ${known.join(', ')}`
                : 'this plan has no runbooks yet',
          },
        );
      }
      this.workloads = plan.workloads.filter((w) => w.id === runbook.workload);
      this.runbooks = [runbook];
      this.scope = wanted;
    }
  }

  workload(id: string): Workload | undefined {
    this.workloadsById ??= new Map(this.plan.workloads.map((w) => [w.id, w]));
    return this.workloadsById.get(id);
  }

  /** The architecture and dependency chapters share one graph. */
  graph(): DependencyGraph {
    this.dependencyGraph ??= dependencyGraph(this);
    return this.dependencyGraph;
  }

  anchor(...parts: string[]): string {
    const base = parts
      .join('-')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    let candidate = base;
    for (let n = 2; this.anchors.has(candidate); n++) candidate = `${base}-${n}`;
    this.anchors.add(candidate);
    return candidate;
  }

  heading(level: 3 | 4, text: string, ...anchorParts: string[]): Block {
    return {
      kind: 'heading',
      level,
      text,
      anchor: this.anchor(...(anchorParts.length > 0 ? anchorParts : [text])),
    };
  }

  /** A contact's name, or the id itself when the plan does not know it. */
  name(id: string | undefined): string {
    if (id === undefined) return '';
    const contact = this.contacts.get(id);
    return contact ? contact.name : id;
  }

  /** Name, role, phone and e-mail: everything needed to reach someone, with the backup. */
  reach(id: string, withBackup = true): InlinePart[] {
    const contact = this.contacts.get(id);
    if (!contact) return [{ text: id, code: true }];
    const parts: InlinePart[] = [{ text: contact.name, strong: true }];
    if (contact.role) parts.push({ text: `, ${contact.role}` });
    if (contact.phone)
      parts.push(
        { text: ' · phone ' },
        { text: contact.phone, href: `tel:${contact.phone.replace(/[^+\d]/g, '')}` },
      );
    if (contact.email) parts.push({ text: ' · ' }, { text: contact.email, href: `mailto:${contact.email}` });
    if (withBackup && contact.backup) {
      const backup = this.contacts.get(contact.backup);
      parts.push({ text: ` · backup: ${this.name(contact.backup)}` });
      if (backup?.phone)
        parts.push({ text: ' ' }, { text: backup.phone, href: `tel:${backup.phone.replace(/[^+\d]/g, '')}` });
    }
    return parts;
  }
}

function ms(value: number): string {
  return value === 0 ? '0s' : formatDuration(value);
}

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function code(text: string): InlinePart[] {
  return [{ text, code: true }];
}

function joinParts(groups: InlinePart[][], separator = ', '): InlinePart[] {
  return groups.flatMap((group, index) => (index === 0 ? group : [{ text: separator }, ...group]));
}

function componentLabel(ctx: Context, id: string): string {
  const component = ctx.components.get(id);
  return component && component.name !== id ? `${component.name} (${id})` : id;
}

// ---------------------------------------------------------------------------------------------------------
// 2. Business impact analysis

/** How long an outage lasts in the impact table: seed 000's "impact over time", up to three days. */
const IMPACT_AFTER_MS = [15 * 60_000, 3_600_000, 4 * 3_600_000, 24 * 3_600_000, 72 * 3_600_000];

function businessImpact(ctx: Context): Block[] {
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text: "What each user flow costs the business the longer it is down, against the workload's RTO and RPO. Costs are the flows' downtime_cost per hour; flows without one show their impact in words only.",
    },
  ];
  for (const w of ctx.workloads) {
    blocks.push(ctx.heading(3, `Impact of losing ${w.name}`, 'impact', w.id));
    if (w.flows.length === 0) {
      blocks.push({
        kind: 'note',
        text: `${w.name} names no user flows: add flows with who relies on them and the impact.`,
      });
      continue;
    }
    const currency = ctx.plan.costs?.currency ?? '';
    const money = (amount: number | undefined): string =>
      amount === undefined ? '—' : formatMoney(amount, currency).trim();
    blocks.push({
      kind: 'table',
      head: [
        'Flow',
        'Users',
        'Impact',
        'Degraded mode',
        ...IMPACT_AFTER_MS.map((t) => `down ${ms(t)}`),
        `down ${ms(w.rtoMs)} (RTO)`,
      ],
      rows: w.flows.map((f) => {
        const at = (t: number): string =>
          money(f.downtimeCost === undefined ? undefined : (f.downtimeCost * t) / 3_600_000);
        return [f.name, f.users, f.impact, f.degraded ?? '—', ...IMPACT_AFTER_MS.map(at), at(w.rtoMs)];
      }),
    });
    const cost = workloadCost(ctx.plan, w);
    if (cost !== undefined)
      blocks.push({
        kind: 'fields',
        rows: [
          [
            'One disaster at the objectives',
            w.flows.some((f) => f.downtimeCost !== undefined)
              ? `${money(cost.disaster.total)} (downtime over the RTO ${money(cost.disaster.downtime)}, business whose data is lost over the RPO ${money(cost.disaster.dataLoss)})`
              : 'unknown: no flow states a downtime_cost',
          ],
          [
            'DR a year',
            `${money(cost.yearly.total)} for ${w.strategy}; the tier accepts ${cost.alternatives.map((a) => `${a.strategy} ${money(a.total)}`).join(', ')}`,
          ],
        ],
      });
  }
  if (ctx.workloads.length === 0) blocks.push({ kind: 'note', text: 'The plan has no workloads.' });
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Process requirements

function processRequirements(ctx: Context): Block[] {
  const { plan } = ctx;
  const blocks: Block[] = [];
  blocks.push(ctx.heading(3, 'This plan', 'plan'));
  const review = plan.review;
  const reviewText = review.last
    ? `last reviewed ${isoDate(review.last)}${review.by ? ` by ${ctx.name(review.by)}` : ''}; next review due ${isoDate(new Date(review.last.getTime() + review.intervalMs))}`
    : `no review recorded; review every ${ms(review.intervalMs)}`;
  blocks.push({
    kind: 'fields',
    rows: [
      ['Plan', plan.name],
      ...(plan.description ? ([['Description', plan.description]] as [string, Inline][]) : []),
      ['Version (content hash)', code(plan.hash)],
      ['Plan files', joinParts(plan.files.map((file) => code(file)))],
      ['Review', reviewText],
    ],
  });

  blocks.push(ctx.heading(3, 'Activation criteria'));
  const activation = plan.activation;
  if (activation) {
    blocks.push({ kind: 'paragraph', text: 'Declare DR when any of these holds:' });
    blocks.push({ kind: 'list', items: activation.criteria });
  } else {
    blocks.push({
      kind: 'note',
      text: 'The plan states no activation criteria. Agree them with the approvers before an incident.',
    });
  }

  blocks.push(ctx.heading(3, 'Who may declare DR'));
  if (activation) {
    blocks.push({
      kind: 'table',
      head: ['Approver', 'Role', 'Phone', 'E-mail', 'Backup'],
      rows: activation.approvers.map((id) => approverRow(ctx, id)),
    });
    blocks.push({
      kind: 'fields',
      rows: [
        ['Quorum', `${activation.quorum} of ${activation.approvers.length} approvers must agree`],
        ...(activation.declareWithinMs === undefined
          ? []
          : ([['Decide within', `${ms(activation.declareWithinMs)} of the criteria being met`]] as [
              string,
              Inline,
            ][])),
      ],
    });
  } else {
    blocks.push({
      kind: 'note',
      text: 'The plan names no approvers. Name who may declare DR before an incident.',
    });
  }

  blocks.push(ctx.heading(3, 'Recovery objectives per workload'));
  blocks.push({
    kind: 'table',
    head: ['Workload', 'Tier', 'Strategy', 'RTO', 'RPO', 'Owner', 'Failover'],
    rows: ctx.workloads.map((w) => [
      `${w.name} (${w.id})`,
      `${w.tier} ${plan.tiers[w.tier].name}`,
      w.strategy,
      `${ms(w.rtoMs)}${w.objectivesFrom.rto === 'tier' ? ' (tier default)' : ''}`,
      `${ms(w.rpoMs)}${w.objectivesFrom.rpo === 'tier' ? ' (tier default)' : ''}`,
      ctx.name(w.owner),
      w.automaticFailover
        ? `automatic after ${ms(w.detectAfterMs)} of confirmed loss`
        : 'declared by the approvers',
    ]),
  });

  blocks.push(ctx.heading(3, 'Tiers'));
  blocks.push({
    kind: 'table',
    head: ['Tier', 'Name', 'Availability objective', 'RTO', 'RPO', 'Source'],
    rows: ([0, 1, 2, 3] as const).map((tier) => {
      const policy = plan.tiers[tier];
      return [String(tier), policy.name, policy.slo, ms(policy.rtoMs), ms(policy.rpoMs), policy.source];
    }),
  });

  const comms = plan.communications;
  blocks.push(ctx.heading(3, 'Communication cadence'));
  blocks.push({
    kind: 'fields',
    rows: [
      ['Status page updated within', ms(comms.statusPageWithinMs)],
      ['Updates every', ms(comms.updatesEveryMs)],
      ['Root cause published within', ms(comms.rootCauseWithinMs)],
    ],
  });
  if (comms.templates.length > 0) {
    blocks.push({
      kind: 'table',
      head: ['Template', 'Sent on', 'Channel', 'To', 'Subject'],
      rows: comms.templates.map((t) => [code(t.id), t.on, t.channel, t.to.join(', '), t.subject ?? '']),
    });
  }

  blocks.push(ctx.heading(3, 'If a process requirement is not met'));
  const leads = activation
    ? activation.approvers.map((id) => ctx.name(id)).join(', ')
    : 'the workload owners';
  blocks.push({
    kind: 'paragraph',
    text: `Do not start a runbook. Tell ${leads}, record which requirement is missing (an approver, a contact, access, equipment), and agree in writing whether to wait, work around it, or change the recovery.`,
  });
  return blocks;
}

function approverRow(ctx: Context, id: string): Inline[] {
  const contact = ctx.contacts.get(id);
  if (!contact) return [code(id), '', '', '', ''];
  return [
    contact.name,
    contact.role ?? '',
    contact.phone ? [{ text: contact.phone, href: `tel:${contact.phone.replace(/[^+\d]/g, '')}` }] : '',
    contact.email ? [{ text: contact.email, href: `mailto:${contact.email}` }] : '',
    ctx.name(contact.backup),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// 2. Contact listing

function contactListing(ctx: Context): Block[] {
  const { plan } = ctx;
  const blocks: Block[] = [];
  if (plan.contacts.length === 0) {
    return [
      {
        kind: 'note',
        text: 'The plan lists no contacts. Every runbook needs at least a DR lead and a backup.',
      },
    ];
  }
  blocks.push({
    kind: 'table',
    head: ['Name', 'Id', 'Role', 'Phone', 'E-mail', 'Backup', 'Escalation path'],
    rows: plan.contacts.map((c) => [
      [{ text: c.name, strong: true }, ...(c.roles.length > 0 ? [{ text: ` (${c.roles.join(', ')})` }] : [])],
      code(c.id),
      c.role ?? '',
      c.phone ? [{ text: c.phone, href: `tel:${c.phone.replace(/[^+\d]/g, '')}` }] : '',
      c.email ? [{ text: c.email, href: `mailto:${c.email}` }] : '',
      ctx.name(c.backup),
      c.escalation.map((id) => ctx.name(id)).join(' → '),
    ]),
  });

  blocks.push(ctx.heading(3, 'Who is responsible for what'));
  const rows: Inline[][] = [];
  for (const id of plan.activation?.approvers ?? []) rows.push(['Declares DR', ctx.reach(id)]);
  for (const w of ctx.workloads)
    rows.push([`Owns ${w.name}: business validation and sign-off`, ctx.reach(w.owner)]);
  for (const runbook of ctx.runbooks) {
    const escalation = [...new Set(runbook.steps.flatMap((s) => (s.escalateTo ? [s.escalateTo] : [])))];
    for (const id of escalation)
      rows.push([`Escalation point for ${runbook.workload}/${runbook.name}`, ctx.reach(id)]);
    const owners = [...new Set(runbook.steps.flatMap((s) => (s.owner ? [s.owner] : [])))];
    for (const id of owners)
      rows.push([`Executes steps of ${runbook.workload}/${runbook.name}`, ctx.reach(id)]);
  }
  blocks.push({ kind: 'table', head: ['Responsibility', 'Contact'], rows });

  const withoutBackup = plan.contacts.filter((c) => c.backup === undefined);
  if (withoutBackup.length > 0) {
    blocks.push({
      kind: 'note',
      text: `No backup named for: ${withoutBackup.map((c) => c.name).join(', ')}. Find a stand-in before relying on them.`,
    });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------
// 3. Architecture

function architecture(ctx: Context): Block[] {
  const { plan } = ctx;
  const blocks: Block[] = [];
  blocks.push(ctx.heading(3, 'Sites'));
  blocks.push({
    kind: 'table',
    head: ['Site', 'Role', 'Location', 'Description'],
    rows: plan.sites.map((s) => [code(s.id), s.role, s.location ?? '', s.description ?? '']),
  });

  blocks.push(ctx.heading(3, 'Dependency diagram'));
  const graph = ctx.graph();
  if (graph.nodes.length === 0) {
    blocks.push({ kind: 'note', text: 'The plan lists no components.' });
  } else {
    blocks.push({
      kind: 'diagram',
      graph,
      caption:
        'Components in recovery order, left to right: each column is a wave that can be recovered in parallel once the columns before it are up. An arrow points from a dependency to the component that needs it.',
    });
  }

  for (const w of ctx.workloads) {
    blocks.push(ctx.heading(3, `Workload: ${w.name}`, 'workload', w.id));
    if (w.description) blocks.push({ kind: 'paragraph', text: w.description });
    blocks.push({
      kind: 'fields',
      rows: [
        ['Tier', `${w.tier} ${plan.tiers[w.tier].name}`],
        ['Strategy', w.strategy],
        ['RTO / RPO', `${ms(w.rtoMs)} / ${ms(w.rpoMs)}`],
        ['Owner', ctx.reach(w.owner, false)],
      ],
    });
    if (w.flows.length > 0) {
      blocks.push(ctx.heading(4, `User flows of ${w.name}`, 'flows', w.id));
      blocks.push({
        kind: 'table',
        head: ['Flow', 'Who relies on it', 'Impact when down', 'Reduced functionality'],
        rows: w.flows.map((f) => [f.name, f.users, f.impact, f.degraded ?? 'none: the flow is down']),
      });
    }
    if (w.components.length > 0) {
      blocks.push(ctx.heading(4, `Components of ${w.name}`, 'components', w.id));
      blocks.push({
        kind: 'table',
        head: ['Component', 'Kind', 'Tier / strategy', 'Placement', 'Data protection', 'Health probe'],
        rows: w.components.map((c) => [
          [
            { text: c.name, strong: true },
            { text: ' ' },
            { text: c.id, code: true },
            ...(c.description ? [{ text: `: ${c.description}` }] : []),
          ],
          c.kind,
          `${c.tier} / ${c.strategy}`,
          placementText(c),
          protectionText(c),
          probeText(c),
        ]),
      });
    }
  }
  return blocks;
}

function placementText(c: Component): Inline {
  if (c.placement.length === 0) return 'not placed';
  return joinParts(
    c.placement.map((p) => {
      const where = p.url ?? p.path ?? p.command;
      const parts: InlinePart[] = [{ text: `${p.site}${p.standby ? ' (standby)' : ''}` }];
      if (where) parts.push({ text: ': ' }, { text: where, code: true });
      return parts;
    }),
    '; ',
  );
}

function protectionText(c: Component): string {
  const parts: string[] = [];
  const r = c.replication;
  if (r) {
    let text = `${r.mode} replication`;
    if (r.from || r.to) text += ` ${r.from ?? 'primary'} → ${r.to ?? 'standby'}`;
    if (r.everyMs !== undefined) text += ` every ${ms(r.everyMs)}`;
    if (r.maxLagMs !== undefined) text += `, lag up to ${ms(r.maxLagMs)}`;
    parts.push(text);
  }
  for (const b of c.backups) {
    const keep = b.keep;
    const retention = [
      keep.daily ? `${keep.daily} daily` : '',
      keep.weekly ? `${keep.weekly} weekly` : '',
      keep.monthly ? `${keep.monthly} monthly` : '',
      keep.yearly ? `${keep.yearly} yearly` : '',
    ].filter(Boolean);
    parts.push(
      `${b.type} backup every ${ms(b.everyMs)} to ${b.to} (${b.media}${b.immutable ? ', immutable' : ''})` +
        `${retention.length > 0 ? `, keep ${retention.join(', ')}` : ''}; restore tested every ${ms(b.verifyEveryMs)}`,
    );
  }
  if (c.recoveryMs !== undefined) parts.push(`recovers in about ${ms(c.recoveryMs)}`);
  return parts.length > 0 ? parts.join(';\n') : 'none';
}

function probeText(c: Component): Inline {
  const p = c.probe;
  if (!p) return 'none';
  const target = p.url ?? p.tcp ?? p.run ?? '';
  return [
    { text: target, code: true },
    { text: ` every ${ms(p.intervalMs)}, timeout ${ms(p.timeoutMs)}, down after ${p.failures} failures` },
  ];
}

/** Components in scope, plus whatever they depend on elsewhere (shared services belong in the picture). */
function componentsInScope(ctx: Context): Component[] {
  const wanted = new Set<string>();
  const visit = (id: string): void => {
    if (wanted.has(id) || !ctx.components.has(id)) return;
    wanted.add(id);
    for (const need of ctx.components.get(id)?.dependsOn ?? []) visit(need);
  };
  for (const w of ctx.workloads) for (const c of w.components) visit(c.id);
  return [...ctx.components.values()].filter((c) => wanted.has(c.id));
}

function dependencyGraph(ctx: Context): DependencyGraph {
  const components = componentsInScope(ctx);
  const ids = new Set(components.map((c) => c.id));
  const waves = recoveryWaves(components);
  return {
    nodes: components.map((c) => ({
      id: c.id,
      label: c.name,
      detail: `${c.kind} · tier ${c.tier}`,
      tier: c.tier,
      group: c.workload,
    })),
    edges: components.flatMap((c) =>
      c.dependsOn.filter((d) => ids.has(d)).map((d) => ({ from: d, to: c.id })),
    ),
    waves,
  };
}

// ---------------------------------------------------------------------------------------------------------
// 4. Dependencies

function dependencies(ctx: Context): Block[] {
  const blocks: Block[] = [];
  const components = componentsInScope(ctx);
  if (components.length === 0) return [{ kind: 'note', text: 'The plan lists no components.' }];
  const graph = ctx.graph();
  blocks.push(ctx.heading(3, 'Recovery order'));
  blocks.push({
    kind: 'paragraph',
    text: 'Recover the foundation first, then follow the workflow: every wave needs only the waves before it, and the components of one wave can be recovered in parallel.',
  });
  blocks.push({
    kind: 'list',
    ordered: true,
    items: graph.waves.map((wave, index) => [
      { text: `Wave ${index + 1}:`, strong: true },
      { text: ' ' },
      ...joinParts(wave.map((id) => [{ text: componentLabel(ctx, id) }])),
    ]),
  });
  blocks.push(ctx.heading(3, 'Relationships'));
  const neededBy = new Map<string, string[]>();
  for (const c of components)
    for (const d of c.dependsOn) neededBy.set(d, [...(neededBy.get(d) ?? []), c.id]);
  blocks.push({
    kind: 'table',
    head: ['Component', 'Workload', 'Depends on', 'Needed by', 'Points at data in'],
    rows: components.map((c) => [
      code(c.id),
      ctx.workload(c.workload)?.name ?? c.workload,
      c.dependsOn.length > 0 ? joinParts(c.dependsOn.map(code)) : 'nothing',
      (neededBy.get(c.id) ?? []).length > 0 ? joinParts((neededBy.get(c.id) ?? []).map(code)) : 'nothing',
      c.references.length > 0 ? joinParts(c.references.map(code)) : '',
    ]),
  });
  if (components.some((c) => c.references.length > 0)) {
    blocks.push({
      kind: 'note',
      text: 'A component that points at data in another one must be restored to a consistent point with it: a row restored from a later backup may point at a file or blob the other store never had.',
    });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------
// 5. DR prerequisites

function prerequisites(ctx: Context): Block[] {
  const blocks: Block[] = [];
  const activation = ctx.plan.activation;
  blocks.push(ctx.heading(3, 'Before any runbook'));
  blocks.push({
    kind: 'list',
    checklist: true,
    items: [
      activation
        ? `DR is declared by ${activation.quorum} of: ${activation.approvers.map((id) => ctx.name(id)).join(', ')}.`
        : 'DR is declared by the approvers.',
      'The DR executor and their backup are reachable and have the access each runbook needs.',
      'This document matches the plan version in use (compare the content hash above).',
    ],
  });
  for (const runbook of ctx.runbooks) {
    blocks.push(
      ctx.heading(3, `${runbookTitle(ctx, runbook)}`, 'prerequisites', runbook.workload, runbook.name),
    );
    if (runbook.prerequisites.length > 0) {
      blocks.push({ kind: 'list', checklist: true, items: runbook.prerequisites });
    } else {
      blocks.push({ kind: 'paragraph', text: 'No prerequisites beyond the ones above.' });
    }
  }
  blocks.push(ctx.heading(3, 'If a prerequisite is not met'));
  blocks.push({
    kind: 'paragraph',
    text: 'Do not start the runbook. Record which prerequisite failed, call the workload owner and the DR approvers, and agree whether to wait for it, work around it, or choose another recovery.',
  });
  return blocks;
}

function runbookTitle(ctx: Context, runbook: Runbook): string {
  const workload = ctx.workload(runbook.workload);
  return `${workload?.name ?? runbook.workload} / ${runbook.name}`;
}

// ---------------------------------------------------------------------------------------------------------
// 6. Technical recovery

function technicalRecovery(ctx: Context): Block[] {
  const blocks: Block[] = [];
  if (ctx.runbooks.length === 0) return [{ kind: 'note', text: 'The plan has no runbooks yet.' }];
  for (const runbook of ctx.runbooks) blocks.push(...runbookBlocks(ctx, runbook));
  return blocks;
}

function runbookBlocks(ctx: Context, runbook: Runbook): Block[] {
  const blocks: Block[] = [];
  const workload = ctx.workload(runbook.workload);
  const order = runOrder(runbook);
  blocks.push(
    ctx.heading(
      3,
      `${runbookTitle(ctx, runbook)} (${runbook.kind})`,
      'runbook',
      runbook.workload,
      runbook.name,
    ),
  );
  if (runbook.description) blocks.push({ kind: 'paragraph', text: runbook.description });

  const rows: [string, Inline][] = [['Runbook', code(`${runbook.workload}/${runbook.name}`)]];
  rows.push([
    'Critical path',
    `${ms(order.criticalPathMs)} with contingency: ${order.criticalPath.map((s) => s.id).join(' → ')}`,
  ]);
  const verdict = ctx.analysis.runbooks.find(
    (r) => r.workload === runbook.workload && r.runbook === runbook.name,
  );
  if (workload && verdict) {
    if (!verdict.rtoApplies) {
      rows.push([
        'Against the RTO',
        `not measured: a ${runbook.kind} runbook is planned, not an outage (the RTO is ${ms(workload.rtoMs)})`,
      ]);
    } else if (verdict.fits) {
      rows.push([
        'Against the RTO',
        `fits the RTO of ${ms(workload.rtoMs)} with ${ms(workload.rtoMs - order.criticalPathMs)} to spare`,
      ]);
    } else {
      rows.push(['Against the RTO', `EXCEEDS the RTO of ${ms(workload.rtoMs)} by ${ms(verdict.overMs)}`]);
      const remedies = verdict.remedies.map((r) => r.message);
      rows.push([
        'What would help',
        remedies.length > 0
          ? remedies.join('; ')
          : 'automate manual steps, run steps in parallel, uplift components, or extend the RTO with the stakeholders',
      ]);
    }
  }
  rows.push(['One executor, step after step', ms(order.sequentialMs)]);
  blocks.push({ kind: 'fields', rows });

  blocks.push(ctx.heading(4, 'Run order', 'run-order', runbook.workload, runbook.name));
  blocks.push({
    kind: 'table',
    head: ['#', 'Wave', 'Step', 'Kind', 'Performed by', 'Expected', 'Contingency', 'After'],
    rows: order.waves.flatMap((wave, index) =>
      wave.map((step) => [
        String(order.position.get(step.id)?.order ?? ''),
        String(index + 1),
        [{ text: step.name }, { text: ' ' }, { text: step.id, code: true }],
        STEP_KIND[step.kind],
        ctx.name(step.owner),
        ms(step.expectedMs),
        ms(step.contingencyMs),
        step.needs.join(', '),
      ]),
    ),
  });

  const total = runbook.steps.length;
  for (const wave of order.waves) {
    for (const step of wave) {
      const position = order.position.get(step.id);
      const number = position?.order ?? 0;
      blocks.push(
        ctx.heading(4, `Step ${number}. ${step.name}`, 'step', runbook.workload, runbook.name, step.id),
      );
      const parallel = wave.filter((other) => other.id !== step.id).map((other) => other.id);
      blocks.push({
        kind: 'fields',
        rows: stepFields(
          ctx,
          workload,
          step,
          `wave ${position?.wave ?? '?'}, step ${number} of ${total}`,
          parallel,
        ),
      });
      if (step.validate.length > 0) {
        blocks.push({ kind: 'paragraph', text: [{ text: 'Validation', strong: true }] });
        blocks.push({ kind: 'list', checklist: true, items: step.validate.map(checkText) });
      }
      if (step.evidence.length > 0) {
        blocks.push({ kind: 'paragraph', text: [{ text: 'Evidence to attach', strong: true }] });
        blocks.push({ kind: 'list', checklist: true, items: step.evidence });
      }
      blocks.push({ kind: 'fields', rows: [['Record', RECORD_LINE]] });
    }
  }
  return blocks;
}

function stepFields(
  ctx: Context,
  workload: Workload | undefined,
  step: Step,
  position: string,
  parallel: string[],
): [string, Inline][] {
  const rows: [string, Inline][] = [];
  rows.push([
    'Run order',
    parallel.length > 0 ? `${position}; may run in parallel with ${parallel.join(', ')}` : position,
  ]);
  rows.push(['Step id', code(step.id)]);
  if (step.description) rows.push(['Description', step.description]);
  const before: string[] = [];
  if (step.needs.length > 0) before.push(`After ${step.needs.join(', ')} finished.`);
  if (step.prerequisite) before.push(step.prerequisite);
  if (before.length > 0) rows.push(['Prerequisite', before.join(' ')]);
  if (step.owner) rows.push(['Performed by', ctx.reach(step.owner)]);
  rows.push(['Kind', STEP_KIND[step.kind]]);

  if (step.run !== undefined) rows.push(['Command', code(step.run)]);
  if (step.action !== undefined) {
    rows.push(['Action', code(step.action)]);
    const params = Object.entries(step.with);
    if (params.length > 0)
      rows.push([
        'Parameters',
        joinParts(params.map(([key, value]) => code(`${key}: ${JSON.stringify(value)}`))),
      ]);
  }
  if (step.manual !== undefined) rows.push(['Instructions', step.manual]);
  if (step.approval) {
    const a = step.approval;
    const who = [...a.by.map((id) => ctx.name(id)), ...(a.role ? [`anyone holding the role ${a.role}`] : [])];
    rows.push([
      'Approval',
      `${a.quorum} of: ${who.join(', ') || 'any approver'}${a.fourEyes ? '; four-eyes: the approver may not be the person who started the run' : ''}`,
    ]);
  }
  if (step.wait) {
    const w = step.wait;
    const parts: string[] = [];
    if (w.forMs !== undefined) parts.push(`wait ${ms(w.forMs)}`);
    if (w.until) parts.push(`wait until: ${plainCheck(w.until)} (checked every ${ms(w.everyMs)})`);
    if (w.deadlineMs !== undefined) parts.push(`give up after ${ms(w.deadlineMs)}`);
    rows.push(['Wait', parts.join('; ')]);
  }

  const clients = step.clientsMove;
  let time =
    clients === undefined
      ? `${ms(step.expectedMs)} expected + ${ms(step.contingencyMs)} contingency = ${ms(step.expectedMs + step.contingencyMs)}`
      : `${ms(step.expectedMs)} expected + ${ms(step.contingencyMs)} contingency + ${ms(clients.ms)} until clients move (${clients.reason}) = ${ms(stepCostMs(step))}`;
  if (step.timeoutMs !== undefined) time += `; stopped after ${ms(step.timeoutMs)}`;
  if (step.retries.attempts > 0) time += `; retried up to ${step.retries.attempts} times`;
  rows.push(['Expected time', time]);

  let failure = `${step.onFailure}: ${FAILURE_PROCESS[step.onFailure]}`;
  if (step.undo) {
    const undo = step.undo.description ?? step.undo.run ?? step.undo.action ?? '';
    failure += ` Roll back with: ${undo}`;
  }
  rows.push(['If it fails', failure]);

  const escalation =
    step.escalateTo ??
    (step.owner ? ctx.contacts.get(step.owner)?.escalation[0] : undefined) ??
    workload?.owner;
  if (escalation) rows.push(['Escalation', ctx.reach(escalation)]);
  return rows;
}

function plainCheck(check: Check): string {
  const where = [check.component, check.site].filter(Boolean).join('@');
  if (check.run !== undefined) return `command \`${check.run}\` exits 0`;
  if (check.http) {
    const h = check.http;
    let text = `${h.method} ${h.url} answers ${h.status}`;
    if (h.bodyContains !== undefined) text += ` containing "${h.bodyContains}"`;
    if (h.latencyMs !== undefined) text += ` within ${ms(h.latencyMs)}`;
    return text;
  }
  if (check.sql !== undefined)
    return `query on ${where || 'the database'}: ${check.sql}${check.expect === undefined ? '' : ` gives ${JSON.stringify(check.expect)}`}`;
  if (check.check !== undefined) {
    const params = Object.entries(check.with).map(
      ([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
    return `${check.check}${where ? ` on ${where}` : ''}${params.length > 0 ? ` (${params.join(', ')})` : ''}${check.expect === undefined ? '' : ` gives ${JSON.stringify(check.expect)}`}`;
  }
  return check.name;
}

function checkText(check: Check): Inline {
  const parts: InlinePart[] = [];
  if (check.name) parts.push({ text: `${check.name}:`, strong: true }, { text: ' ' });
  if (check.run !== undefined) parts.push({ text: 'run ' }, { text: check.run, code: true });
  else if (check.sql !== undefined) {
    const where = [check.component, check.site].filter(Boolean).join('@');
    parts.push({ text: `query${where ? ` on ${where}` : ''} ` }, { text: check.sql, code: true });
    if (check.expect !== undefined) parts.push({ text: ` expecting ${JSON.stringify(check.expect)}` });
  } else parts.push({ text: plainCheck(check) });
  if (check.evidence) parts.push({ text: `. Proves: ${check.evidence}` });
  return parts;
}

// ---------------------------------------------------------------------------------------------------------
// 7. Technical recovery: post-requisites

function postRequisites(ctx: Context): Block[] {
  const blocks: Block[] = [];
  for (const runbook of ctx.runbooks) {
    blocks.push(ctx.heading(3, runbookTitle(ctx, runbook), 'post', runbook.workload, runbook.name));
    blocks.push({
      kind: 'list',
      checklist: true,
      items: [
        ...runbook.postRequisites,
        'Confirm the current date and time stamp of the data in each data component.',
        'Confirm the addresses of the recovered system (below).',
        'Prepare the business review: the business SMEs have access and know what to validate.',
      ],
    });
  }
  blocks.push(ctx.heading(3, 'Addresses of the system at each site'));
  const rows: Inline[][] = [];
  for (const w of ctx.workloads) {
    for (const c of w.components) {
      for (const p of c.placement) {
        const where = p.url ?? p.path ?? p.command;
        if (where) rows.push([code(c.id), `${p.site}${p.standby ? ' (standby)' : ''}`, code(where)]);
      }
    }
  }
  if (rows.length > 0)
    blocks.push({ kind: 'table', head: ['Component', 'Site', 'Address or command'], rows });
  else blocks.push({ kind: 'paragraph', text: 'The plan records no addresses.' });
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------
// 8. Business stakeholder review and approval

function businessReview(ctx: Context): Block[] {
  const blocks: Block[] = [];
  for (const w of ctx.workloads) {
    blocks.push(ctx.heading(3, w.name, 'review', w.id));
    blocks.push({ kind: 'fields', rows: [['Business contact', ctx.reach(w.owner)]] });
    blocks.push({ kind: 'paragraph', text: [{ text: 'Business validation', strong: true }] });
    blocks.push({
      kind: 'list',
      checklist: true,
      items:
        w.flows.length > 0
          ? w.flows.map((f) => `${f.name} works for ${f.users}.`)
          : ['The workload does what its users rely on (the plan lists no user flows).'],
    });
    const evidence = ctx.runbooks
      .filter((r) => r.workload === w.id)
      .flatMap((r) =>
        r.steps.flatMap((s) => [
          ...s.evidence.map((e) => `${r.name}/${s.id}: ${e}`),
          ...s.validate.flatMap((c) => (c.evidence ? [`${r.name}/${s.id}: ${c.evidence}`] : [])),
        ]),
      );
    blocks.push({ kind: 'paragraph', text: [{ text: 'Evidence trail for the approver', strong: true }] });
    blocks.push({
      kind: 'list',
      checklist: true,
      items: evidence.length > 0 ? evidence : ['The completed runbook with every step recorded.'],
    });
    blocks.push({
      kind: 'paragraph',
      text: w.signoff
        ? `Tier and objectives signed off by ${ctx.name(w.signoff.by)} on ${isoDate(w.signoff.at)}${w.signoff.note ? `: ${w.signoff.note.replace(/[.\s]+$/, '')}` : ''}.`
        : 'The tier and objectives of this workload have no recorded sign-off.',
    });
    // one row per person, with every capacity they sign in
    const signers = new Map<string, string[]>();
    const sign = (name: string, role: string): void => {
      const roles = signers.get(name) ?? [];
      const same = (a: string): boolean =>
        a.toLowerCase().replace(/[-_]/g, ' ') === role.toLowerCase().replace(/[-_]/g, ' ');
      if (!roles.some(same)) roles.push(role);
      signers.set(name, roles);
    };
    sign(ctx.name(w.owner), 'Business owner');
    for (const id of ctx.plan.activation?.approvers ?? []) sign(ctx.name(id), 'DR approver');
    for (const c of ctx.plan.contacts)
      for (const role of c.roles) if (/owner|approver|sme/i.test(role)) sign(c.name, role);
    blocks.push({
      kind: 'table',
      signatures: true,
      head: ['Role', 'Name', 'Signature', 'Date and time'],
      rows: [
        ...[...signers].map(([name, roles]) => [roles.join(', '), name, '', '']),
        ['Business SME', '', '', ''],
      ],
    });
  }
  if (ctx.workloads.length === 0) blocks.push({ kind: 'note', text: 'The plan has no workloads.' });
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------
// 9. Recovery post-requisites

function recoveryPostRequisites(ctx: Context): Block[] {
  const comms = ctx.plan.communications;
  const items: Inline[] = [
    ...RECOVERY_POST_REQUISITES,
    `Publish the root cause within ${ms(comms.rootCauseWithinMs)} and hold the DR debrief.`,
    [
      { text: 'Update the plan with what the recovery taught; this document was rendered from version ' },
      { text: ctx.plan.hash.slice(0, 12), code: true },
      { text: '.' },
    ],
  ];
  const blocks: Block[] = [{ kind: 'list', checklist: true, items }];
  blocks.push(ctx.heading(3, 'Return to the primary site'));
  for (const w of ctx.workloads) {
    const failback = w.runbooks.find((r) => r.kind === 'failback');
    blocks.push({
      kind: 'paragraph',
      text: failback
        ? [
            { text: `${w.name}: fail back with ` },
            { text: `${w.id}/${failback.name}`, code: true },
            { text: ' once the primary site is healthy and the approvers agree on a window.' },
          ]
        : w.strategy === 'backup-restore'
          ? `${w.name}: restored where it runs, so there is nothing to fail back.`
          : `${w.name}: no failback runbook. Plan the return to the primary site as carefully as the failover.`,
    });
  }
  return blocks;
}
