/**
 * The console's run pages: the list, starting a run (asked, then confirmed), and a live run. The forms
 * people act with are in run-forms.ts.
 */
import { html } from 'hono/html';
import { z } from 'zod';
import { findRunbook } from '../../engine/index.ts';
import type { Plan, Step } from '../../plan/index.ts';
import { SITE_RUNBOOK, siteOfRun, siteRecovery } from '../../plan/site.ts';
import type { Api } from '../api.ts';
import type { Principal } from '../auth.ts';
import type { ServerContext } from '../context.ts';
import { redactAnswer } from '../redact.ts';
import { sharedRunView } from '../routes/runs.ts';
import { noticeLine, page } from './layout.ts';
import { confirmStartBody, runsBody, startBody } from './pages.ts';
import { runBody } from './run.ts';
import { RunParams } from '../actions.ts';
import type { ConsoleKit } from './kit.ts';

export function registerRunPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send, act, takeNotice, analysed, runsNow } = kit;

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
}
