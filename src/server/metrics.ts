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
import type { ServerContext } from './context.ts';
import type { ReadinessCache } from './readiness.ts';

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
      for (const run of await ctx.store.listRuns({ limit: 1000 }))
        counts.set(run.status, (counts.get(run.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });

  const waitingAge = new Gauge({
    name: 'drctl_approval_wait_oldest_seconds',
    help: 'How long the oldest approval of each runbook has waited.',
    labelNames: ['workload', 'runbook'],
    registers,
  });
  new Gauge({
    name: 'drctl_approvals_waiting',
    help: 'Approval steps waiting for people, by runbook.',
    labelNames: ['workload', 'runbook'],
    registers,
    async collect() {
      this.reset();
      waitingAge.reset();
      const runs = (await ctx.store.listRuns({ limit: LIVE_RUNS_SCANNED })).filter(
        (run) => run.status === 'waiting',
      );
      for (const run of runs) {
        const view = runView(await ctx.store.readJournal(run.id));
        const labels = { workload: run.workload, runbook: run.runbook };
        for (const step of view.steps.filter((candidate) => candidate.waitingFor === 'approval')) {
          this.inc(labels);
          const age = step.startedAt === undefined ? 0 : (Date.now() - Date.parse(step.startedAt)) / 1000;
          const known = (await waitingAge.get()).values.find(
            (value) => value.labels.workload === run.workload && value.labels.runbook === run.runbook,
          );
          if (known === undefined || known.value < age) waitingAge.set(labels, age);
        }
      }
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

  const factOk = new Gauge({
    name: 'drctl_readiness_ok',
    help: 'Whether a readiness fact holds (1) or not (0), by component, site and fact.',
    labelNames: ['plan', 'component', 'site', 'fact'],
    registers,
  });
  const lag = new Gauge({
    name: 'drctl_replication_lag_seconds',
    help: 'Acknowledged writes at risk on a standby, in seconds.',
    labelNames: ['plan', 'component', 'site'],
    registers,
  });
  const backupAge = new Gauge({
    name: 'drctl_backup_age_seconds',
    help: 'Age of the newest backup, by component and the site holding it.',
    labelNames: ['plan', 'component', 'site'],
    registers,
  });
  const probe = new Gauge({
    name: 'drctl_probe_up',
    help: 'Result of the last probe of a component at a site (1 up, 0 down).',
    labelNames: ['plan', 'component', 'site'],
    registers,
  });
  const drillRto = new Gauge({
    name: 'drctl_drill_rto_seconds',
    help: 'RTO measured by the newest drill of each workload (as the client saw it).',
    labelNames: ['workload', 'scenario'],
    registers,
  });
  const drillRpo = new Gauge({
    name: 'drctl_drill_rpo_seconds',
    help: 'Data lost in the newest drill of each workload, in seconds of acknowledged writes.',
    labelNames: ['workload', 'scenario'],
    registers,
  });
  new Gauge({
    name: 'drctl_drill_lost_writes',
    help: 'Acknowledged writes lost in the newest drill of each workload.',
    labelNames: ['workload', 'scenario'],
    registers,
    async collect() {
      this.reset();
      for (const gauge of [factOk, lag, backupAge, probe, drillRto, drillRpo]) gauge.reset();
      for (const plan of ctx.plans.list()) {
        for (const fact of readiness.report(plan)?.facts ?? []) {
          const labels = { plan: plan.name, component: fact.component, site: fact.site ?? '' };
          factOk.set({ ...labels, fact: fact.name }, fact.ok ? 1 : 0);
          if (fact.name === 'probe') probe.set(labels, fact.ok ? 1 : 0);
          if (typeof fact.value === 'number' && fact.name === 'replication-lag')
            lag.set(labels, fact.value / 1000);
          if (typeof fact.value === 'number' && fact.name === 'backup-age')
            backupAge.set(labels, fact.value / 1000);
        }
      }
      const view = await readiness.view();
      for (const workload of view.workloads) {
        const drill = workload.lastDrill;
        if (drill === undefined) continue;
        const labels = { workload: workload.id, scenario: drill.scenario };
        this.set(labels, drill.lostWrites);
        if (drill.rtoMs !== undefined) drillRto.set(labels, drill.rtoMs / 1000);
        if (drill.rpoMs !== undefined) drillRpo.set(labels, drill.rpoMs / 1000);
      }
    },
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
