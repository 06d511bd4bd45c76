/** Architecture: sites, the dependency diagram, and each workload's components with their placement, protection and probes. */
import type { Component } from '../../plan/model.ts';
import { ms, code, joinParts, type Context } from '../document-context.ts';
import type { Block, Inline, InlinePart } from '../document-model.ts';

export function architecture(ctx: Context): Block[] {
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
