/**
 * The drill report as a self-contained HTML page (inline CSS and SVG, nothing fetched when it is opened)
 * that stakeholders can read and archive, and the report's files: `<id>.json` beside `<id>.html`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeHtml as escapeHtmlText } from '../render/index.ts';
import { dataIntegrityHtml } from './data-integrity.ts';
import { formatMs } from './report.ts';
import type {
  DrillRehearsalReport,
  DrillReport,
  FailbackVerdict,
  TimelineEvent,
  TimelineKind,
  Verdict,
} from './report.ts';

/** Writes `<id>.json` and `<id>.html` into `dir` and answers their paths. */
export async function writeDrillReport(
  report: DrillReport,
  dir: string,
  options: DrillReportHtmlOptions = {},
): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.id}.json`);
  const html = join(dir, `${report.id}.html`);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderDrillReportHtml(report, options));
  return { json, html };
}

/** Escapes any value for HTML text and attributes (numbers and undefined included). */
export function escapeHtml(text: unknown): string {
  return escapeHtmlText(String(text));
}

const KIND_COLOURS: Partial<Record<TimelineKind, string>> = {
  'fault-injected': '#c62828',
  'fault-lifted': '#8e24aa',
  detected: '#ef6c00',
  'first-failure': '#ad1457',
  'first-success': '#2e7d32',
  'failback-started': '#1565c0',
  'failback-first-failure': '#ad1457',
  'failback-first-success': '#2e7d32',
};

const VERDICT_TARGETS: Record<Verdict['target'], string> = {
  rto: 'RTO (as the client saw it)',
  rpo: 'RPO (acknowledged writes lost)',
  failover: 'Failover',
};

function verdictObjective(v: Verdict): string {
  if (v.failover === undefined) return formatMs(v.objectiveMs);
  return v.failover.expected ? 'fail over' : 'no failover';
}

function verdictMeasured(v: Verdict, m: DrillReport['measured']): string {
  if (v.failover !== undefined)
    return v.failover.runs.length === 0
      ? 'none started'
      : `${v.failover.runs.length} run${v.failover.runs.length === 1 ? '' : 's'} started`;
  return v.target === 'rpo'
    ? `${m.lostWrites.count} writes, ${formatMs(v.measuredMs)}`
    : formatMs(v.measuredMs);
}

/** The report as one HTML page: inline CSS and SVG, no script, nothing loaded from the network. */
export interface DrillReportHtmlOptions {
  /** HTML of the trends section (trends.ts), drawn after the canary chart. @default none */
  trends?: string;
}

export function renderDrillReportHtml(report: DrillReport, options: DrillReportHtmlOptions = {}): string {
  const e = escapeHtml;
  const m = report.measured;
  const verdictRows = report.verdicts
    .map(
      (v) => `<tr data-verdict="${e(v.target)}" class="${v.pass ? 'pass' : 'fail'}">
  <th scope="row">${VERDICT_TARGETS[v.target]}</th>
  <td>${e(verdictObjective(v))}</td><td>${e(verdictMeasured(v, m))}</td>
  <td><span class="badge">${v.pass ? 'pass' : 'fail'}</span></td><td>${e(v.detail)}</td></tr>`,
    )
    .join('\n');
  const timelineRows = report.timeline
    .map(
      (t) =>
        `<tr class="k-${e(t.kind)}"><td class="num">${e(formatSeconds(t.at))}</td><td>${e(t.kind)}</td><td>${e(t.step === undefined ? '' : t.runbook === 'failback' ? `failback/${t.step}` : t.step)}</td><td>${e(t.detail)}</td></tr>`,
    )
    .join('\n');
  const findings =
    report.findings.length === 0
      ? '<p>No findings.</p>'
      : `<ul class="findings">${report.findings
          .map(
            (f) =>
              `<li class="${e(f.severity)}"><code>${e(f.code)}</code> ${e(f.message)}${f.hint === undefined ? '' : `<br><small>${e(f.hint)}</small>`}</li>`,
          )
          .join('')}</ul>`;
  const evidence =
    report.evidence.length === 0
      ? '<p>No evidence attached.</p>'
      : report.evidence
          .map(
            (ev) =>
              `<details><summary>${e(ev.name)}</summary><pre>${e(JSON.stringify(ev.value, null, 2))}</pre></details>`,
          )
          .join('\n');
  const lost =
    m.lostWrites.count === 0
      ? '<p>No acknowledged write was lost.</p>'
      : `<p>${m.lostWrites.count} acknowledged writes missing${m.lostWrites.ids.length < m.lostWrites.count ? ` (first ${m.lostWrites.ids.length} listed)` : ''}:</p><p class="ids">${m.lostWrites.ids.map((id) => `<code>${e(id)}</code>`).join(' ')}</p>`;
  const faults = report.scenario.faults
    .map((f) => `${f.kind} ${f.target} at ${formatSeconds(f.atMs)}`)
    .join('; ');
  const reads =
    m.reads === undefined
      ? ''
      : card(
          'Reads available',
          `${(m.reads.availability * 100).toFixed(1)} %`,
          `${m.reads.samples} reads of ${m.reads.url}`,
          'reads',
        );

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drill report: ${e(report.scenario.id)} (${report.passed ? 'passed' : 'failed'})</title>
<style>
  :root { --ok: #2e7d32; --bad: #c62828; --ink: #1a1a1a; --muted: #5f6368; --line: #dadce0; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 1040px; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
  .meta { color: var(--muted); margin: 0 0 1rem; }
  .overall { display: inline-block; padding: .2rem .7rem; border-radius: 4px; color: #fff; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .overall.pass { background: var(--ok); } .overall.fail { background: var(--bad); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .75rem; margin: 1rem 0; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
  .card .label { color: var(--muted); font-size: .85rem; } .card .value { font-size: 1.5rem; font-weight: 600; } .card .sub { color: var(--muted); font-size: .8rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
  tr.pass .badge { background: var(--ok); } tr.fail .badge { background: var(--bad); }
  .badge { color: #fff; border-radius: 3px; padding: .05rem .45rem; font-weight: 600; text-transform: uppercase; font-size: .8rem; }
  .chart { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
  .legend span { margin-right: 1rem; font-size: .85rem; } .sw { display: inline-block; width: .8rem; height: .8rem; vertical-align: -1px; margin-right: .3rem; }
  .findings li.error code { color: var(--bad); } .findings li.warning code { color: #ef6c00; }
  .ids code { font-size: .8rem; margin-right: .3rem; } pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .8rem; }
  @media print { body { margin: 0; max-width: none; } details { page-break-inside: avoid; } details > * { display: block; } }
</style>
</head>
<body>
<header>
<h1>Drill report: ${e(report.scenario.id)} <span class="overall ${report.passed ? 'pass' : 'fail'}" data-testid="overall">${report.passed ? 'passed' : 'failed'}</span></h1>
<p class="meta">Workload <strong>${e(report.workload.name)}</strong>${report.workload.tier === undefined ? '' : ` (tier ${e(report.workload.tier)}, ${e(report.workload.strategy ?? '')})`} · disaster ${e(report.scenario.disaster)} · ${e(report.scenario.type)} drill · runbook ${e(report.scenario.runbook)}<br>
${e(report.startedAt)} → ${e(report.finishedAt)} (${e(formatMs(report.durationMs))})${report.plan === undefined ? '' : ` · plan ${e(report.plan.name)} <code>${e(report.plan.hash.slice(0, 12))}</code>`}${faults === '' ? '' : `<br>Faults: ${e(faults)}`}${report.scenario.description === undefined ? '' : `<br>${e(report.scenario.description)}`}</p>
</header>
<section class="cards">
${card('Detection', formatMs(m.detectionMs), 'fault → detected', 'detection')}
${card('RTO as the client saw it', formatMs(m.rtoMs), `objective ${formatMs(report.targets.rtoMs)}`, 'rto')}
${card('Client outage', formatMs(m.outageMs), 'first failed → first acknowledged write', 'outage')}
${card('Acknowledged writes lost', String(m.lostWrites.count), `${formatMs(m.lostWrites.spanMs)} of data · objective ${formatMs(report.targets.rpoMs)}`, 'lost')}
${card('Writes', `${m.writes.acknowledged} / ${m.writes.sent}`, `acknowledged / sent · ${m.writes.failed} failed`, 'writes')}
${reads}
</section>
<h2>Targets</h2>
<table class="verdicts"><thead><tr><th>Target</th><th>Objective</th><th>Measured</th><th>Result</th><th>Why</th></tr></thead>
<tbody>
${verdictRows}
</tbody></table>
${renderFailback(report)}
${renderSafety(report)}
${dataIntegrityHtml(report.dataIntegrity)}
${rehearsalHtml(report.rehearsal)}
<h2>Canary writes over time</h2>
${renderChart(report)}
<p class="legend"><span><i class="sw" style="background:var(--ok)"></i>acknowledged</span><span><i class="sw" style="background:var(--bad)"></i>failed</span><span><i class="sw" style="background:#1565c0;opacity:.35"></i>runbook step</span></p>
${options.trends ?? ''}
<h2>Timeline</h2>
<table class="timeline"><thead><tr><th>At</th><th>Event</th><th>Step</th><th>Detail</th></tr></thead>
<tbody>
${timelineRows}
</tbody></table>
<h2>Data lost</h2>
${lost}
<h2>Findings</h2>
${findings}
<h2>Evidence</h2>
${evidence}
<footer><p class="meta">drctl drill report · format ${e(report.format)} · id ${e(report.id)}</p></footer>
</body>
</html>
`;
}

/** The guards, the preflight and why the drill was aborted; nothing for a drill without them. */
function renderSafety(report: DrillReport): string {
  const s = report.safety;
  if (s === undefined) return '';
  const e = escapeHtml;
  const aborted =
    s.aborted === undefined
      ? ''
      : `<p class="fail" data-testid="aborted"><strong>Aborted</strong> at ${e(formatMs(s.aborted.atMs))} (${e(s.aborted.by)}): ${e(s.aborted.reason)}. Every fault undone ${s.aborted.undoneMs === undefined ? '' : `${e(formatMs(s.aborted.undoneMs))} later`}.</p>`;
  const guards = s.guards
    .map(
      (g) =>
        `<tr><td>${e(g.name)}</td><td>${g.checks}</td><td>${g.failed}</td><td class="${g.tripped ? 'fail' : 'pass'}">${g.tripped ? 'tripped' : 'held'}</td><td>${e(g.last ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<h2>Safety</h2>
<p class="meta">Environment: ${e(s.environment)} · maximum duration ${e(formatMs(s.maxDurationMs))}${s.preflight.length === 0 ? '' : ` · preflight: ${e(s.preflight.join(', '))}`}</p>
${aborted}
${s.guards.length === 0 ? '' : `<table class="verdicts" data-testid="guards"><thead><tr><th>Guard</th><th>Checks</th><th>Failed</th><th>Result</th><th>Last</th></tr></thead><tbody>${guards}</tbody></table>`}`;
}

const FAILBACK_TARGETS: Record<FailbackVerdict['target'], string> = {
  outage: 'Failback outage (as the client saw it)',
  rpo: 'Acknowledged writes lost (whole drill)',
  run: 'Failback runbook succeeded',
};

/** The failback phase: its verdicts and its steps; nothing when the drill ran without one. */
function renderFailback(report: DrillReport): string {
  const f = report.failback;
  if (f === undefined) return '';
  const e = escapeHtml;
  const measured = (v: FailbackVerdict): string =>
    v.target === 'rpo'
      ? `${f.lostWrites.count} writes, ${formatMs(v.measuredMs)}`
      : v.target === 'run'
        ? `${f.status} in ${formatMs(v.measuredMs)}`
        : formatMs(v.measuredMs);
  const rows = f.verdicts
    .map(
      (v) => `<tr data-verdict="failback-${e(v.target)}" class="${v.pass ? 'pass' : 'fail'}">
  <th scope="row">${e(FAILBACK_TARGETS[v.target])}</th>
  <td>${v.objectiveMs === undefined ? 'none' : e(formatMs(v.objectiveMs))}</td><td>${e(measured(v))}</td>
  <td><span class="badge">${v.pass ? 'pass' : 'fail'}</span></td><td>${e(v.detail)}</td></tr>`,
    )
    .join('\n');
  const steps = f.steps
    .map(
      (s) =>
        `<tr><td class="num">${s.atMs === undefined ? '—' : e(formatSeconds(s.atMs))}</td><td>${e(s.id)}</td><td>${e(s.name)}</td><td>${e(s.status)}</td><td class="num">${e(formatMs(s.durationMs))}</td><td>${e(s.error ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<h2 id="failback">Failback</h2>
<p class="meta">Run ${e(f.runId)} of runbook ${e(f.runbook)}, started by drill, approvals by ${e(f.approvedBy)}; ${e(f.startedAt)} → ${e(f.finishedAt)}. Data checked at ${e(f.dataSite)}${f.servedBy === undefined ? '' : `; the last write was served by ${e(f.servedBy)}`}.</p>
<section class="cards">
${card('Failback duration', formatMs(f.durationMs), 'run start → run end', 'failback-duration')}
${card('Failback outage', formatMs(f.outageMs), 'first failed → first acknowledged write', 'failback-outage')}
${card('Acknowledged writes lost', String(f.lostWrites.count), `whole drill · ${formatMs(f.lostWrites.spanMs)} of data`, 'failback-lost')}
${card('Writes during failback', `${f.writes.acknowledged} / ${f.writes.sent}`, `acknowledged / sent · ${f.writes.failed} failed`, 'failback-writes')}
</section>
<table class="verdicts failback"><thead><tr><th>Target</th><th>Objective</th><th>Measured</th><th>Result</th><th>Why</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<table class="failback-steps"><thead><tr><th>At</th><th>Step</th><th>Name</th><th>Status</th><th>Took</th><th>Error</th></tr></thead>
<tbody>
${steps}
</tbody></table>`;
}

function card(label: string, value: string, sub: string, id: string): string {
  const e = escapeHtml;
  return `<div class="card" data-card="${e(id)}"><div class="label">${e(label)}</div><div class="value">${e(value)}</div><div class="sub">${e(sub)}</div></div>`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Columns of acknowledged (green, up) and failed (red, down) writes per bucket, with markers and step bands. */
function renderChart(report: DrillReport): string {
  const e = escapeHtml;
  const width = 960;
  const left = 44;
  const right = 12;
  // Room above the bars for three rows of marker labels, so close events do not print over each other.
  const top = 40;
  const barHeight = 70;
  const mid = top + barHeight;
  const steps = stepBands(report.timeline);
  const laneHeight = 14;
  const lanesTop = mid + barHeight + 18;
  const height = lanesTop + Math.max(1, steps.length) * (laneHeight + 4) + 26;
  const span = Math.max(report.durationMs, report.series.bucketMs);
  const x = (ms: number): number => left + (Math.max(0, Math.min(span, ms)) / span) * (width - left - right);
  const maxCount = Math.max(1, ...report.series.buckets.map((b) => Math.max(b.ok, b.failed)));
  const colWidth = Math.max(1, ((width - left - right) * report.series.bucketMs) / span - 0.5);
  const h = (n: number): number => (n / maxCount) * (barHeight - 4);

  const bars = report.series.buckets
    .map((b) => {
      const parts: string[] = [];
      if (b.ok > 0)
        parts.push(
          `<rect class="ok" x="${fx(x(b.at))}" y="${fx(mid - h(b.ok))}" width="${fx(colWidth)}" height="${fx(h(b.ok))}"><title>${e(`${formatSeconds(b.at)}: ${b.ok} acknowledged`)}</title></rect>`,
        );
      if (b.failed > 0)
        parts.push(
          `<rect class="failed" x="${fx(x(b.at))}" y="${fx(mid)}" width="${fx(colWidth)}" height="${fx(h(b.failed))}"><title>${e(`${formatSeconds(b.at)}: ${b.failed} failed`)}</title></rect>`,
        );
      return parts.join('');
    })
    .join('');

  const tickEvery = niceStep(span / 8);
  const ticks: string[] = [];
  for (let t = 0; t <= span; t += tickEvery) {
    ticks.push(
      `<line x1="${fx(x(t))}" x2="${fx(x(t))}" y1="${top}" y2="${lanesTop - 6}" class="grid"/><text x="${fx(x(t))}" y="${height - 8}" text-anchor="middle" class="axis">${e(formatSeconds(t))}</text>`,
    );
  }

  const markers = report.timeline
    .filter((t) => KIND_COLOURS[t.kind] !== undefined)
    .map((t, i) => {
      const colour = KIND_COLOURS[t.kind] ?? '#000';
      const labelY = 11 + (i % 3) * 11;
      return `<g class="marker" data-kind="${e(t.kind)}"><line x1="${fx(x(t.at))}" x2="${fx(x(t.at))}" y1="${top - 4}" y2="${lanesTop - 6}" stroke="${colour}" stroke-width="1.5" stroke-dasharray="4 3"/><text x="${fx(x(t.at) + 3)}" y="${labelY}" fill="${colour}" class="label">${e(t.kind)}</text><title>${e(`${formatSeconds(t.at)} ${t.kind}: ${t.detail}`)}</title></g>`;
    })
    .join('');

  const bands = steps
    .map((s, i) => {
      const y = lanesTop + i * (laneHeight + 4);
      const x1 = x(s.from);
      const x2 = Math.max(x1 + 2, x(s.to));
      return `<g class="step" data-step="${e(s.step)}"><rect x="${fx(x1)}" y="${y}" width="${fx(x2 - x1)}" height="${laneHeight}" class="${s.failed ? 'step-failed' : 'step-ok'}"/><text x="${fx(x2 + 4)}" y="${y + laneHeight - 3}" class="axis">${e(s.step)}</text><title>${e(`${s.step}: ${formatSeconds(s.from)} → ${formatSeconds(s.to)}`)}</title></g>`;
    })
    .join('');

  return `<svg class="chart" data-testid="timeline-chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Canary writes over time: acknowledged above the line, failed below, with the fault, detection, runbook steps and recovery marked" xmlns="http://www.w3.org/2000/svg">
<style>.ok{fill:#2e7d32}.failed{fill:#c62828}.grid{stroke:#eceff1}.axis{font:11px system-ui,sans-serif;fill:#5f6368}.label{font:11px system-ui,sans-serif}.step-ok{fill:#1565c0;opacity:.35}.step-failed{fill:#c62828;opacity:.45}.base{stroke:#9e9e9e}</style>
${ticks.join('')}
<text x="4" y="${top + 10}" class="axis">ok</text><text x="4" y="${mid + barHeight - 4}" class="axis">failed</text>
${bars}
<line x1="${left}" x2="${width - right}" y1="${mid}" y2="${mid}" class="base"/>
${bands}
${markers}
</svg>`;
}

function stepBands(timeline: TimelineEvent[]): { step: string; from: number; to: number; failed: boolean }[] {
  const bands: { step: string; from: number; to: number; failed: boolean }[] = [];
  const open = new Map<string, number>();
  const end = timeline.reduce((max, t) => Math.max(max, t.at), 0);
  for (const t of timeline) {
    if (t.step === undefined) continue;
    const step = t.runbook === 'failback' ? `failback/${t.step}` : t.step;
    if (t.kind === 'step-started') open.set(step, t.at);
    else if (t.kind === 'step-finished' || t.kind === 'step-failed') {
      bands.push({
        step,
        from: open.get(step) ?? t.at,
        to: t.at,
        failed: t.kind === 'step-failed',
      });
      open.delete(step);
    }
  }
  for (const [step, from] of open) bands.push({ step, from, to: end, failed: false });
  return bands.sort((a, b) => a.from - b.from);
}

function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= raw) ?? raw;
}

function fx(n: number): string {
  return n.toFixed(1);
}

/** The rehearsal section: steps left out, pauses and notes, in the order they happened. */
function rehearsalHtml(rehearsal: DrillRehearsalReport | undefined): string {
  if (rehearsal === undefined) return '';
  const e = escapeHtml;
  const lines = [
    ...(rehearsal.steps === undefined
      ? []
      : [
          `Only steps ${rehearsal.steps.spec} ran; left out: ${rehearsal.steps.skipped.join(', ') || 'none'}.`,
        ]),
    ...rehearsal.pauses.map(
      (p) =>
        `${new Date(p.at).toISOString()} paused ${p.reason}; ${p.continuedBy === undefined ? 'never continued' : `continued by ${p.continuedBy} after ${formatMs((p.continuedAt ?? p.at) - p.at)}`}`,
    ),
    ...rehearsal.notes.map((n) => `${new Date(n.at).toISOString()} note from ${n.by}: ${n.text}`),
  ];
  return `<section id="rehearsal"><h2>Rehearsal: steps, pauses and notes</h2>${
    lines.length === 0
      ? '<p>No pauses, no notes.</p>'
      : `<ul>${lines.map((l) => `<li>${e(l)}</li>`).join('')}</ul>`
  }</section>`;
}
