/**
 * Alerts start recoveries: `POST /api/v1/alerts` takes Prometheus Alertmanager's webhook body as it sends
 * it. A firing alert whose labels carry every label a site names (`sites.<id>.alerts`) starts that site's
 * recovery; one matching a workload's `alerts` starts its failover. Either run waits at its declaration
 * (the activation gate): an alert never declares a disaster, people do. Alertmanager repeats a firing
 * alert and sends it again when it resolves; a repeat or a second alert for the same site joins the open
 * run, and a resolved alert cancels its run only while it still waits at the declaration (nothing was
 * changed yet). See docs/site-recovery.md#alerts.
 */
import { z } from 'zod';
import { siteDeclaration } from '../../engine/activation.ts';
import { loadRunState, requestCancel } from '../../engine/index.ts';
import type { RunDriver, RunTrigger } from '../../engine/index.ts';
import { hasCode } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import { siteRunWorkload } from '../../plan/site.ts';
import { FINAL_RUN_STATUSES } from '../../store/index.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';

const Alert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
});

/** Alertmanager's webhook payload (version 4); unknown fields are kept out, not refused. */
const Webhook = z.object({
  version: z.string().optional(),
  groupKey: z.string().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  alerts: z.array(Alert).max(1000),
});

/** What happened to one alert. */
const ALERT_OUTCOMES = [
  /** a recovery started, waiting at its declaration */
  'started',
  /** a recovery of the same target was already open: the alert joined it */
  'joined',
  /** resolved while its recovery still waited at the declaration: the run was cancelled */
  'cancelled',
  /** resolved after the declaration, or with no open run: recorded, nothing changed */
  'resolved',
  /** no site or workload of the plan names these labels */
  'unmatched',
] as const;

const Outcome = z.object({
  fingerprint: z.string(),
  outcome: z.enum(ALERT_OUTCOMES),
  site: z.string().optional(),
  workload: z.string().optional(),
  runId: z.string().optional(),
});

type Target =
  { plan: Plan; site: string; workload?: undefined } | { plan: Plan; workload: string; site?: undefined };

function carries(labels: Record<string, string>, wanted: Record<string, string> | undefined): boolean {
  const entries = Object.entries(wanted ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** The site (first) or workload whose alert labels the alert carries. */
function targetOf(plans: readonly Plan[], labels: Record<string, string>): Target | undefined {
  for (const plan of plans) {
    const site = plan.sites.find((candidate) => carries(labels, candidate.alerts));
    if (site !== undefined) return { plan, site: site.id };
    const workload = plan.workloads.find((candidate) => carries(labels, candidate.alerts));
    if (workload !== undefined) return { plan, workload: workload.id };
  }
  return undefined;
}

function fingerprintOf(alert: z.infer<typeof Alert>): string {
  if (alert.fingerprint !== undefined) return alert.fingerprint;
  return Object.entries(alert.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function registerAlerts(api: Api, ctx: ServerContext): void {
  // one decision at a time: two alerts for the same site arriving together must not both start a run
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  /** The open run recovering this target, if any (a site run for a site, a failover for a workload). */
  async function openRun(target: Target): Promise<string | undefined> {
    const workload = target.site === undefined ? target.workload : siteRunWorkload(target.site);
    const runs = await ctx.store.listRuns({ limit: 500 });
    return runs.find(
      (run) =>
        run.workload === workload &&
        !FINAL_RUN_STATUSES.includes(run.status) &&
        (target.site !== undefined ||
          target.plan.workloads
            .find((candidate) => candidate.id === target.workload)
            ?.runbooks.some((runbook) => runbook.name === run.runbook && runbook.kind === 'failover')),
    )?.id;
  }

  async function fire(
    target: Target,
    reason: string,
  ): Promise<{ outcome: 'started' | 'joined'; runId: string }> {
    const open = await openRun(target);
    if (open !== undefined) return { outcome: 'joined', runId: open };
    const trigger = { automatic: false, reason };
    const driver = await startRecovery(target, reason, trigger).catch((error: unknown) => {
      // another instance on the same store declared the site between the look above and this start
      if (hasCode(error, 'DRCTL_SITE_RUN_OPEN')) {
        const runId = (error.details as { runId?: unknown } | undefined)?.runId;
        if (typeof runId === 'string') return { runId, joined: true as const };
      }
      throw error;
    });
    return 'joined' in driver
      ? { outcome: 'joined', runId: driver.runId }
      : { outcome: 'started', runId: driver.runId };
  }

  function startRecovery(target: Target, reason: string, trigger: RunTrigger): Promise<RunDriver> {
    return target.site !== undefined
      ? ctx.runs.start({
          plan: target.plan,
          runbook: '',
          site: target.site,
          startedBy: 'alertmanager',
          activation: { ...siteDeclaration(target.plan, target.site), reason },
          trigger,
        })
      : ctx.runs.start({
          plan: target.plan,
          runbook: 'failover',
          workload: target.workload,
          startedBy: 'alertmanager',
          activation: {
            approvers: target.plan.activation?.approvers ?? [],
            quorum: target.plan.activation?.quorum ?? 1,
            reason,
          },
          trigger,
        });
  }

  /** Cancels the run only while nothing but its declaration has happened. */
  async function resolve(target: Target): Promise<{ outcome: 'cancelled' | 'resolved'; runId?: string }> {
    const runId = await openRun(target);
    if (runId === undefined) return { outcome: 'resolved' };
    const state = await loadRunState(ctx.store, runId);
    const gate = state.created.activation === undefined ? undefined : state.order[0];
    const untouched = [...state.steps.values()].every((step) =>
      step.snapshot.id === gate ? step.status !== 'succeeded' : step.status === 'pending',
    );
    if (!untouched) return { outcome: 'resolved', runId };
    await requestCancel(ctx.store, {
      runId,
      by: 'alertmanager',
      reason: 'the alert resolved before DR was declared',
    });
    return { outcome: 'cancelled', runId };
  }

  api.route({
    method: 'POST',
    path: '/alerts',
    role: 'alerts',
    summary: 'Receive alerts from Prometheus Alertmanager (webhook_configs)',
    description:
      "Alertmanager's webhook body. A firing alert whose labels carry a site's or a workload's `alerts` labels opens its recovery, waiting at its declaration; a repeat joins the open run; a resolved alert cancels a run still waiting at its declaration.",
    body: Webhook,
    response: z.object({ alerts: z.array(Outcome) }),
    handler: async ({ body }) =>
      serially(async () => {
        const results: Array<z.infer<typeof Outcome>> = [];
        for (const alert of body.alerts) {
          const fingerprint = fingerprintOf(alert);
          const target = targetOf(ctx.plans.list(), alert.labels);
          if (target === undefined) {
            results.push({ fingerprint, outcome: 'unmatched' });
            continue;
          }
          const where = target.site !== undefined ? { site: target.site } : { workload: target.workload };
          const name = alert.labels.alertname ?? 'an alert';
          const summary = alert.annotations.summary ?? alert.annotations.description;
          const reason = `Alertmanager: ${name}${summary === undefined ? '' : ` — ${summary}`} (${Object.entries(
            alert.labels,
          )
            .map(([key, value]) => `${key}=${value}`)
            .join(', ')})`;
          const done = alert.status === 'firing' ? await fire(target, reason) : await resolve(target);
          results.push({ fingerprint, ...where, ...done });
          ctx.logger.info({ fingerprint, ...where, ...done }, 'alert received');
        }
        return { alerts: results };
      }),
  });
}
