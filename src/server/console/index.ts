/**
 * The web console: server-rendered HTML pages (hono/html tagged templates) with one small script for
 * live updates, every asset served by drctl itself (no CDN, system fonts). Pages are declared with
 * `api.page`, so they share the API's sessions, roles, CSRF check and audit; their forms post to console
 * paths that call the same server actions as the API (../actions.ts) and answer with a redirect (the page
 * works without JavaScript). docs/console.md describes the pages and how live updates work.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { deleteCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { z } from 'zod';
import { analyzePlan } from '../../analysis/index.ts';
import { findRunbook } from '../../engine/index.ts';
import { renderDrillReportHtml } from '../../drill/index.ts';
import type { DrillReport } from '../../drill/index.ts';
import type { Plan, Step } from '../../plan/index.ts';
import { SITE_RUNBOOK, siteOfRun, siteRecovery } from '../../plan/site.ts';
import { renderHtml } from '../../render/index.ts';
import { AUDIT_STREAM, remoteAddress } from '../api.ts';
import type { Api } from '../api.ts';
import { endSession, SESSION_COOKIE } from '../auth.ts';
import type { Principal } from '../auth.ts';
import { RUN_ACTION_ROLES, runActions } from '../actions.ts';
import type { ServerContext } from '../context.ts';
import { ApiError, httpError } from '../errors.ts';
import type { HttpError } from '../errors.ts';
import { redactAnswer, redactText } from '../redact.ts';
import { formEvidence, sharedRunView } from '../routes/runs.ts';
import { currentStatus } from '../runs.ts';
import { drillJobBody, drillJobsTable, drillStartForm } from './drills.ts';
import { noticeLine, page } from './layout.ts';
import type { Fragment } from './layout.ts';
import { confirmStartBody, drillsBody, runbooksBody, runsBody, signInBody, startBody } from './pages.ts';
import { readinessBody } from './readiness.ts';
import { runBody } from './run.ts';

export { runBody, approvalRefusal } from './run.ts';
export { readinessBody } from './readiness.ts';
export { drillTrends } from './pages.ts';
export type { DrillTrend } from './pages.ts';

const require = createRequire(import.meta.url);

const ownAsset = (name: string, type: string): { file: string; type: string } => ({
  file: fileURLToPath(new URL(`./assets/${name}`, import.meta.url)),
  type,
});
/** Static files: the console's own, and uPlot from its package (served, never fetched from a CDN). */
const ASSETS: Record<string, { file: string; type: string }> = {
  'console.css': ownAsset('console.css', 'text/css'),
  'console.js': ownAsset('console.js', 'text/javascript'),
  'drills.js': ownAsset('drills.js', 'text/javascript'),
  'drill-job.js': ownAsset('drill-job.js', 'text/javascript'),
  'uplot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
};

/** Pages allow only drctl's own scripts and styles; inline styles stay for the rendered documents. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

const RunParams = z.object({ id: z.string().min(1).max(100) });
const StepParams = RunParams.extend({ step: z.string().min(1).max(200) });
const Text = z.string().max(10_000);

/** A console error as a page: the status, what went wrong and what to do, with a way back. */
export function errorPage(c: Context, answer: HttpError): Response | Promise<Response> {
  const { code, message, hint } = answer.body.error;
  const title = answer.status === 404 ? 'Not found' : answer.status < 500 ? 'Refused' : 'Error';
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  return c.html(
    page({
      title,
      principal: undefined,
      body: html`<section class="card">
        <h1>${title}</h1>
        <p>${message}</p>
        ${hint === undefined ? '' : html`<p class="muted">${hint}</p>`}
        <p>
          <small class="muted"><code>${code}</code> · HTTP ${answer.status}</small>
        </p>
        <p><a class="button" href="/">Back to readiness</a></p>
      </section>`,
    }),
    answer.status as 404,
  );
}

export function registerConsole(api: Api, ctx: ServerContext): void {
  const cache = new Map<string, Buffer>();
  api.app.get('/console/assets/:name', (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (asset === undefined) return c.notFound();
    let body = cache.get(asset.file);
    if (body === undefined) cache.set(asset.file, (body = readFileSync(asset.file)));
    return c.body(new Uint8Array(body), 200, {
      'content-type': `${asset.type}; charset=utf-8`,
      'cache-control': 'public, max-age=300',
    });
  });

  // a refusal from the last form a person posted, shown once on the page they are sent back to
  const notices = new Map<string, string>();
  const noticeKey = (principal: Principal | undefined): string =>
    principal?.sessionId ?? principal?.name ?? '';
  const takeNotice = (principal: Principal | undefined): string | undefined => {
    const key = noticeKey(principal);
    const notice = notices.get(key);
    notices.delete(key);
    return notice;
  };

  const send = (c: Context, body: Fragment | string, status = 200): Response | Promise<Response> => {
    c.header('content-security-policy', CSP);
    c.header('x-content-type-options', 'nosniff');
    return c.html(body, status as 200);
  };
  const analysed = () => ctx.plans.list().map((plan) => ({ plan, analysis: analyzePlan(plan) }));
  /** The newest runs with the status the API gives them: a run whose steps wait on people is `waiting`. */
  const runsNow = async () =>
    Promise.all(
      (await ctx.store.listRuns({ limit: 100 })).map(async (run) => ({
        ...run,
        status: await currentStatus(ctx.store, run),
      })),
    );
  /** Runs that wait on a person, with what each waits for: readiness shows them first. */
  const waitingRuns = async () => {
    const waiting = (await runsNow()).filter((run) => run.status === 'waiting');
    return Promise.all(waiting.map(async (run) => (await sharedRunView(ctx, run.id)).view));
  };

  /** Runs `action`; a refusal (wrong step state, four-eyes, ...) becomes a notice on the page at `back`. */
  const act = async (
    c: Context,
    principal: Principal | undefined,
    back: string,
    action: () => Promise<string | undefined>,
  ): Promise<Response> => {
    try {
      const to = await action();
      return c.redirect(to ?? back, 303);
    } catch (error) {
      const answer = httpError(error);
      if (answer.unexpected) throw error;
      const { code, message, hint } = answer.body.error;
      // the core audits the form post as answered (a redirect); the refusal itself is recorded here
      await ctx.store.appendEvent(AUDIT_STREAM, {
        type: 'refused',
        actor: principal?.name ?? 'anonymous',
        data: {
          method: c.req.method,
          path: c.req.path,
          status: answer.status,
          code,
          remote: remoteAddress(c),
        },
      });
      notices.set(noticeKey(principal), `Refused: ${message}${hint ? ` (${hint})` : ''}`);
      return c.redirect(back, 303);
    }
  };

  api.page({
    method: 'GET',
    path: '/sign-in',
    role: 'public',
    summary: 'Sign in',
    query: z.object({ next: z.string().max(2000).default('/'), error: z.string().optional() }),
    handler: ({ c, query, principal }) =>
      send(
        c,
        page({
          title: 'Sign in',
          principal: undefined,
          body: signInBody({ next: query.next, error: query.error, principal }),
        }),
      ),
  });

  api.page({
    method: 'POST',
    path: '/sign-out',
    role: 'viewer',
    summary: 'Sign out',
    body: z.object({}),
    handler: async ({ c, principal }) => {
      if (principal?.sessionId !== undefined) await endSession(ctx.store, principal.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.redirect('/sign-in', 303);
    },
  });

  api.page({
    method: 'GET',
    path: '/',
    role: 'viewer',
    summary: 'Readiness at a glance',
    handler: async ({ c, principal }) =>
      send(
        c,
        page({
          title: 'Readiness',
          current: 'readiness',
          principal,
          body: readinessBody(redactAnswer(ctx, await ctx.readiness.view()), await waitingRuns()),
        }),
      ),
  });

  api.page({
    method: 'GET',
    path: '/runs',
    role: 'viewer',
    summary: 'Runs',
    handler: async ({ c, principal }) =>
      send(
        c,
        page({
          title: 'Runs',
          current: 'runs',
          principal,
          body: runsBody(await runsNow()),
        }),
      ),
  });

  api.page({
    method: 'GET',
    path: '/runs/new',
    role: 'operator',
    summary: 'Start a run',
    query: z.object({ workload: z.string().optional() }),
    handler: ({ c, principal, query }) =>
      send(
        c,
        page({
          title: 'Start a run',
          current: 'runs',
          principal,
          body: startBody({
            plans: analysed(),
            workload: query.workload,
            principal: principal!,
            notice: takeNotice(principal),
          }),
        }),
      ),
  });

  api.page({
    method: 'POST',
    path: '/runs',
    role: 'operator',
    summary: 'Start a run',
    body: z.object({ choice: z.string().min(1).max(1000), confirmed: z.literal('yes').optional() }),
    handler: async ({ c, body, principal }) => {
      // `PLAN WORKLOAD/RUNBOOK`, the plan's name URI-encoded (names may hold spaces)
      const [planName = '', ref = ''] = body.choice.split(' ');
      if (body.confirmed === undefined) {
        // a run acts on real systems: the first post only asks, naming what is about to happen
        let chosen;
        try {
          const plan = ctx.plans.get(decodeURIComponent(planName));
          chosen = { plan, runbook: findRunbook(plan, ref) };
        } catch (error) {
          return act(c, principal, '/runs/new', () => Promise.reject(error));
        }
        return send(
          c,
          page({
            title: 'Start a run',
            current: 'runs',
            principal,
            body: confirmStartBody({ ...chosen, choice: body.choice, principal: principal! }),
          }),
        );
      }
      return act(c, principal, '/runs/new', async () => {
        const plan = ctx.plans.get(decodeURIComponent(planName));
        findRunbook(plan, ref);
        const driver = await ctx.runs.start({ plan, runbook: ref, startedBy: principal?.name ?? 'unknown' });
        return `/runs/${encodeURIComponent(driver.runId)}`;
      });
    },
  });

  // a runbook's steps as the run page shows them, redacted once per loaded plan (a reload brings new plans)
  const stepsByPlan = new WeakMap<Plan, Map<string, Map<string, Step>>>();
  const runbookSteps = (plan: Plan, ref: string): Map<string, Step> => {
    let byRef = stepsByPlan.get(plan);
    if (byRef === undefined) stepsByPlan.set(plan, (byRef = new Map()));
    let steps = byRef.get(ref);
    if (steps === undefined) {
      try {
        // a site run's steps are its children's, prefixed with their workload (plan/site.ts)
        const [workload = '', name = ''] = ref.split('/');
        const site = siteOfRun(workload);
        const runbook =
          site === undefined || name !== SITE_RUNBOOK
            ? findRunbook(plan, ref)
            : siteRecovery(plan, site).runbook;
        steps = new Map(redactAnswer(ctx, runbook.steps).map((step) => [step.id, step]));
      } catch {
        // the plan changed since the run started: the run page still shows the journal's steps
        steps = new Map();
      }
      byRef.set(ref, steps);
    }
    return steps;
  };

  const runInput = async (id: string, principal: Principal | undefined) => {
    const { view } = await sharedRunView(ctx, id);
    const run = await ctx.store.getRun(id);
    const plan = ctx.plans.byFile(view.planFile);
    const steps =
      plan === undefined ? new Map<string, Step>() : runbookSteps(plan, `${view.workload}/${view.runbook}`);
    return { view, headSeq: run?.headSeq ?? 0, steps, principal };
  };

  api.page({
    method: 'GET',
    path: '/runs/:id',
    role: 'viewer',
    summary: 'A live run',
    params: RunParams,
    handler: async ({ c, params, principal }) => {
      const input = await runInput(params.id, principal);
      return send(
        c,
        page({
          title: `${input.view.workload}/${input.view.runbook}`,
          current: 'runs',
          principal,
          // outside the part the live script replaces, so the refusal stays until the person moves on
          body: html`${noticeLine(takeNotice(principal))}${runBody(input)}`,
        }),
      );
    },
  });

  // what the live script fetches after each event: the same body, without the page around it
  api.page({
    method: 'GET',
    path: '/runs/:id/live',
    role: 'viewer',
    summary: 'A live run, the part that changes',
    params: RunParams,
    handler: async ({ c, params, principal }) => send(c, runBody(await runInput(params.id, principal))),
  });

  const runPath = (id: string): string => `/runs/${encodeURIComponent(id)}`;
  const actions = runActions(ctx);

  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/confirm',
    role: RUN_ACTION_ROLES.confirm,
    summary: 'Confirm a manual step',
    params: StepParams,
    files: true,
    body: z.object({ evidence: z.string().max(1_000_000).optional(), note: Text.optional() }),
    handler: ({ c, params, body, files, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.confirm(principal, {
          runId: params.id,
          step: params.step,
          note: body.note,
          evidence: formEvidence(body.evidence, files),
        });
        return undefined;
      }),
  });

  // approve and reject are open to every signed-in person here, so that a refusal (role, four-eyes)
  // is shown on the page with its reason; the actions decide
  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/approve',
    role: 'viewer',
    summary: 'Approve a step',
    params: StepParams,
    body: z.object({ note: Text.optional() }),
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.approve(principal, { runId: params.id, step: params.step, note: body.note });
        return undefined;
      }),
  });

  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/reject',
    role: 'viewer',
    summary: 'Reject a step',
    params: StepParams,
    body: z.object({ note: Text.optional(), reason: Text.optional() }),
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        const reason = body.reason ?? body.note;
        await actions.reject(principal, { runId: params.id, step: params.step, reason });
        return undefined;
      }),
  });

  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/decide',
    role: RUN_ACTION_ROLES.decide,
    summary: 'Decide for an escalated step',
    params: StepParams,
    body: z.object({ choice: z.enum(['retry', 'skip', 'done', 'abort']) }),
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.decide(principal, { runId: params.id, step: params.step, choice: body.choice });
        return undefined;
      }),
  });

  api.page({
    method: 'POST',
    path: '/runs/:id/cancel',
    role: RUN_ACTION_ROLES.cancel,
    summary: 'Cancel a run',
    params: RunParams,
    body: z.object({ reason: Text.optional() }),
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.cancel(principal, { runId: params.id, reason: body.reason });
        return undefined;
      }),
  });

  api.page({
    method: 'POST',
    path: '/runs/:id/resume',
    role: RUN_ACTION_ROLES.resume,
    summary: 'Resume a run',
    params: RunParams,
    body: z.object({}),
    handler: ({ c, params, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.resume(principal, { runId: params.id });
        return undefined;
      }),
  });

  api.page({
    method: 'GET',
    path: '/drills',
    role: 'viewer',
    summary: 'Drill reports and their trends',
    handler: async ({ c, principal }) =>
      send(
        c,
        page({
          title: 'Drills',
          current: 'drills',
          principal,
          styles: ['/console/assets/uplot.css'],
          scripts: ['/console/assets/uplot.js', '/console/assets/drills.js'],
          body: html`${noticeLine(takeNotice(principal))}${drillStartForm(ctx.plans.list(), principal)}
          ${drillJobsTable(await ctx.drills.list(20))}
          ${drillsBody(await ctx.store.listDrillReports({ limit: 500 }))}`,
        }),
      ),
  });

  api.page({
    method: 'POST',
    path: '/drills',
    role: 'operator',
    summary: 'Start a drill',
    body: z.object({ choice: z.string().min(1).max(1000), failback: z.literal('on').optional() }),
    handler: ({ c, body, principal }) =>
      act(c, principal, '/drills', async () => {
        // `PLAN SCENARIO`, the plan's name URI-encoded (names may hold spaces)
        const [planName = '', scenario = ''] = body.choice.split(' ');
        const job = await ctx.drills.start({
          plan: ctx.plans.get(decodeURIComponent(planName)),
          scenario,
          startedBy: principal?.name ?? 'unknown',
          failback: body.failback === 'on',
        });
        return `/drill-jobs/${encodeURIComponent(job.id)}`;
      }),
  });

  api.page({
    method: 'GET',
    path: '/drill-jobs/:id',
    role: 'viewer',
    summary: 'A drill job, live',
    params: RunParams,
    handler: async ({ c, params, principal }) => {
      const job = await ctx.drills.get(params.id);
      return send(
        c,
        page({
          title: `Drill ${job.scenario}`,
          current: 'drills',
          principal,
          scripts: ['/console/assets/drill-job.js'],
          body: drillJobBody(job, principal, takeNotice(principal)),
        }),
      );
    },
  });

  api.page({
    method: 'POST',
    path: '/drill-jobs/:id/cancel',
    role: 'operator',
    summary: 'Cancel a drill',
    params: RunParams,
    body: z.object({}),
    handler: ({ c, params, principal }) => {
      const back = `/drill-jobs/${encodeURIComponent(params.id)}`;
      return act(c, principal, back, async () => {
        await ctx.drills.cancel(params.id, principal?.name ?? 'unknown');
        return back;
      });
    },
  });

  api.page({
    method: 'GET',
    path: '/drills/:id',
    role: 'viewer',
    summary: 'One drill report',
    params: z.object({ id: z.string().min(1).max(300) }),
    handler: async ({ c, params }) => {
      const record = (await ctx.store.listDrillReports({ limit: 10_000 })).find((r) => r.id === params.id);
      if (record === undefined) {
        throw new ApiError(404, 'DRCTL_API_DRILL_NOT_FOUND', `no drill report ${params.id}`, {
          hint: 'the drills page lists them',
        });
      }
      return send(c, redactText(ctx, renderDrillReportHtml(record.report as unknown as DrillReport)));
    },
  });

  api.page({
    method: 'GET',
    path: '/runbooks',
    role: 'viewer',
    summary: 'Runbooks and findings',
    handler: ({ c, principal }) =>
      send(c, page({ title: 'Runbooks', current: 'runbooks', principal, body: runbooksBody(analysed()) })),
  });

  api.page({
    method: 'GET',
    path: '/runbooks/:workload',
    role: 'viewer',
    summary: "A workload's runbooks and findings",
    params: z.object({ workload: z.string().min(1).max(200) }),
    handler: ({ c, params, principal }) => {
      const plans = analysed().filter(({ plan }) => plan.workloads.some((w) => w.id === params.workload));
      if (plans.length === 0) throw workloadNotFound(params.workload);
      return send(
        c,
        page({
          title: params.workload,
          current: 'runbooks',
          principal,
          body: runbooksBody(plans, params.workload),
        }),
      );
    },
  });

  api.page({
    method: 'GET',
    path: '/runbooks/:workload/:runbook',
    role: 'viewer',
    summary: 'A rendered runbook',
    params: z.object({ workload: z.string().min(1).max(200), runbook: z.string().min(1).max(200) }),
    handler: ({ c, params }) => {
      const plan = ctx.plans
        .list()
        .find((candidate) => candidate.workloads.some((w) => w.id === params.workload));
      if (plan === undefined) throw workloadNotFound(params.workload);
      const ref = `${params.workload}/${params.runbook}`;
      findRunbook(plan, ref);
      return send(c, redactText(ctx, renderHtml(plan, { runbook: ref })));
    },
  });
}

function workloadNotFound(id: string): ApiError {
  return new ApiError(
    404,
    'DRCTL_API_WORKLOAD_NOT_FOUND',
    `no workload ${id} in the plans this server serves`,
    {
      hint: 'the runbooks page lists them',
    },
  );
}
