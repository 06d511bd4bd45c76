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

export function registerMetrics(
  ctx: Pick<ServerContext, 'metrics' | 'store' | 'hooks' | 'plans'>,
  readiness: ReadinessCache,
): MiddlewareHandler {
  const registers = [ctx.metrics];
  collectDefaultMetrics({ register: ctx.metrics, prefix: 'drctl_process_' });

  const http = new Histogram({
    name: 'drctl_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });

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

  // both approval gauges come from one look at the waiting runs per scrape
  const readApprovals = shared(() => waitingApprovals());
  const waitingApprovals = async () => {
    const byRunbook = new Map<string, { labels: Record<string, string>; count: number; oldest: number }>();
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
    return byRunbook;
  };
  new Gauge({
    name: 'drctl_approvals_waiting',
    help: 'Approval steps waiting for people, by runbook.',
    labelNames: ['workload', 'runbook'],
    registers,
    async collect() {
      const entries = await readApprovals();
      this.reset();
      for (const entry of entries.values()) this.set(entry.labels, entry.count);
    },
  });
  new Gauge({
    name: 'drctl_approval_wait_oldest_seconds',
    help: 'How long the oldest approval of each runbook has waited.',
    labelNames: ['workload', 'runbook'],
    registers,
    async collect() {
      const entries = await readApprovals();
      this.reset();
      for (const entry of entries.values()) this.set(entry.labels, entry.oldest);
    },
  });

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

  interface Sample {
    labels: Record<string, string>;
    value: number;
  }
  type Readings = Record<'ok' | 'lag' | 'backupAge' | 'probe' | 'rto' | 'rpo' | 'lost', Sample[]>;
  // prom-client collects all metrics at once: one reading per scrape, shared by the gauges below
  const read = shared(() => readReadiness());
  const readReadiness = async (): Promise<Readings> => {
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
  };
  const readinessGauge = (name: string, help: string, labelNames: string[], key: keyof Readings): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const samples = (await read())[key];
        this.reset();
        for (const sample of samples) this.set(sample.labels, sample.value);
      },
    });
  };
  const facts = ['plan', 'component', 'site'];
  const drills = ['workload', 'scenario'];
  readinessGauge(
    'drctl_readiness_ok',
    'Whether a readiness fact holds (1) or not (0), by component, site and fact.',
    [...facts, 'fact'],
    'ok',
  );
  readinessGauge(
    'drctl_replication_lag_seconds',
    'Acknowledged writes at risk on a standby, in seconds.',
    facts,
    'lag',
  );
  readinessGauge(
    'drctl_backup_age_seconds',
    'Age of the newest backup, by component and the site holding it.',
    facts,
    'backupAge',
  );
  readinessGauge(
    'drctl_probe_up',
    'Result of the last probe of a component at a site (1 up, 0 down).',
    facts,
    'probe',
  );
  readinessGauge(
    'drctl_drill_rto_seconds',
    'RTO measured by the newest drill of each workload (as the client saw it).',
    drills,
    'rto',
  );
  readinessGauge(
    'drctl_drill_rpo_seconds',
    'Data lost in the newest drill of each workload, in seconds of acknowledged writes.',
    drills,
    'rpo',
  );
  readinessGauge(
    'drctl_drill_lost_writes',
    'Acknowledged writes lost in the newest drill of each workload.',
    drills,
    'lost',
  );

  return async (c, next) => {
    const started = performance.now();
    await next();
    http.observe(
      { method: c.req.method, route: routePath(c, -1), status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  };
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
