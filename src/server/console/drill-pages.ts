/**
 * The console's drill pages: reports and trends, starting a drill, a drill job, a report.
 */
import { html } from 'hono/html';
import { z } from 'zod';
import { renderDrillReportHtml } from '../../drill/index.ts';
import type { DrillReport } from '../../drill/index.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { redactText } from '../redact.ts';
import { drillJobBody, drillJobsTable, drillStartForm, emergencyStopForm } from './drills.ts';
import { noticeLine, page } from './layout.ts';
import { drillsBody } from './pages.ts';
import { RunParams } from '../actions.ts';
import type { ConsoleKit } from './kit.ts';

export function registerDrillPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send, act, takeNotice } = kit;
  registerDrillJobPages(api, ctx, kit);

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
          body: html`${noticeLine(takeNotice(principal))}${emergencyStopForm(principal)}${drillStartForm(ctx.plans.list(), principal)}
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
    body: z.object({
      choice: z.string().min(1).max(1000),
      failback: z.literal('on').optional(),
      pause: z.literal('on').optional(),
      steps: z.string().max(2000).optional(),
    }),
    handler: ({ c, body, principal }) =>
      act(c, principal, '/drills', async () => {
        // `PLAN SCENARIO`, the plan's name URI-encoded (names may hold spaces)
        const [planName = '', scenario = ''] = body.choice.split(' ');
        const job = await ctx.drills.start({
          plan: ctx.plans.get(decodeURIComponent(planName)),
          scenario,
          startedBy: principal?.name ?? 'unknown',
          failback: body.failback === 'on',
          pause: body.pause === 'on',
          ...(body.steps === undefined || body.steps.trim() === '' ? {} : { steps: body.steps.trim() }),
        });
        return `/drill-jobs/${encodeURIComponent(job.id)}`;
      }),
  });

  api.page({
    method: 'POST',
    path: '/drills/stop',
    role: 'operator',
    summary: 'Emergency stop of every drill',
    body: z.object({}),
    handler: ({ c, principal }) =>
      act(c, principal, '/drills', async () => {
        await ctx.drills.emergencyStop(principal?.name ?? 'unknown', 'the console');
        return '/drills';
      }),
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
        throw ApiError.notFound(
          'DRCTL_API_DRILL_NOT_FOUND',
          `no drill report ${params.id}`,
          'the drills page lists them',
        );
      }
      return send(c, redactText(ctx, renderDrillReportHtml(record.report as unknown as DrillReport)));
    },
  });
}

/** A drill job while it runs: its live page, and cancelling, continuing and noting it. */
function registerDrillJobPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send, act, takeNotice } = kit;

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
    method: 'POST',
    path: '/drill-jobs/:id/continue',
    role: 'operator',
    summary: 'Continue a paused drill',
    params: RunParams,
    body: z.object({}),
    handler: ({ c, params, principal }) => {
      const back = `/drill-jobs/${encodeURIComponent(params.id)}`;
      return act(c, principal, back, async () => {
        await ctx.drills.continue(params.id, principal?.name ?? 'unknown');
        return back;
      });
    },
  });

  api.page({
    method: 'POST',
    path: '/drill-jobs/:id/notes',
    role: 'operator',
    summary: 'Keep a note in a running drill',
    params: RunParams,
    body: z.object({ text: z.string().min(1).max(4000) }),
    handler: ({ c, params, body, principal }) => {
      const back = `/drill-jobs/${encodeURIComponent(params.id)}`;
      return act(c, principal, back, async () => {
        await ctx.drills.note(params.id, principal?.name ?? 'unknown', body.text);
        return back;
      });
    },
  });
}
