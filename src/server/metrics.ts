/**
 * The server's Prometheus metrics, in its own registry (`ctx.metrics`). Counts that live in the store
 * (runs by status, approvals waiting) are read when Prometheus scrapes; step durations come from the
 * engine hooks of the runs driven here; readiness gauges from the latest background readiness check.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import { runView } from '../engine/index.ts';
import type { EngineHooks } from '../engine/index.ts';
import { FINAL_RUN_STATUSES } from '../store/index.ts';
import type { ServerContext } from './context.ts';
import type { ReadinessCache } from './readiness.ts';
import { currentStatus } from './runs.ts';

const LIVE_RUNS_SCANNED = 200;

type MetricsContext = Pick<ServerContext, 'metrics' | 'store' | 'hooks' | 'plans'>;
type Registers = [ServerContext['metrics']];

export function registerMetrics(ctx: MetricsContext, readiness: ReadinessCache): MiddlewareHandler {
  const registers: Registers = [ctx.metrics];
  collectDefaultMetrics({ register: ctx.metrics, prefix: 'drctl_process_' });
  runGauges(ctx, registers);
  approvalGauges(ctx, registers);
  stepDurations(ctx, registers);
  readinessGauges(ctx, readiness, registers);

  const http = new Histogram({
    name: 'drctl_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  return async (c, next) => {
    const started = performance.now();
    await next();
    http.observe(
      { method: c.req.method, route: routePath(c, -1), status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  };
}

function runGauges(ctx: MetricsContext, registers: Registers): void {
  new Gauge({
    name: 'drctl_runs',
    help: 'Runs in the store by status (the newest 1000).',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const run of await ctx.store.listRuns({ limit: 1000 })) {
        const status = await currentStatus(ctx.store, run);
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
}

interface WaitingApprovals {
  labels: Record<string, string>;
  count: number;
  /** Seconds the oldest has waited. */
  oldest: number;
}

function approvalGauges(ctx: MetricsContext, registers: Registers): void {
  // both approval gauges come from one look at the waiting runs per scrape
  const read = shared(async () => {
    const byRunbook = new Map<string, WaitingApprovals>();
    // the store's status of a live run is not kept current; its journal says whether it waits
    const runs = (await ctx.store.listRuns({ limit: LIVE_RUNS_SCANNED })).filter(
      (run) => !FINAL_RUN_STATUSES.includes(run.status),
    );
    for (const run of runs) {
      const view = runView(await ctx.store.readJournal(run.id));
      const key = `${run.workload}/${run.runbook}`;
      for (const step of view.steps.filter((candidate) => candidate.waitingFor === 'approval')) {
        const entry = byRunbook.get(key) ?? {
          labels: { workload: run.workload, runbook: run.runbook },
          count: 0,
          oldest: 0,
        };
        entry.count += 1;
        const age = step.startedAt === undefined ? 0 : (Date.now() - Date.parse(step.startedAt)) / 1000;
        entry.oldest = Math.max(entry.oldest, age);
        byRunbook.set(key, entry);
      }
    }
    return [...byRunbook.values()];
  });
  gauge(
    registers,
    'drctl_approvals_waiting',
    'Approval steps waiting for people, by runbook.',
    ['workload', 'runbook'],
    async () => (await read()).map((entry) => ({ labels: entry.labels, value: entry.count })),
  );
  gauge(
    registers,
    'drctl_approval_wait_oldest_seconds',
    'How long the oldest approval of each runbook has waited.',
    ['workload', 'runbook'],
    async () => (await read()).map((entry) => ({ labels: entry.labels, value: entry.oldest })),
  );
}

function stepDurations(ctx: MetricsContext, registers: Registers): void {
  const steps = new Histogram({
    name: 'drctl_step_duration_seconds',
    help: 'Time in attempts of the steps this server drove, by runbook and outcome.',
    labelNames: ['workload', 'runbook', 'kind', 'status'],
    buckets: [0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    registers,
  });
  const hooks: EngineHooks = {
    onStepComplete: (event) =>
      steps.observe(
        { workload: event.workload, runbook: event.runbook, kind: event.step.kind, status: event.status },
        event.actualMs / 1000,
      ),
    onStepError: (event) => {
      if (event.final)
        steps.observe(
          { workload: event.workload, runbook: event.runbook, kind: event.step.kind, status: 'failed' },
          0,
        );
    },
  };
  ctx.hooks.push(hooks);
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

type Readings = Record<'ok' | 'lag' | 'backupAge' | 'probe' | 'rto' | 'rpo' | 'lost', Sample[]>;

const FACT_LABELS = ['plan', 'component', 'site'];
const DRILL_LABELS = ['workload', 'scenario'];

/** The readiness gauges: name, help, labels and which reading each shows. */
const READINESS_GAUGES: [string, string, string[], keyof Readings][] = [
  [
    'drctl_readiness_ok',
    'Whether a readiness fact holds (1) or not (0), by component, site and fact.',
    [...FACT_LABELS, 'fact'],
    'ok',
  ],
  [
    'drctl_replication_lag_seconds',
    'Acknowledged writes at risk on a standby, in seconds.',
    FACT_LABELS,
    'lag',
  ],
  [
    'drctl_backup_age_seconds',
    'Age of the newest backup, by component and the site holding it.',
    FACT_LABELS,
    'backupAge',
  ],
  [
    'drctl_probe_up',
    'Result of the last probe of a component at a site (1 up, 0 down).',
    FACT_LABELS,
    'probe',
  ],
  [
    'drctl_drill_rto_seconds',
    'RTO measured by the newest drill of each workload (as the client saw it).',
    DRILL_LABELS,
    'rto',
  ],
  [
    'drctl_drill_rpo_seconds',
    'Data lost in the newest drill of each workload, in seconds of acknowledged writes.',
    DRILL_LABELS,
    'rpo',
  ],
  [
    'drctl_drill_lost_writes',
    'Acknowledged writes lost in the newest drill of each workload.',
    DRILL_LABELS,
    'lost',
  ],
];

function readinessGauges(ctx: MetricsContext, readiness: ReadinessCache, registers: Registers): void {
  // prom-client collects all metrics at once: one reading per scrape, shared by the gauges
  const read = shared(async (): Promise<Readings> => {
    const out: Readings = { ok: [], lag: [], backupAge: [], probe: [], rto: [], rpo: [], lost: [] };
    for (const plan of ctx.plans.list()) {
      for (const fact of readiness.report(plan)?.facts ?? []) {
        const labels = { plan: plan.name, component: fact.component, site: fact.site ?? '' };
        out.ok.push({ labels: { ...labels, fact: fact.name }, value: fact.ok ? 1 : 0 });
        if (fact.name === 'probe') out.probe.push({ labels, value: fact.ok ? 1 : 0 });
        if (typeof fact.value === 'number' && fact.name === 'replication-lag')
          out.lag.push({ labels, value: fact.value / 1000 });
        if (typeof fact.value === 'number' && fact.name === 'backup-age')
          out.backupAge.push({ labels, value: fact.value / 1000 });
      }
    }
    for (const workload of (await readiness.view()).workloads) {
      const drill = workload.lastDrill;
      if (drill === undefined) continue;
      const labels = { workload: workload.id, scenario: drill.scenario };
      out.lost.push({ labels, value: drill.lostWrites });
      if (drill.rtoMs !== undefined) out.rto.push({ labels, value: drill.rtoMs / 1000 });
      if (drill.rpoMs !== undefined) out.rpo.push({ labels, value: drill.rpoMs / 1000 });
    }
    return out;
  });
  for (const [name, help, labelNames, key] of READINESS_GAUGES)
    gauge(registers, name, help, labelNames, async () => (await read())[key]);
}

/** A gauge whose samples are read afresh at each scrape. */
function gauge(
  registers: Registers,
  name: string,
  help: string,
  labelNames: string[],
  samples: () => Promise<Sample[]>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers,
    async collect() {
      const current = await samples();
      this.reset();
      for (const sample of current) this.set(sample.labels, sample.value);
    },
  });
}

/** One call in flight at a time: prom-client starts every metric's collect in the same tick of a scrape. */
function shared<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      const started = load();
      pending = started;
      void started.finally(() => (pending = undefined)).catch(() => undefined);
    }
    return pending;
  };
}
