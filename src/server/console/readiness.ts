/**
 * Readiness at a glance: one card per workload, its light and the reasons behind it one click away
 * (details/summary), its objectives against the last drill's measurements, and the facts the monitor
 * observed (replication lag, backup age). Everything comes from the server's ReadinessCache: nothing
 * is recomputed here.
 */
import { html } from 'hono/html';
import type { RunView } from '../../engine/index.ts';
import type { ReadinessFact } from '../../providers/index.ts';
import type { ReadinessView, WorkloadReadiness } from '../readiness.ts';
import { ago, duration } from './layout.ts';
import type { Fragment } from './layout.ts';

const LIGHT_WORD = { green: 'ready', amber: 'unproven', red: 'at risk' } as const;

export function readinessBody(
  view: ReadinessView,
  waiting: readonly RunView[] = [],
  now = Date.now(),
): Fragment {
  const counts = { green: 0, amber: 0, red: 0 };
  for (const workload of view.workloads) counts[workload.light] += 1;
  return html`<h1>Readiness</h1>
    <p class="summary">
      <span class="light green">${counts.green} ready</span>
      <span class="light amber">${counts.amber} unproven</span>
      <span class="light red">${counts.red} at risk</span>
      <span class="muted">checked ${ago(view.checkedAt, now)}</span>
    </p>
    ${waitingRuns(waiting)}
    ${
      view.workloads.length === 0
        ? html`<p class="muted">The plans this server serves have no workloads.</p>`
        : html`<div class="cards">${view.workloads.map((workload) => workloadCard(workload, now))}</div>`
    }`;
}

/** Runs stopped on a person (an approval, a confirmation, a decision): the first thing to act on. */
function waitingRuns(runs: readonly RunView[]): Fragment {
  if (runs.length === 0) return html``;
  return html`<section class="waiting-runs" role="alert">
    <h2>${runs.length === 1 ? '1 run waits' : `${runs.length} runs wait`} for people</h2>
    <ul class="waiting">
      ${runs.flatMap((run) =>
        run.waiting.map(
          (wait) =>
            html`<li>
              <a href="/runs/${encodeURIComponent(run.id)}">${run.workload}/${run.runbook}</a>:
              <b>${wait.step}</b> waits for
              ${wait.for}${wait.on.length > 0 ? html` from <b>${wait.on.join(' or ')}</b>` : ''}
            </li>`,
        ),
      )}
    </ul>
  </section>`;
}

function workloadCard(workload: WorkloadReadiness, now: number): Fragment {
  const drill = workload.lastDrill;
  const lag = workload.facts.filter((fact) => fact.name === 'replication-lag');
  const backups = workload.facts.filter((fact) => fact.name === 'backup-age');
  return html`<article class="card workload light-${workload.light}" data-workload="${workload.id}">
    <header>
      <h2><a href="/runbooks/${workload.id}">${workload.name}</a></h2>
      <span class="light ${workload.light}">${LIGHT_WORD[workload.light]}</span>
    </header>
    <p class="muted">
      tier ${workload.tier} · ${workload.strategy} · plan ${workload.plan} ·
      <a href="/runs/new?workload=${workload.id}">start a run</a>
    </p>
    <table class="objectives">
      <thead>
        <tr>
          <th></th>
          <th>objective</th>
          <th>last drill</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <th>RTO</th>
          <td>${duration(workload.rtoMs)}</td>
          <td class="${measuredClass(drill?.rtoMs, workload.rtoMs)}">${duration(drill?.rtoMs)}</td>
        </tr>
        <tr>
          <th>RPO</th>
          <td>${duration(workload.rpoMs)}</td>
          <td class="${measuredClass(drill?.rpoMs, workload.rpoMs)}">
            ${
              drill === undefined
                ? '–'
                : html`${duration(drill.rpoMs)} <small>(${drill.lostWrites} writes lost)</small>`
            }
          </td>
        </tr>
      </tbody>
    </table>
    <dl class="facts">
      <dt>Replication lag</dt>
      <dd>${lag.length === 0 ? html`<span class="muted">not replicated</span>` : lag.map(factLine)}</dd>
      <dt>Newest backup</dt>
      <dd>
        ${backups.length === 0 ? html`<span class="muted">no backup policy</span>` : backups.map(factLine)}
      </dd>
      <dt>Last drill</dt>
      <dd>
        ${
          drill === undefined
            ? html`<span class="muted">never drilled</span>`
            : html`<a href="/drills/${drill.id}">${drill.scenario}</a>
                <span class="badge ${drill.passed ? 'status-succeeded' : 'status-failed'}"
                  >${drill.passed ? 'passed' : 'missed'}</span
                >
                ${ago(drill.startedAt, now)}`
        }
      </dd>
      <dt>Open findings</dt>
      <dd>
        ${workload.findings.errors} errors, ${workload.findings.warnings} warnings
        <a href="/runbooks/${workload.id}#findings">see them</a>
      </dd>
    </dl>
    ${
      workload.reasons.length === 0
        ? ''
        : html`<details class="reasons">
            <summary>Why ${LIGHT_WORD[workload.light]}</summary>
            <ul>
              ${workload.reasons.map((reason) => html`<li>${reason}</li>`)}
            </ul>
          </details>`
    }
  </article>`;
}

function measuredClass(measured: number | undefined, objective: number): string {
  if (measured === undefined) return 'muted';
  return measured <= objective ? 'ok' : 'broken';
}

function factLine(fact: ReadinessFact): Fragment {
  return html`<div class="${fact.ok ? 'ok' : 'broken'}">
    ${fact.site === undefined ? '' : html`<b>${fact.site}</b> `}${fact.component}:
    ${typeof fact.value === 'number' ? duration(fact.value) : (fact.value ?? '')}
    ${
      fact.limit === undefined
        ? ''
        : html`<small>limit ${typeof fact.limit === 'number' ? duration(fact.limit) : fact.limit}</small>`
    }
    <small class="muted">${fact.message}</small>
  </div>`;
}
