/**
 * What every chapter of the runbook document needs: lookups, the part of the plan in scope (one runbook,
 * or all), unique anchors, how to reach a contact, the dependency graph, and small formatting helpers.
 */
import { UsageError } from '../errors.ts';
import { analyzePlan, type Analysis } from '../analysis/index.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Component, Contact, Plan, Runbook, Workload } from '../plan/model.ts';
import { recoveryWaves } from './order.ts';
import type { Block, InlinePart, DependencyGraph, RenderOptions } from './document-model.ts';

/** What every chapter needs: lookups, the part of the plan in scope, and unique anchors. */
export class Context {
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

export function ms(value: number): string {
  return value === 0 ? '0s' : formatDuration(value);
}

export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function code(text: string): InlinePart[] {
  return [{ text, code: true }];
}

export function joinParts(groups: InlinePart[][], separator = ', '): InlinePart[] {
  return groups.flatMap((group, index) => (index === 0 ? group : [{ text: separator }, ...group]));
}

export function componentLabel(ctx: Context, id: string): string {
  const component = ctx.components.get(id);
  return component && component.name !== id ? `${component.name} (${id})` : id;
}

/** Components in scope, plus whatever they depend on elsewhere (shared services belong in the picture). */
export function componentsInScope(ctx: Context): Component[] {
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

export function runbookTitle(ctx: Context, runbook: Runbook): string {
  const workload = ctx.workload(runbook.workload);
  return `${workload?.name ?? runbook.workload} / ${runbook.name}`;
}
