/**
 * The smaller console pages: sign-in, the runs list with the form that starts a run, drill trends, and
 * the workloads' runbooks with their open findings.
 */
import { html } from 'hono/html';
import type { Analysis } from '../../analysis/index.ts';
import type { Plan, Runbook } from '../../plan/index.ts';
import type { DrillReportRecord, RunRecord } from '../../store/index.ts';
import type { Principal } from '../auth.ts';
import { ago, csrfField, duration, statusBadge } from './layout.ts';
import type { Fragment } from './layout.ts';

export function signInBody(options: {
  next: string;
  /** Why the last sign-in failed: `invalid` token, or `throttled` after too many failures. */
  error: string | undefined;
  principal: Principal | undefined;
}): Fragment {
  return html`<section class="sign-in card">
    <h1>Sign in</h1>
    ${
      options.principal === undefined
        ? ''
        : html`<p>You are signed in as <b>${options.principal.name}</b> (${options.principal.role}).</p>`
    }
    ${
      options.error === undefined
        ? ''
        : html`<p class="notice" role="alert">
            ${
              options.error === 'throttled'
                ? 'Too many failed sign-ins from this address: wait a minute, then try again.'
                : 'That token is not valid (or was revoked).'
            }
          </p>`
    }
    <form method="post" action="/api/v1/session">
      <label>Token <input name="token" type="password" autocomplete="off" required autofocus /></label>
      <input type="hidden" name="next" value="${options.next}" />
      <button type="submit" class="primary">Sign in</button>
    </form>
    <p class="muted">Ask an admin for a token: <code>drctl token create NAME --role operator</code>.</p>
  </section>`;
}

export function runsBody(runs: readonly RunRecord[], now = Date.now()): Fragment {
  return html`<h1>Runs</h1>
    <p><a class="button primary" href="/runs/new">Start a run</a></p>
    ${
      runs.length === 0
        ? html`<p class="muted">No runs yet.</p>`
        : html`<table class="list">
            <thead>
              <tr>
                <th>runbook</th>
                <th>status</th>
                <th>started by</th>
                <th>started</th>
              </tr>
            </thead>
            <tbody>
              ${runs.map(
                (run) =>
                  html`<tr>
                    <td><a href="/runs/${run.id}">${run.workload}/${run.runbook}</a></td>
                    <td>${statusBadge(run.status)}</td>
                    <td>${run.startedBy}</td>
                    <td>${ago(run.createdAt.toISOString(), now)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
}

export function startBody(options: {
  plans: ReadonlyArray<{ plan: Plan; analysis: Analysis }>;
  workload: string | undefined;
  principal: Principal;
  notice?: string | undefined;
}): Fragment {
  const choices = options.plans.flatMap(({ plan, analysis }) =>
    analysis.runbooks
      .filter((runbook) => options.workload === undefined || runbook.workload === options.workload)
      .map((runbook) => ({ plan, runbook })),
  );
  return html`<h1>Start a run</h1>
    ${options.notice === undefined ? '' : html`<p class="notice" role="alert">${options.notice}</p>`}
    ${
      choices.length === 0
        ? html`<p class="muted">No runbook to start${options.workload ? ` for ${options.workload}` : ''}.</p>`
        : html`<form method="post" action="/runs" class="start">
            ${csrfField(options.principal)}
            <fieldset>
              <legend>Runbook</legend>
              ${choices.map(
                ({ plan, runbook }) =>
                  html`<label class="choice">
                    <input
                      type="radio"
                      name="choice"
                      value="${encodeURIComponent(plan.name)} ${runbook.workload}/${runbook.runbook}"
                      required
                    />
                    <span>
                      <b>${runbook.workload}/${runbook.runbook}</b>
                      <small class="muted">${runbook.kind}</small><br />
                      <small class="${runbook.fits || !runbook.rtoApplies ? 'muted' : 'broken'}">
                        ${runbook.waves.flat().length} steps in ${runbook.waves.length} waves · critical path
                        ${duration(runbook.criticalPath.ms)}${runbook.rtoApplies ? ` against an RTO of ${duration(runbook.rtoMs)}` : ''}
                      </small>
                    </span>
                  </label>`,
              )}
            </fieldset>
            <p class="muted">
              You (${options.principal.name}) will be the run's starter: four-eyes steps need someone else.
            </p>
            <button type="submit" class="primary">Start…</button>
          </form>`
    }`;
}

/** The second look before a run acts on real systems: what it is, how long, and a button naming it. */
export function confirmStartBody(options: {
  plan: Plan;
  runbook: Runbook;
  choice: string;
  principal: Principal;
}): Fragment {
  const { runbook } = options;
  const ref = `${runbook.workload}/${runbook.name}`;
  const real = runbook.kind === 'failover' || runbook.kind === 'failback';
  return html`<h1>Start ${ref}?</h1>
    <p class="notice" role="alert">
      This starts a real ${runbook.kind === 'custom' ? 'run' : runbook.kind} of <b>${runbook.workload}</b>
      (plan ${options.plan.name}): ${runbook.steps.length} steps act on the systems the plan
      names${real ? ', and traffic moves between sites' : ''}. To rehearse, start a drill instead.
    </p>
    <form method="post" action="/runs" class="start confirm">
      ${csrfField(options.principal)}
      <input type="hidden" name="choice" value="${options.choice}" />
      <input type="hidden" name="confirmed" value="yes" />
      <button type="submit" class="danger">
        Start the ${runbook.kind === 'custom' ? 'run' : runbook.kind} of ${ref}
      </button>
      <a class="button" href="/runs/new">Back</a>
    </form>`;
}

/** One scenario's drills, oldest first, as the trend chart reads them. */
export interface DrillTrend {
  workload: string;
  scenario: string;
  /** Seconds since the epoch. */
  at: number[];
  rtoMs: Array<number | null>;
  rpoMs: Array<number | null>;
  targets: { rtoMs: number | null; rpoMs: number | null };
}

export function drillTrends(records: readonly DrillReportRecord[]): DrillTrend[] {
  const groups = new Map<string, DrillReportRecord[]>();
  for (const record of [...records].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())) {
    const key = `${record.workload}\n${record.scenario}`;
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.values()].map((group) => {
    const newest = group.at(-1)!;
    const targets = newest.report.targets as { rtoMs?: number; rpoMs?: number } | undefined;
    return {
      workload: newest.workload,
      scenario: newest.scenario,
      at: group.map((record) => record.startedAt.getTime() / 1000),
      rtoMs: group.map((record) => record.rtoMs ?? null),
      rpoMs: group.map((record) => lostSpanMs(record) ?? null),
      targets: { rtoMs: targets?.rtoMs ?? null, rpoMs: targets?.rpoMs ?? null },
    };
  });
}

function lostSpanMs(record: DrillReportRecord): number | undefined {
  const measured = record.report.measured as { lostWrites?: { spanMs?: number } } | undefined;
  return measured?.lostWrites?.spanMs;
}

export function drillsBody(records: readonly DrillReportRecord[], now = Date.now()): Fragment {
  if (records.length === 0)
    return html`<h1>Drills</h1>
      <p class="muted">No drill reports yet: <code>drctl drill PLAN --scenario NAME</code> stores them.</p>`;
  return html`<h1>Drills</h1>
    ${drillTrends(records).map(
      (trend) =>
        html`<section class="card trend">
          <h2>${trend.workload} · ${trend.scenario}</h2>
          <p class="muted">
            ${trend.at.length} drill${trend.at.length === 1 ? '' : 's'} · RTO objective
            ${duration(trend.targets.rtoMs ?? undefined)} · RPO objective
            ${duration(trend.targets.rpoMs ?? undefined)}
          </p>
          <div
            class="chart"
            data-trend="${JSON.stringify(trend)}"
            role="img"
            aria-label="RTO and RPO of ${trend.scenario} over time"
          ></div>
        </section>`,
    )}
    <table class="list">
      <thead>
        <tr>
          <th>scenario</th>
          <th>workload</th>
          <th>result</th>
          <th>RTO</th>
          <th>lost</th>
          <th>when</th>
        </tr>
      </thead>
      <tbody>
        ${records.map(
          (record) =>
            html`<tr>
              <td><a href="/drills/${record.id}">${record.scenario}</a></td>
              <td>${record.workload}</td>
              <td>${statusBadge(record.passed ? 'passed' : 'missed')}</td>
              <td>${duration(record.rtoMs)}</td>
              <td>${record.lostWrites} writes (${duration(lostSpanMs(record))})</td>
              <td>${ago(record.startedAt.toISOString(), now)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

export function runbooksBody(
  plans: ReadonlyArray<{ plan: Plan; analysis: Analysis }>,
  only?: string,
): Fragment {
  return html`<h1>Runbooks</h1>
    ${plans.map(({ plan, analysis }) =>
      plan.workloads
        .filter((workload) => only === undefined || workload.id === only)
        .map((workload) => {
          const findings = analysis.findings.filter((finding) => finding.subject.workload === workload.id);
          return html`<section class="card" id="workload-${workload.id}">
            <h2>${workload.name}</h2>
            <p class="muted">
              plan ${plan.name} <code>${plan.hash.slice(0, 12)}</code> · tier ${workload.tier} ·
              ${workload.strategy}
            </p>
            <ul>
              ${analysis.runbooks
                .filter((runbook) => runbook.workload === workload.id)
                .map(
                  (runbook) =>
                    html`<li>
                      <a href="/runbooks/${workload.id}/${runbook.runbook}">${runbook.runbook}</a>
                      <small class="muted"
                        >${runbook.kind} · critical path ${duration(runbook.criticalPath.ms)}</small
                      >
                      · <a href="/runs/new?workload=${workload.id}">start</a>
                    </li>`,
                )}
            </ul>
            <details id="findings" ${only === undefined ? '' : 'open'}>
              <summary>${findings.length} open finding${findings.length === 1 ? '' : 's'}</summary>
              <ul class="findings">
                ${findings.map(
                  (finding) =>
                    html`<li class="severity-${finding.severity}">
                      <b>${finding.severity}</b> <code>${finding.code}</code> ${finding.message} <br /><small
                        class="muted"
                        >${finding.hint}</small
                      >
                    </li>`,
                )}
              </ul>
            </details>
          </section>`;
        }),
    )}`;
}
