/**
 * The public status page: a snapshot of every workload's user flows (state from the dependency graph),
 * the open incidents with their updates, scheduled maintenance and the history, as JSON, as a small
 * self-contained HTML page readable on a phone (no script, no external asset), and as an Atom feed.
 * Only what the public may read goes in: no run ids' journals, no people, no channel details.
 */
import { escapeHtml } from '../render/escape.ts';
import type { Plan } from '../plan/model.ts';
import { flowImpact, worstFlowState, type ComponentState, type FlowState } from './impact.ts';
import { componentStates, type Incident } from './incidents.ts';

export interface StatusFlow {
  name: string;
  users: string;
  state: FlowState;
  /** The plan's words for what still works, shown when the flow is degraded. */
  degraded: string | undefined;
}

export interface StatusIncident {
  id: string;
  kind: Incident['kind'];
  title: string;
  state: Incident['state'];
  openedAt: string;
  resolvedAt: string | undefined;
  startsAt: string | undefined;
  endsAt: string | undefined;
  /** Flows this incident takes away, per the graph: `workload/flow` with the state it gives them. */
  affected: Array<{ workload: string; flow: string; state: FlowState }>;
  updates: Array<{ at: string; state: Incident['state']; body: string }>;
}

export interface StatusSnapshot {
  name: string;
  generatedAt: string;
  overall: FlowState;
  workloads: Array<{ id: string; name: string; state: FlowState; flows: StatusFlow[] }>;
  incidents: StatusIncident[];
  maintenance: StatusIncident[];
  history: StatusIncident[];
}

export interface StatusInput {
  plan: Plan;
  incidents: readonly Incident[];
  /** Component states from elsewhere (probes); incidents and maintenance are added to them. */
  components?: ReadonlyMap<string, ComponentState>;
  now?: Date;
  /** Resolved incidents shown. @default 20 */
  historyLimit?: number;
}

const LABEL: Record<FlowState, string> = {
  operational: 'Operational',
  'under-maintenance': 'Under maintenance',
  degraded: 'Degraded',
  'partial-outage': 'Partial outage',
  'major-outage': 'Major outage',
};

export function buildStatus(input: StatusInput): StatusSnapshot {
  const now = input.now ?? new Date();
  const { plan } = input;
  const states = new Map(input.components ?? []);
  for (const [id, state] of componentStates(input.incidents, now))
    if (states.get(id) !== 'down') states.set(id, state);
  const impact = flowImpact(plan, states);
  const workloads = plan.workloads
    .filter((w) => w.flows.length > 0)
    .map((w) => {
      const flows = w.flows.map((f): StatusFlow => {
        const state = impact.find((i) => i.workload === w.id && i.flow === f.name)?.state ?? 'operational';
        return { name: f.name, users: f.users, state, degraded: f.degraded };
      });
      return { id: w.id, name: w.name, state: worstFlowState(flows.map((f) => f.state)), flows };
    });
  const view = (incident: Incident): StatusIncident => {
    const lost = new Map(
      incident.components.map((id) => [id, incident.componentState] as [string, ComponentState]),
    );
    return {
      id: incident.id,
      kind: incident.kind,
      title: incident.title,
      state: incident.state,
      openedAt: incident.openedAt,
      resolvedAt: incident.resolvedAt,
      startsAt: incident.startsAt,
      endsAt: incident.endsAt,
      affected: flowImpact(plan, lost)
        .filter((f) => f.state !== 'operational')
        .map((f) => ({ workload: f.workload, flow: f.flow, state: f.state })),
      updates: [...incident.updates].reverse().map((u) => ({ at: u.at, state: u.state, body: u.body })),
    };
  };
  const open = input.incidents.filter((i) => i.state !== 'resolved');
  const maintenanceOver = (i: Incident): boolean => i.endsAt !== undefined && new Date(i.endsAt) <= now;
  return {
    name: plan.name,
    generatedAt: now.toISOString(),
    overall: worstFlowState(workloads.map((w) => w.state)),
    workloads,
    incidents: open.filter((i) => i.kind === 'incident').map(view),
    maintenance: open.filter((i) => i.kind === 'maintenance' && !maintenanceOver(i)).map(view),
    history: input.incidents
      .filter((i) => i.state === 'resolved' || (i.kind === 'maintenance' && maintenanceOver(i)))
      .slice(0, input.historyLimit ?? 20)
      .map(view),
  };
}

const STYLE = `
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f6f8fa}
main{max-width:46rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.banner{padding:.9rem 1rem;border-radius:.5rem;color:#fff;font-weight:600}
.s-operational{--c:var(--ok)}.s-degraded,.s-partial-outage{--c:var(--warn)}.s-major-outage{--c:var(--bad)}.s-under-maintenance{--c:var(--info)}
.banner{background:var(--c)}.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;margin:.5rem 0;padding:.75rem 1rem}
.flow{display:flex;justify-content:space-between;gap:1rem;padding:.4rem 0;border-top:1px solid var(--line)}.flow:first-of-type{border-top:0}
.state{color:var(--c);font-weight:600;white-space:nowrap}.muted{color:var(--muted);font-size:.9rem}
ol.updates{list-style:none;padding:0;margin:.5rem 0 0}ol.updates li{border-left:3px solid var(--line);padding:0 0 .5rem .75rem}
time{color:var(--muted);font-size:.85rem}footer{margin:2rem 0;color:var(--muted);font-size:.85rem}
`;

function time(iso: string): string {
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(iso.replace('T', ' ').slice(0, 16))} UTC</time>`;
}

function incidentHtml(incident: StatusIncident): string {
  const worst = worstFlowState(incident.affected.map((a) => a.state));
  const affected = incident.affected
    .map(
      (a) =>
        `<li class="s-${a.state}" data-flow="${escapeHtml(`${a.workload}/${a.flow}`)}">${escapeHtml(a.flow)} <span class="state">${LABEL[a.state]}</span></li>`,
    )
    .join('');
  const window =
    incident.startsAt && incident.endsAt
      ? `<p class="muted">Scheduled ${time(incident.startsAt)} – ${time(incident.endsAt)}</p>`
      : '';
  const updates = incident.updates
    .map(
      (u) =>
        `<li class="update"><strong class="update-state">${escapeHtml(capital(u.state))}</strong> — <span class="update-body">${escapeHtml(u.body)}</span><br>${time(u.at)}</li>`,
    )
    .join('');
  return `<article class="card incident s-${worst}" data-id="${escapeHtml(incident.id)}" data-state="${incident.state}">
<h3 class="incident-title">${escapeHtml(incident.title)}</h3>${window}
${affected ? `<p class="muted">Affected:</p><ul class="affected">${affected}</ul>` : ''}
<ol class="updates">${updates}</ol></article>`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function renderStatusHtml(status: StatusSnapshot): string {
  const workloads = status.workloads
    .map(
      (w) => `<section class="card workload" data-id="${escapeHtml(w.id)}"><h3>${escapeHtml(w.name)}</h3>
${w.flows
  .map(
    (f) =>
      `<div class="flow s-${f.state}" data-flow="${escapeHtml(f.name)}" data-state="${f.state}"><span>${escapeHtml(f.name)}<br><span class="muted">${escapeHtml(f.users)}${f.state === 'degraded' && f.degraded ? ` — ${escapeHtml(f.degraded)}` : ''}</span></span><span class="state">${LABEL[f.state]}</span></div>`,
  )
  .join('\n')}</section>`,
    )
    .join('\n');
  const section = (title: string, cls: string, items: StatusIncident[], empty: string): string =>
    `<section class="${cls}"><h2>${title}</h2>${items.length === 0 ? `<p class="muted">${empty}</p>` : items.map(incidentHtml).join('\n')}</section>`;
  const headline = status.overall === 'operational' ? 'All systems operational' : `${LABEL[status.overall]}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(status.name)} status</title>
<link rel="alternate" type="application/atom+xml" href="status/feed.atom" title="Incidents">
<style>${STYLE}</style></head>
<body><main>
<h1>${escapeHtml(status.name)} status</h1>
<div class="banner s-${status.overall}" id="overall" data-state="${status.overall}">${escapeHtml(headline)}</div>
${section('Incidents', 'incidents', status.incidents, 'No open incidents.')}
${status.maintenance.length > 0 ? section('Scheduled maintenance', 'maintenance', status.maintenance, '') : ''}
<h2>Services</h2>
${workloads}
${section('Past incidents', 'history', status.history, 'No incidents in the history.')}
<footer>Updated ${time(status.generatedAt)} · <a href="status.json">JSON</a> · <a href="status/feed.atom">Atom feed</a></footer>
</main></body></html>
`;
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One entry per incident update, newest first, so feed readers see every change. */
export function renderStatusAtom(status: StatusSnapshot, baseUrl: string): string {
  const all = [...status.incidents, ...status.maintenance, ...status.history];
  const entries = all
    .flatMap((incident) =>
      incident.updates.map((u, i) => ({
        id: `${incident.id}/${incident.updates.length - i}`,
        title: `${incident.title}: ${capital(u.state)}`,
        at: u.at,
        body: u.body,
        affected: incident.affected.map((a) => a.flow).join(', '),
      })),
    )
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, 100);
  const updated = entries[0]?.at ?? status.generatedAt;
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>${xml(status.name)} status</title>
<id>${xml(`${baseUrl}/status`)}</id>
<link rel="alternate" href="${xml(`${baseUrl}/status`)}"/>
<updated>${xml(updated)}</updated>
${entries
  .map(
    (e) =>
      `<entry><id>${xml(`${baseUrl}/status#${e.id}`)}</id><title>${xml(e.title)}</title><updated>${xml(e.at)}</updated><content type="text">${xml(e.body)}${e.affected ? xml(` Affected: ${e.affected}.`) : ''}</content></entry>`,
  )
  .join('\n')}
</feed>
`;
}

/** One page for several plans: each plan's workloads, and each incident's flows from every plan. */
export function buildPlansStatus(
  plans: readonly Plan[],
  incidents: readonly Incident[],
  options: { now?: Date; components?: ReadonlyMap<string, ComponentState> } = {},
): StatusSnapshot {
  const snapshots = plans.map((plan) => buildStatus({ plan, incidents, ...options }));
  const [first, ...rest] = snapshots;
  if (first === undefined) {
    const generatedAt = (options.now ?? new Date()).toISOString();
    return {
      name: 'drctl',
      generatedAt,
      overall: 'operational',
      workloads: [],
      incidents: [],
      maintenance: [],
      history: [],
    };
  }
  if (rest.length === 0) return first;
  const merge = (pick: (s: StatusSnapshot) => StatusIncident[]): StatusIncident[] =>
    pick(first).map((incident, i) => ({
      ...incident,
      affected: snapshots.flatMap((s) => pick(s)[i]?.affected ?? []),
    }));
  const workloads = snapshots.flatMap((s) => s.workloads);
  return {
    ...first,
    name: snapshots.map((s) => s.name).join(', '),
    overall: worstFlowState(workloads.map((w) => w.state)),
    workloads,
    incidents: merge((s) => s.incidents),
    maintenance: merge((s) => s.maintenance),
    history: merge((s) => s.history),
  };
}
