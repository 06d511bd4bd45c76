/**
 * A live run: the steps in dependency waves, then each step that is running or waiting with what a
 * person needs to act (instructions, prerequisite, evidence required, expected against actual time,
 * who it waits on) and the buttons they may use. The engine's runView is the source; the plan adds the
 * words (instructions) when the server serves the plan the run came from. `runBody` is also what the
 * live script fetches after every journal event, so the page and its updates never disagree.
 */
import { html } from 'hono/html';
import { dependencyWaves } from '../../analysis/index.ts';
import type { RunView, SiteView, StepView } from '../../engine/index.ts';
import type { Step } from '../../plan/index.ts';
import { FINAL_RUN_STATUSES } from '../../store/index.ts';
import { allows } from '../auth.ts';
import type { Principal } from '../auth.ts';
import { ago, csrfField, duration, statusBadge } from './layout.ts';
import type { Fragment } from './layout.ts';

export interface RunPageInput {
  view: RunView & { drivenHere: boolean };
  /** The journal's newest sequence number: the live stream continues from it. */
  headSeq: number;
  /** The plan's steps by id, when the server serves the plan the run was started from. */
  steps: ReadonlyMap<string, Step>;
  principal: Principal | undefined;
  now?: number;
}

const ACTIVE = new Set(['running', 'retrying', 'waiting']);

export function runBody(input: RunPageInput): Fragment {
  const { view } = input;
  const now = input.now ?? Date.now();
  const final = FINAL_RUN_STATUSES.includes(view.status);
  const active = view.steps.filter((step) => ACTIVE.has(step.status));
  const pct = view.progress.total === 0 ? 0 : Math.round((100 * view.progress.done) / view.progress.total);
  return html`<div
    id="run-body"
    data-run="${view.id}"
    data-head="${input.headSeq}"
    data-status="${view.status}"
  >
    <header class="run-head">
      <h1>${view.workload}/${view.runbook} ${statusBadge(view.status)}</h1>
      <p class="muted">
        run <code>${view.id}</code> · started by <b>${view.startedBy}</b> ${ago(view.startedAt, now)} ·
        ${final ? `took ${duration(view.durationMs)}` : `running for ${duration(view.durationMs)}`} ·
        ${
          view.driver !== undefined
            ? `driven by pid ${view.driver.pid} on ${view.driver.host}`
            : view.waitingForDriver !== undefined
              ? `waiting for a driver since ${ago(view.waitingForDriver.since, now)}`
              : final
                ? 'finished'
                : 'no process drives it'
        }
      </p>
      <div class="progress" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100">
        <span style="width: ${pct}%"></span>
      </div>
      <p class="muted">
        ${view.progress.done} of ${view.progress.total} steps
        done${
          view.progress.failed > 0 ? html`, <b class="broken">${view.progress.failed} failed</b>` : ''
        }${view.reason === undefined ? '' : html` · ${view.reason}`}
      </p>
    </header>
    ${cancelLine(view, final)} ${waitingOnWhom(view)}
    ${view.site === undefined ? '' : siteChildren(view.site)}
    <section class="current">
      <h2>${final ? 'Finished' : active.length === 0 ? 'Next' : 'Now'}</h2>
      ${
        active.length === 0
          ? html`<p class="muted">
              ${
                final
                  ? `The run ended ${view.status}.`
                  : view.next.length > 0
                    ? `Starting ${view.next.join(', ')}.`
                    : 'Nothing is running.'
              }
            </p>`
          : active.map((step) => stepCard(step, input, now))
      }
    </section>
    <section>
      <h2>Waves</h2>
      <p class="muted">Steps in one wave may run at the same time; each wave needs the ones before it.</p>
      ${waves(view)}
    </section>
    ${approvalList(view)}
    <section>
      <h2>Evidence</h2>
      ${evidenceList(view)}
    </section>
    ${runActions(input, final)}
  </div>`;
}

/**
 * A site run's children: one card per workload with its state, where it is, whom its approvals wait for
 * and its time against its RTO; then each tier and the site against theirs. A child's current steps link
 * to their cards below, its name to the workload's runbook.
 */
function siteChildren(site: SiteView): Fragment {
  const { met, missed, notRecovered, open } = site.withinRto;
  return html`<section class="site-run" id="site-${site.site}">
    <h2>Site ${site.site} lost: ${site.children.length} workloads</h2>
    <p class="muted">
      ${site.declaredAfterMs === undefined ? 'not declared yet' : `declared after ${duration(site.declaredAfterMs)}`}
      ·
      ${
        site.recoveredAfterMs === undefined
          ? 'not all back yet'
          : `every workload back after ${duration(site.recoveredAfterMs)}`
      }
      · ${met} within RTO, ${missed} late, ${notRecovered} not recovered, ${open} under way
    </p>
    <div class="cards">
      ${site.children.map(
        (child) =>
          html`<article
            class="card child status-${child.status}"
            id="child-${child.workload}"
            data-child="${child.workload}"
          >
            <header>
              <h3>
                <a href="/runbooks/${encodeURIComponent(child.workload)}/${encodeURIComponent(child.runbook)}"
                  >${child.workload}/${child.runbook}</a
                >
              </h3>
              ${statusBadge(child.status)}
            </header>
            <p class="muted">
              tier ${child.tier}${child.after.length === 0 ? '' : html` · after ${child.after.join(', ')}`} ·
              RTO
              ${duration(child.rtoMs)}${
                child.recoveredAfterMs === undefined
                  ? ''
                  : html` · back after
                      <b class="${child.fits ? '' : 'broken'}">${duration(child.recoveredAfterMs)}</b>${
                        child.fits ? '' : ' (missed)'
                      }`
              }
            </p>
            ${
              child.current.length === 0
                ? ''
                : html`<p data-current>
                    now: ${child.current.map((id) => html`<a href="#step-${id}">${id}</a> `)}
                  </p>`
            }
            ${child.approvals.map(
              (approval) =>
                html`<p data-approval-waiting="${approval.step}">
                  <a href="#step-${approval.step}">${approval.step}</a> waits for
                  approval${approval.on.length === 0 ? '' : html` from <b>${approval.on.join(' or ')}</b>`}
                </p>`,
            )}
          </article>`,
      )}
    </div>
    <table class="tiers">
      <thead>
        <tr>
          <th>Tier</th>
          <th>Workloads</th>
          <th>RTO</th>
          <th>Back after</th>
        </tr>
      </thead>
      <tbody>
        ${site.tiers.map(
          (tier) =>
            html`<tr data-tier="${tier.tier}">
              <td>tier ${tier.tier}</td>
              <td>${tier.workloads.map((id) => html`<a href="#child-${id}">${id}</a> `)}</td>
              <td>${duration(tier.rtoMs)}</td>
              <td>
                ${
                  tier.recoveredAfterMs === undefined
                    ? '—'
                    : html`${duration(tier.recoveredAfterMs)} ${statusBadge(tier.fits ? 'passed' : 'missed')}`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** Who cancelled the run and the reason they gave; while it stops, that it was asked to. */
function cancelLine(view: RunView, final: boolean): Fragment {
  if (view.cancel === undefined) return html``;
  return html`<p class="cancelled">
    ${final ? 'Cancelled' : 'Cancel requested'} by <b>${view.cancel.by}</b>${
      view.cancel.reason === undefined ? ': no reason given' : html`: ${view.cancel.reason}`
    }
  </p>`;
}

/** Who approved each approval step, when, and what they wrote: the run's sign-off record. */
function approvalList(view: RunView): Fragment {
  const steps = view.steps.filter((step) => step.approvals.length > 0);
  if (steps.length === 0) return html``;
  return html`<section>
    <h2>Approvals</h2>
    <dl class="approvals">
      ${steps.map(
        (step) =>
          html`<dt>${step.name}</dt>
            ${step.approvals.map(
              (approval) =>
                html`<dd data-approval="${step.id}">
                  approved by <b>${approval.by}</b> <time datetime="${approval.at}">${approval.at}</time>${
                    approval.note === undefined ? '' : html`: “${approval.note}”`
                  }
                </dd>`,
            )}`,
      )}
    </dl>
  </section>`;
}

function waitingOnWhom(view: RunView): Fragment {
  if (view.waiting.length === 0) return html``;
  return html`<ul class="waiting">
    ${view.waiting.map(
      (wait) =>
        html`<li>
          <b>${wait.step}</b> waits for
          ${wait.for}${
            wait.on.length > 0
              ? html` from <b>${wait.on.join(' or ')}</b>`
              : wait.for === 'confirmation'
                ? ' from an operator'
                : ''
          }
        </li>`,
    )}
  </ul>`;
}

function waves(view: RunView): Fragment {
  const byId = new Map(view.steps.map((step) => [step.id, step]));
  return html`<ol class="waves">
    ${dependencyWaves(view.steps).map(
      (wave, index) =>
        html`<li class="wave">
          <span class="wave-n">${index + 1}</span>
          ${wave.map((id) => {
            const step = byId.get(id);
            if (step === undefined) return '';
            return html`<a class="chip status-${step.status}" href="#step-${step.id}" data-step="${step.id}">
              <span>${step.name}</span>
              <small>${step.status} · ${timing(step)}</small>
            </a>`;
          })}
        </li>`,
    )}
  </ol>`;
}

/** `12 s of 30 s`: actual against expected + contingency; over it, by how much. */
function timing(step: StepView): string {
  const allowed = step.expectedMs + step.contingencyMs;
  if (step.actualMs === undefined) return `expected ${duration(allowed)}`;
  const over = step.overrunMs ?? 0;
  return `${duration(step.actualMs)} of ${duration(allowed)}${over > 0 ? `, ${duration(over)} over` : ''}`;
}

function stepCard(step: StepView, input: RunPageInput, now: number): Fragment {
  const plan = input.steps.get(step.id);
  const over = (step.overrunMs ?? 0) > 0;
  return html`<article class="card step status-${step.status}" id="step-${step.id}" data-step="${step.id}">
    <header>
      <h3>${step.name}</h3>
      ${statusBadge(step.waitingFor === undefined ? step.status : `waiting for ${step.waitingFor}`)}
    </header>
    <p class="muted">
      ${step.kind} step <code>${step.id}</code>${
        step.startedAt === undefined ? '' : html` · started ${ago(step.startedAt, now)}`
      }
      · <span class="${over ? 'broken' : ''}">${timing(step)}</span>
    </p>
    ${
      plan?.manual === undefined && plan?.description === undefined
        ? ''
        : html`<div class="instructions">${plan.manual ?? plan.description}</div>`
    }
    <dl class="facts">
      ${
        step.needs.length === 0
          ? ''
          : html`<dt>Needs</dt>
              <dd>${step.needs.join(', ')}</dd>`
      }
      ${
        plan?.prerequisite === undefined
          ? ''
          : html`<dt>Prerequisite</dt>
              <dd>${plan.prerequisite}</dd>`
      }
      ${
        plan === undefined || plan.evidence.length === 0
          ? ''
          : html`<dt>Evidence required</dt>
              <dd>${plan.evidence.join(', ')}</dd>`
      }
      ${
        plan === undefined || plan.validate.length === 0
          ? ''
          : html`<dt>Validation</dt>
              <dd>${plan.validate.map((check) => check.name).join(', ')}</dd>`
      }
      ${
        step.waitingOn.length === 0
          ? ''
          : html`<dt>Waiting on</dt>
              <dd>${step.waitingOn.join(', ')}</dd>`
      }
      ${
        step.approvedBy.length === 0
          ? ''
          : html`<dt>Approved by</dt>
              <dd>${step.approvedBy.join(', ')} (quorum ${step.quorum ?? 1})</dd>`
      }
      ${
        plan?.escalateTo === undefined
          ? ''
          : html`<dt>Escalate to</dt>
              <dd>${plan.escalateTo}</dd>`
      }
      ${
        step.error === undefined
          ? ''
          : html`<dt>Error</dt>
              <dd class="broken">${step.error.code}: ${step.error.message}</dd>`
      }
    </dl>
    ${stepEvidence(step)} ${stepActions(step, input)}
  </article>`;
}

function stepActions(step: StepView, input: RunPageInput): Fragment {
  const { principal, view } = input;
  if (principal === undefined || step.status !== 'waiting') return html``;
  const base = `/runs/${encodeURIComponent(view.id)}/steps/${encodeURIComponent(step.id)}`;
  if (step.waitingFor === 'confirmation') {
    if (!allows(principal.role, 'operator'))
      return refusal(`confirming needs the operator role; you are ${principal.role}`);
    return html`<form class="act" method="post" action="${base}/confirm" enctype="multipart/form-data">
      ${csrfField(principal)}
      <label
        >Evidence <textarea name="evidence" rows="3" placeholder="what you did and saw"></textarea>
      </label>
      <label>Or attach a file <input type="file" name="file" /></label>
      <button type="submit" class="primary">Confirm done</button>
    </form>`;
  }
  if (step.waitingFor === 'approval') {
    const refused = approvalRefusal(step, view, principal);
    return html`<form class="act" method="post" action="${base}/approve">
        ${csrfField(principal)}
        <label>Note <input name="note" ${refused === undefined ? '' : 'disabled'} /></label>
        <button type="submit" class="primary" ${refused === undefined ? '' : 'disabled'}>Approve</button>
        <button
          type="submit"
          formaction="${base}/reject"
          class="danger"
          ${refused === undefined ? '' : 'disabled'}
        >
          Reject
        </button>
      </form>
      ${refused === undefined ? '' : refusal(refused)}`;
  }
  if (step.waitingFor === 'decision') {
    if (!allows(principal.role, 'operator'))
      return refusal(`deciding needs the operator role; you are ${principal.role}`);
    return html`<form class="act" method="post" action="${base}/decide">
      ${csrfField(principal)}
      ${step.options.map(
        (choice) => html`<button type="submit" name="choice" value="${choice}">${choice}</button>`,
      )}
    </form>`;
  }
  return html``;
}

/**
 * Why this person may not approve, in the engine's own terms, so the button is shown refused rather
 * than hidden. The engine checks the same rules again when an approval arrives.
 */
export function approvalRefusal(step: StepView, view: RunView, principal: Principal): string | undefined {
  if (step.fourEyes && principal.name === view.startedBy)
    return `Four-eyes: you (${principal.name}) started this run, so someone else must approve this step.`;
  if (!allows(principal.role, 'approver'))
    return `Approving needs the approver role; you are signed in as ${principal.role}.`;
  if (step.approvedBy.includes(principal.name)) return 'You already approved this step.';
  if (step.waitingOn.length > 0 && !step.waitingOn.includes(principal.name))
    return `Only ${step.waitingOn.join(' or ')} may approve this step.`;
  return undefined;
}

function refusal(reason: string): Fragment {
  return html`<p class="refused" role="note">${reason}</p>`;
}

function runActions(input: RunPageInput, final: boolean): Fragment {
  const { principal, view } = input;
  if (final || principal === undefined || !allows(principal.role, 'operator')) return html``;
  const base = `/runs/${encodeURIComponent(view.id)}`;
  return html`<section class="run-actions">
    <h2>Run</h2>
    ${
      view.driver === undefined
        ? html`<form method="post" action="${base}/resume">
            ${csrfField(principal)}<button type="submit">Resume</button>
            <span class="muted">no process drives this run; this server will</span>
          </form>`
        : ''
    }
    <form method="post" action="${base}/cancel" class="act">
      ${csrfField(principal)}
      <label>Reason <input name="reason" /></label>
      <button type="submit" class="danger">Cancel the run</button>
    </form>
  </section>`;
}

function stepEvidence(step: StepView): Fragment {
  if (step.evidence.length === 0 && step.checks.length === 0) return html``;
  return html`<ul class="evidence">
    ${step.checks.map(
      (check) =>
        html`<li class="${check.ok ? 'ok' : 'broken'}">
          check <b>${check.name}</b>: ${check.ok ? 'passed' : 'failed'} ${check.message}
        </li>`,
    )}
    ${step.evidence.map((item) => evidenceItem(item))}
  </ul>`;
}

function evidenceList(view: RunView): Fragment {
  const steps = view.steps.filter((step) => step.evidence.length > 0 || step.checks.length > 0);
  if (steps.length === 0) return html`<p class="muted">No evidence yet.</p>`;
  return html`<div class="evidence-all">
    ${steps.map(
      (step) =>
        html`<h3 id="evidence-${step.id}">${step.name}</h3>
          ${stepEvidence(step)}`,
    )}
  </div>`;
}

const SHOWN = 4000;

function evidenceItem(item: { name: string; value: unknown; by: string }): Fragment {
  const text = typeof item.value === 'string' ? item.value : JSON.stringify(item.value, null, 2);
  const file = /^data:([^;,]+)?;base64,/.exec(text);
  return html`<li data-evidence="${item.name}">
    <b>${item.name}</b> <small class="muted">by ${item.by}</small>
    ${
      file === null
        ? html`<pre>${text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text}</pre>`
        : html` <span class="muted"
            >a ${file[1] ?? 'binary'} file of ${Math.round(((text.length - file[0].length) * 3) / 4)}
            bytes</span
          >`
    }
  </li>`;
}
