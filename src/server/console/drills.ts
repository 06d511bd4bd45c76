/**
 * The console's drill jobs: the form that starts a drill (operators), the recent jobs, and one job's
 * page with its progress lines, which drill-job.js keeps live.
 */
import { html } from 'hono/html';
import type { Plan } from '../../plan/index.ts';
import { allows } from '../auth.ts';
import type { Principal } from '../auth.ts';
import type { DrillJob } from '../drills.ts';
import { ago, csrfField, duration, noticeLine, statusBadge } from './layout.ts';
import type { Fragment } from './layout.ts';

export function drillStartForm(plans: readonly Plan[], principal: Principal | undefined): Fragment {
  if (principal === undefined || !allows(principal.role, 'operator')) return html``;
  const choices = plans.flatMap((plan) => plan.drills.scenarios.map((scenario) => ({ plan, scenario })));
  if (choices.length === 0) return html``;
  return html`<details class="card">
    <summary>Start a drill</summary>
    <form method="post" action="/drills" class="start">
      ${csrfField(principal)}
      <fieldset>
        <legend>Scenario</legend>
        ${choices.map(
          ({ plan, scenario }, index) =>
            html`<label class="choice">
              <input
                type="radio"
                name="choice"
                value="${encodeURIComponent(plan.name)} ${scenario.id}"
                ${index === 0 ? 'checked' : ''}
              />
              <span>
                <b>${scenario.workload} · ${scenario.id}</b>
                <small class="muted">${scenario.type}</small><br />
                <small class="muted">${scenario.description ?? ''}</small>
              </span>
            </label>`,
        )}
      </fieldset>
      <label><input type="checkbox" name="failback" value="on" /> also run and measure the failback</label>
      <label
        ><input type="checkbox" name="pause" value="on" /> pause after the fault, before the failover, until
        someone continues</label
      >
      <label
        >only these steps <input type="text" name="steps" placeholder="a..b or a,b" maxlength="2000"
      /></label>
      <p class="muted">
        The drill runs for real: the workload's environment comes up, the faults are injected, the failover is
        measured.
      </p>
      <button type="submit" class="primary">Start the drill</button>
    </form>
  </details>`;
}

/** One button that aborts every running drill on the state directory, wherever it runs (operators). */
export function emergencyStopForm(principal: Principal | undefined): Fragment {
  if (principal === undefined || !allows(principal.role, 'operator')) return html``;
  return html`<form method="post" action="/drills/stop" class="emergency-stop">
    ${csrfField(principal)}
    <button type="submit" class="danger" data-testid="emergency-stop">
      Emergency stop: abort every drill
    </button>
    <small class="muted"
      >Every running drill undoes its faults within about a second and stops its canary.</small
    >
  </form>`;
}

export function drillJobsTable(jobs: readonly DrillJob[], now = Date.now()): Fragment {
  if (jobs.length === 0) return html``;
  return html`<h2>Drills started here</h2>
    <table class="list">
      <thead>
        <tr>
          <th>scenario</th>
          <th>status</th>
          <th>started by</th>
          <th>started</th>
          <th>report</th>
        </tr>
      </thead>
      <tbody>
        ${jobs.map(
          (job) =>
            html`<tr>
              <td><a href="/drill-jobs/${job.id}">${job.workload} · ${job.scenario}</a></td>
              <td>${statusBadge(job.status)}</td>
              <td>${job.startedBy}</td>
              <td>${ago(job.startedAt, now)}</td>
              <td>
                ${job.reportId === undefined ? '–' : html`<a href="/drills/${job.reportId}">report</a>`}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

export function drillJobBody(job: DrillJob, principal: Principal | undefined, notice?: string): Fragment {
  const took = job.endedAt === undefined ? undefined : Date.parse(job.endedAt) - Date.parse(job.startedAt);
  return html`<section id="drill-job" data-job="${job.id}" data-status="${job.status}">
    <h1>Drill ${job.workload} · ${job.scenario} ${statusBadge(job.status)}</h1>
    ${noticeLine(notice)}
    <p class="muted">
      started by ${job.startedBy}
      ${ago(job.startedAt)}${took === undefined ? '' : ` · took ${duration(took)}`}
    </p>
    ${
      job.error === undefined
        ? ''
        : html`<p class="notice" role="alert">
            <code>${job.error.code}</code> ${job.error.message}${job.error.hint ? ` (${job.error.hint})` : ''}
          </p>`
    }
    ${job.reportId === undefined ? '' : html`<p><a class="button primary" href="/drills/${job.reportId}">Report</a></p>`}
    ${
      job.status === 'running' && principal !== undefined && allows(principal.role, 'operator')
        ? html`<form method="post" action="/drill-jobs/${job.id}/cancel">
            ${csrfField(principal)}
            <button type="submit" class="danger">Cancel the drill</button>
          </form>`
        : ''
    }
    ${rehearsalForms(job, principal)}
    <ol class="drill-progress">
      ${job.progress.map(
        (entry) => html`<li><time datetime="${entry.at}">${entry.at.slice(11, 19)}</time> ${entry.line}</li>`,
      )}
    </ol>
  </section>`;
}

/** Continue a paused drill and keep a note from the room: operators, while the drill runs. */
function rehearsalForms(job: DrillJob, principal: Principal | undefined): Fragment {
  if (job.status !== 'running' || principal === undefined || !allows(principal.role, 'operator'))
    return html``;
  return html`<div class="rehearsal">
    ${
      job.pause === true
        ? html`<form method="post" action="/drill-jobs/${job.id}/continue">
            ${csrfField(principal)}
            <button type="submit" class="primary">Continue: start the failover</button>
          </form>`
        : ''
    }
    <form method="post" action="/drill-jobs/${job.id}/notes">
      ${csrfField(principal)}
      <label>Note from the room <input type="text" name="text" required maxlength="4000" /></label>
      <button type="submit">Keep the note</button>
    </form>
  </div>`;
}
