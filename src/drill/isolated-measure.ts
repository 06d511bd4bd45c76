/**
 * An isolated drill on its copy: the runbook run by the engine against the copy (a step that fails and
 * waits for a decision ends it: nobody is asked), a write to the copy's service (the RTO), the plan's
 * verification queries on the copy, then the copy torn down and checked gone, and production's picture
 * (rows, replication, backups, routing) taken again to compare with the one from before.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { Engine, RECORD, runView } from '../engine/index.ts';
import type { RunView } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Workload } from '../plan/model.ts';
import { providerForKind, providers } from '../providers/index.ts';
import type { ActionContext, IsolatedCopy } from '../providers/index.ts';
import { supervisorFor } from '../supervise/index.ts';
import { portFree } from '../system/probes.ts';
import { processAlive } from '../system/processes.ts';
import { Canary } from './canary.ts';
import { envOf, numberOf } from './bring-up.ts';
import { DRILL_ACTOR } from './failback.ts';
import { placementOf } from './isolated-copy.ts';
import type { TheCopy } from './isolated-copy.ts';
import type { IsolatedCheck, IsolatedDrillReport, IsolatedRun } from './isolated.ts';
import { rehearsalPausedMs } from './rehearsal.ts';
import { formatMs } from './report.ts';

/** The runbook's run on the copy, and what its steps said. */
export interface RunOnCopy {
  view: RunView;
  /** What the runbook's own steps say of the data (a promotion's last replayed commit, a restore's backup). */
  stepDataAsOf: (string | undefined)[];
  /** Each step's summary, by step id. */
  summaries: Map<string, string>;
}

/** Runs the runbook on the copy until it ends or the deadline passes (then it is cancelled). */
export async function runOnCopy(
  run: IsolatedRun,
  copy: TheCopy,
  skip: Map<string, string>,
): Promise<RunOnCopy> {
  const { options, scenario, store } = run;
  const summaries = new Map<string, string>();
  const engine = new Engine({
    store,
    providers,
    // the copy's services keep their pid files and logs in the scratch directory, removed with it
    stateDir: run.scratch,
    logger: run.log,
    pollMs: 20,
    hooks: {
      onStepWaiting: (e) => {
        // nobody is asked during an isolated drill: a step that failed and waits for a decision ends it
        if (e.for === 'decision')
          void run.driver?.cancel(DRILL_ACTOR, `step ${e.step.id} failed and waits for a decision`);
      },
      onStepComplete: (e) => {
        if (!summaries.has(e.step.id)) summaries.set(e.step.id, e.summary);
        if (e.status === 'succeeded') run.say(`  ✔ ${e.step.id} ${e.summary}`);
      },
      onStepError: (e) => {
        if (e.final) run.say(`  ✖ ${e.step.id} ${e.code}: ${e.message}`);
      },
    },
  });
  const driver = (run.driver = await engine.start({
    plan: copy.plan,
    runbook: run.runbook.name,
    workload: run.workload.id,
    startedBy: DRILL_ACTOR,
    trigger: {
      automatic: true,
      reason: `isolated test failover ${run.drillId}`,
      drill: { scenario: scenario.id, announce: false },
    },
    skip,
  }));
  const deadlineMs = options.deadlineMs ?? Math.min(scenario.expect.rtoMs + 10_000, 120_000);
  const ended = await Promise.race([
    driver.done.then(() => true),
    new Promise<false>((done) => setTimeout(() => done(false), deadlineMs).unref()),
  ]);
  if (!ended) {
    await driver.cancel(DRILL_ACTOR, `the isolated drill's deadline of ${formatMs(deadlineMs)} passed`);
    await driver.done.catch(() => undefined);
  }
  const journal = await store.readJournal(driver.runId);
  const view = runView(journal, undefined);
  const stepDataAsOf = journal
    .filter((record) => record.type === RECORD.stepSucceeded)
    .map((record) => stringOr((record.data.output as Record<string, unknown> | undefined)?.dataAsOf));
  if (view.status !== 'succeeded')
    run.findings.push({
      code: 'DRCTL_DRILL_RUN_FAILED',
      severity: 'error',
      message: `the ${run.runbook.name} run ${view.id} on the copy ended ${view.status}`,
      hint: `drctl status ${view.id} --state ${run.stateDir}`,
    });
  return { view, stepDataAsOf, summaries };
}

/** Writes once to the copy's service: the RTO is drill start → acknowledged, less the time held paused. */
export async function writeToCopy(
  run: IsolatedRun,
  copy: TheCopy,
): Promise<{ rtoMs: number | undefined; checks: IsolatedCheck[] }> {
  const { site } = run;
  const door = copy.workload.frontDoor;
  const service = door === undefined ? undefined : placementOf(copy.workload, door.component, site);
  const servicePort =
    service === undefined ? undefined : (numberOf(service.fields.port) ?? numberOf(envOf(service).PORT));
  if (door === undefined || servicePort === undefined || !run.scratchPorts.has(servicePort)) {
    run.findings.push({
      code: 'DRCTL_DRILL_NO_RECOVERY',
      severity: 'error',
      message: `the copy's ${door?.component ?? 'front door component'} at ${site} was not started, so the RTO is not measured`,
      hint: 'the runbook (or the steps chosen) must start the service at the recovery site',
    });
    return { rtoMs: undefined, checks: [] };
  }
  const canary = Canary.start({
    url: `http://127.0.0.1:${servicePort}`,
    path: door.canary.writePath,
    idPrefix: `isolated-${randomBytes(3).toString('hex')}`,
    intervalMs: 50,
  });
  const acked = await Promise.race([
    canary.waitForAcks(1).then(() => true),
    new Promise<false>((done) => setTimeout(() => done(false), 5_000).unref()),
  ]);
  const result = await canary.stop();
  const first = result.acks[0];
  const rtoMs =
    acked && first !== undefined
      ? first.ackAt - run.startedAt - rehearsalPausedMs(run.controls.pauses)
      : undefined;
  const check = {
    name: `${door.component}@${site} (copy) takes a write`,
    ok: acked,
    detail: acked
      ? `write ${first?.id} acknowledged on 127.0.0.1:${servicePort}`
      : `no write acknowledged on 127.0.0.1:${servicePort}: ${result.failures.at(-1)?.reason ?? 'no answer'}`,
  };
  return { rtoMs, checks: [check] };
}

/** The plan's verification queries (its runbooks' `sql:` checks), on the copy. */
export async function verifyCopy(run: IsolatedRun, copy: TheCopy): Promise<IsolatedCheck[]> {
  const checks: IsolatedCheck[] = [];
  for (const query of verificationQueries(copy.workload)) {
    const component = copy.workload.components.find((c) => c.id === query.component);
    const provider = component === undefined ? undefined : providerForKind(component.kind);
    if (component === undefined || provider?.query === undefined) continue;
    try {
      const rows = await provider.query(component, run.site, query.sql, run.ctxFor(copy.plan, run.scratch));
      const value = rows[0]?.[0];
      const ok = query.expect === undefined ? truthy(value) : String(value) === String(query.expect);
      checks.push({ name: `${query.component}: ${query.sql}`, ok, detail: `returned ${String(value)}` });
    } catch (error) {
      checks.push({ name: `${query.component}: ${query.sql}`, ok: false, detail: errorText(error) });
    }
  }
  return checks;
}

/** The copy torn down and checked gone, and production's picture taken again. */
export interface CopyRemoved {
  made: IsolatedDrillReport['copies'];
  removed: string[];
  leftovers: string[];
  after: Record<string, unknown>;
  differences: string[];
}

/** Stops the copy's services, removes the copies, then looks for leftovers and compares production. */
export async function removeCopy(run: IsolatedRun, before: Record<string, unknown>): Promise<CopyRemoved> {
  const { scratch, log } = run;
  run.driver = undefined;
  const pids = new Set<number>();
  const supervisor = supervisorFor(scratch, log);
  for (const name of supervisor.list())
    for (const instance of supervisor.status(name)) if (instance.pid !== undefined) pids.add(instance.pid);
  const made = run.copies.map((c) => ({
    component: c.component,
    from: c.from,
    ...(c.dataAsOf === undefined ? {} : { dataAsOf: c.dataAsOf }),
  }));
  const removed = await teardown(scratch, run.copies, log);
  const leftovers = await leftoversOf(scratch, run.scratchPorts, pids);
  const after = await productionPicture(run.workload, run.ctxFor(run.options.plan));
  return { made, removed, leftovers, after, differences: differencesOf(before, after) };
}

/** The `sql:` checks of the workload's runbooks: the queries the plan trusts to say the data is good. */
function verificationQueries(workload: Workload): { component: string; sql: string; expect: unknown }[] {
  const seen = new Set<string>();
  const queries: { component: string; sql: string; expect: unknown }[] = [];
  for (const runbook of workload.runbooks)
    for (const step of runbook.steps)
      for (const check of [...step.validate, ...(step.wait?.until === undefined ? [] : [step.wait.until])]) {
        if (check.sql === undefined || check.component === undefined) continue;
        const key = `${check.component}\n${check.sql}`;
        if (seen.has(key)) continue;
        seen.add(key);
        queries.push({ component: check.component, sql: check.sql, expect: check.expect });
      }
  return queries;
}

function truthy(value: unknown): boolean {
  return Boolean(value) && value !== '0' && value !== 'false' && value !== 'f';
}

function errorText(error: unknown): string {
  return error instanceof DrctlError ? `${error.code}: ${error.message}` : String(error);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function newest(times: readonly (string | undefined)[]): string | undefined {
  return times
    .filter((t): t is string => t !== undefined && !Number.isNaN(Date.parse(t)))
    .sort((a, b) => Date.parse(a) - Date.parse(b))
    .at(-1);
}

/**
 * Production as the drill found it: each data component's picture from its provider (rows, replication,
 * backups) and the front door's answer to its probe (who serves). Read only.
 */
export async function productionPicture(
  workload: Workload,
  ctx: ActionContext,
): Promise<Record<string, unknown>> {
  const picture: Record<string, unknown> = {};
  for (const component of workload.components) {
    const isolation = providerForKind(component.kind)?.isolation;
    if (isolation !== undefined) picture[component.id] = await isolation.fingerprint(component, ctx);
  }
  const door = workload.frontDoor;
  if (door !== undefined) {
    const url = `http://${door.host}:${door.port}${door.probePath}`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const text = await response.text();
      let site: unknown;
      try {
        site = (JSON.parse(text) as { site?: unknown }).site;
      } catch {
        site = undefined;
      }
      picture.routing = { url, status: response.status, ...(site === undefined ? {} : { site }) };
    } catch (error) {
      picture.routing = { url, error: errorText(error) };
    }
  }
  return picture;
}

/** Paths where two pictures differ, e.g. `db.east.rows.public.orders`. */
function differencesOf(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (
    before !== null &&
    after !== null &&
    typeof before === 'object' &&
    typeof after === 'object' &&
    !Array.isArray(before)
  ) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) =>
      differencesOf(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        path === '' ? key : `${path}.${key}`,
      ),
    );
  }
  return [`${path || 'everything'}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`];
}

/** Stops every service the copy ran, removes every copy and the scratch directory; says what went. */
export async function teardown(
  scratch: string,
  copies: (IsolatedCopy & { component: string })[],
  log: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  if (existsSync(scratch)) {
    const supervisor = supervisorFor(scratch, log);
    for (const name of supervisor.list()) {
      const result = await supervisor.stop(name, { graceMs: 2_000 });
      if (result.pids.length > 0) removed.push(`service ${name} (pid ${result.pids.join(', ')})`);
    }
    await supervisor.close();
  }
  for (const copy of copies.splice(0)) removed.push(...(await copy.remove()));
  if (existsSync(scratch)) {
    rmSync(scratch, { recursive: true, force: true });
    removed.push(`directory ${scratch}`);
  }
  return removed;
}

/** Anything of the copy still there: a process alive, a port listening, a directory. */
async function leftoversOf(
  scratch: string,
  ports: ReadonlySet<number>,
  pids: ReadonlySet<number>,
): Promise<string[]> {
  const left: string[] = [];
  for (const pid of pids) if (processAlive(pid)) left.push(`process ${pid}`);
  for (const port of ports) if (!(await portFree(port))) left.push(`a listener on 127.0.0.1:${port}`);
  if (existsSync(scratch)) left.push(`directory ${scratch}`);
  return left;
}
