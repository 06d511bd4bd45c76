/**
 * What the commands that read or answer a run share (status, approve, reject, confirm, cancel, audit):
 * the state store, the local state directory, and a run's view as people read it. Kept apart from
 * run-shared.ts so that these commands load neither the engine's runner nor the provider registry.
 */
import { resolve } from 'node:path';
import { runView, type RunView, type SiteView } from '../../engine/view.ts';
import { runNotFound, UsageError } from '../../errors.ts';
import { formatDuration } from '../../plan/duration.ts';
import { DEFAULT_STATE_DIR, SUPPORTED_STORES, looksLikeUrl, openStore } from '../../store/index.ts';
import type { RunStore } from '../../store/index.ts';
import type { CommandContext } from '../context.ts';
import type { StateOptions } from '../state-options.ts';

export async function openState(options: StateOptions): Promise<RunStore> {
  return openStore(looksLikeUrl(options.state) ? options.state : resolve(options.state));
}

/**
 * Where this instance keeps its local files (logs, provider files): the state directory, or with a
 * database URL `$DRCTL_STATE_DIR` (default `.drctl`), which is this machine's and not shared.
 */
export function localStateDir(state: string): string {
  return resolve(looksLikeUrl(state) ? (process.env.DRCTL_STATE_DIR ?? DEFAULT_STATE_DIR) : state);
}

/** For commands whose state is local files only (drills, the demo, readiness): a URL is refused. */
export function stateDirectory(state: string, command: string): string {
  if (looksLikeUrl(state)) {
    throw new UsageError(
      'DRCTL_STORE_UNSUPPORTED',
      `drctl ${command} keeps its state in a directory, not at a URL`,
      {
        hint: `pass --state DIR; \`drctl run\`, \`monitor\` and \`serve\` take ${SUPPORTED_STORES}`,
      },
    );
  }
  return resolve(state);
}

export async function viewOf(store: RunStore, runId: string): Promise<RunView> {
  const records = await store.readJournal(runId);
  if (records.length === 0) {
    throw runNotFound(runId);
  }
  return runView(records, await store.getLease(runId));
}

export function printView(context: CommandContext, view: RunView): void {
  const out = (line: string): void => void context.out.write(`${line}\n`);
  out(
    `run ${view.id}  ${view.workload}/${view.runbook}  ${view.status}  started by ${view.startedBy} at ${view.startedAt}`,
  );
  out(
    `progress ${view.progress.done}/${view.progress.total} done, ${view.progress.running} running, ${view.progress.waiting} waiting, ${view.progress.failed} failed; ${formatDuration(view.durationMs)}${view.reason ? ` (${view.reason})` : ''}`,
  );
  if (view.driver) out(`driven by pid ${view.driver.pid} on ${view.driver.host}`);
  if (view.waitingForDriver)
    out(
      `waiting for a driver since ${view.waitingForDriver.since}: no live drctl process drives this run (drctl resume ${view.id}, or a drctl serve instance of its plan takes it over)`,
    );
  for (const waiting of view.waiting) {
    const step = view.steps.find((candidate) => candidate.id === waiting.step);
    const choices = step?.options.length
      ? `; choose ${step.options.join(' | ')} with drctl resume ${view.id} --${step.options[0]} ${waiting.step}`
      : '';
    out(
      `waiting: ${waiting.step} for ${waiting.for}${waiting.on.length ? ` from ${waiting.on.join(', ')}` : ''}${choices}`,
    );
  }
  if (view.next.length > 0) out(`next: ${view.next.join(', ')}`);
  if (view.site !== undefined) printSite(out, view.site);
  for (const step of view.steps) {
    const actual = step.actualMs === undefined ? '-' : formatDuration(step.actualMs);
    const over = step.overrunMs ? ` (+${formatDuration(step.overrunMs)} over)` : '';
    out(
      `  ${step.status.padEnd(11)} ${step.id.padEnd(20)} expected ${formatDuration(step.expectedMs + step.contingencyMs)}, actual ${actual}${over}${step.error ? `  ${step.error.code}: ${step.error.message}` : ''}`,
    );
  }
}

function printSite(out: (line: string) => void, site: SiteView): void {
  const { met, missed, notRecovered, open } = site.withinRto;
  out(
    `site ${site.site} lost: ${site.children.length} workloads; ${site.declaredAfterMs === undefined ? 'not declared yet' : `declared after ${formatDuration(site.declaredAfterMs)}`}; ${site.recoveredAfterMs === undefined ? 'not all back' : `all back after ${formatDuration(site.recoveredAfterMs)}`} (${met} within RTO, ${missed} late, ${notRecovered} not recovered, ${open} under way)`,
  );
  for (const child of site.children) {
    const recovered =
      child.recoveredAfterMs === undefined
        ? ''
        : `, recovered after ${formatDuration(child.recoveredAfterMs)} (RTO ${formatDuration(child.rtoMs)}${child.fits ? '' : ', MISSED'})`;
    const now = child.current.length > 0 ? `; now ${child.current.join(', ')}` : '';
    out(
      `  ${child.status.padEnd(11)} ${child.workload}/${child.runbook} tier ${child.tier}${child.after.length > 0 ? ` after ${child.after.join(', ')}` : ''}${recovered}${now}`,
    );
  }
  for (const tier of site.tiers) {
    out(
      `  tier ${tier.tier}: ${tier.recoveredAfterMs === undefined ? 'not all back' : `back after ${formatDuration(tier.recoveredAfterMs)}`} against RTO ${formatDuration(tier.rtoMs)}${tier.fits === undefined ? '' : tier.fits ? ': fits' : ': MISSED'} (${tier.workloads.join(', ')})`,
    );
  }
}

export function exitCodeFor(status: string): number {
  return status === 'succeeded' || status === 'waiting' || status === 'running' ? 0 : 1;
}
