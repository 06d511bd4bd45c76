/**
 * Runs: list, read (the engine's run view), start (driven by this server's engine), and what people do
 * to them. Approvals, confirmations, decisions, cancels and resumes are the server's actions
 * (../actions.ts), shared with the console's forms.
 */
import { z } from 'zod';
import { runView, verifyRun } from '../../engine/index.ts';
import type { RunView } from '../../engine/index.ts';
import { FINAL_RUN_STATUSES } from '../../store/index.ts';
import type { RunRecord, RunStatus } from '../../store/index.ts';
import { RedactedJson } from '../api.ts';
import type { Api, UploadedFile } from '../api.ts';
import {
  RUN_ACTION_REQUESTS,
  RUN_ACTION_ROLES,
  RunParams,
  StepParams,
  Text,
  runActions,
} from '../actions.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { redactAnswer } from '../redact.ts';
import { currentStatus, notFound } from '../runs.ts';

const RUN_STATUSES = [
  'running',
  'waiting',
  'succeeded',
  'failed',
  'cancelled',
  'rolled-back',
] as const satisfies RunStatus[];

const RunSummary = z.object({
  id: z.string(),
  workload: z.string(),
  runbook: z.string(),
  status: z.enum(RUN_STATUSES),
  startedBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  headSeq: z.number(),
  drivenHere: z.boolean(),
});

const Step = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  status: z.string(),
  needs: z.array(z.string()),
  waitingFor: z.string().optional(),
  waitingOn: z.array(z.string()),
  approvedBy: z.array(z.string()),
  approvals: z.array(z.object({ by: z.string(), at: z.string(), note: z.string().optional() })),
  quorum: z.number().optional(),
  expectedMs: z.number(),
  contingencyMs: z.number(),
  actualMs: z.number().optional(),
  evidence: z.array(z.object({ name: z.string(), value: z.unknown(), by: z.string() })),
});
const Run = z.object({
  id: z.string(),
  workload: z.string(),
  runbook: z.string(),
  status: z.enum(RUN_STATUSES),
  startedBy: z.string(),
  startedAt: z.string(),
  reason: z.string().optional(),
  cancel: z.object({ by: z.string(), reason: z.string().optional() }).optional(),
  progress: z.object({
    total: z.number(),
    done: z.number(),
    running: z.number(),
    waiting: z.number(),
    failed: z.number(),
  }),
  waiting: z.array(z.object({ step: z.string(), for: z.string(), on: z.array(z.string()) })),
  next: z.array(z.string()),
  steps: z.array(Step),
  drivenHere: z.boolean(),
  site: z
    .object({
      site: z.string(),
      children: z.array(
        z.object({
          workload: z.string(),
          runbook: z.string(),
          tier: z.number(),
          status: z.string(),
          after: z.array(z.string()),
          steps: z.array(z.string()),
          rtoMs: z.number(),
          recoveredAfterMs: z.number().optional(),
          fits: z.boolean().optional(),
          current: z.array(z.string()),
          approvals: z.array(z.object({ step: z.string(), on: z.array(z.string()) })),
        }),
      ),
      tiers: z.array(
        z.object({
          tier: z.number(),
          workloads: z.array(z.string()),
          rtoMs: z.number(),
          recoveredAfterMs: z.number().optional(),
          fits: z.boolean().optional(),
        }),
      ),
      declaredAfterMs: z.number().optional(),
      recoveredAfterMs: z.number().optional(),
      withinRto: z.object({
        met: z.number(),
        missed: z.number(),
        notRecovered: z.number(),
        open: z.number(),
      }),
    })
    .optional()
    .describe('a site run (docs/site-recovery.md): its children, each tier and the site against their RTO'),
});

function summaryOf(run: RunRecord, drivenHere: boolean): z.infer<typeof RunSummary> {
  return {
    id: run.id,
    workload: run.workload,
    runbook: run.runbook,
    status: run.status,
    startedBy: run.startedBy,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    headSeq: run.headSeq,
    drivenHere,
  };
}

export async function viewOfRun(
  ctx: ServerContext,
  runId: string,
): Promise<RunView & { drivenHere: boolean }> {
  const records = await ctx.store.readJournal(runId);
  if (records.length === 0) throw notFound(runId);
  return {
    ...runView(records, await ctx.store.getLease(runId)),
    drivenHere: ctx.runs.driving.includes(runId),
  };
}

type SharedView = RunView & { drivenHere: boolean };
interface CachedView {
  key: string;
  until: number;
  view: SharedView;
  json: RedactedJson;
}
/** How long a live run's view is shared between readers: its running steps' times move on. */
const LIVE_VIEW_MS = 200;
const SHARED_VIEWS = 500;
// per redactor: a plan reload brings a new one, and with it views redacted with the new secrets
const sharedViews = new WeakMap<object, Map<string, CachedView>>();

/**
 * A run's view, redacted, shared by everyone reading it (a run page open on 200 phones): a finished
 * run's view is built once, a live one at most every 200 ms and again whenever its journal or lease moves.
 */
export async function sharedRunView(ctx: ServerContext, runId: string): Promise<CachedView> {
  const [run, lease] = await Promise.all([ctx.store.getRun(runId), ctx.store.getLease(runId)]);
  if (run === undefined) throw notFound(runId);
  const drivenHere = ctx.runs.driving.includes(runId);
  const key = `${run.headSeq}|${lease?.owner}|${lease?.token}|${drivenHere}`;
  const redactor = ctx.plans.redactor;
  let views = sharedViews.get(redactor);
  if (views === undefined) sharedViews.set(redactor, (views = new Map()));
  const cached = views.get(runId);
  const now = Date.now();
  if (cached !== undefined && cached.key === key && now < cached.until) return cached;
  const view = redactAnswer(ctx, await viewOfRun(ctx, runId));
  const final = FINAL_RUN_STATUSES.includes(view.status);
  const entry = { key, until: final ? Infinity : now + LIVE_VIEW_MS, view, json: new RedactedJson(view) };
  views.delete(runId);
  views.set(runId, entry);
  // bounded: the least recently built views go first
  if (views.size > SHARED_VIEWS) views.delete(views.keys().next().value!);
  return entry;
}

/** Evidence from a form: the text field as `text`, each file by its name (text as is, else base64). */
export function formEvidence(
  evidence: string | Record<string, string> | undefined,
  files: UploadedFile[],
): Record<string, string> | undefined {
  const entries: Record<string, string> = typeof evidence === 'string' ? { text: evidence } : { ...evidence };
  for (const file of files) {
    const text = file.bytes.toString('utf8');
    const isText =
      file.type.startsWith('text/') || file.type === 'application/json' || !text.includes('\uFFFD');
    entries[file.name || file.field] = isText
      ? text
      : `data:${file.type || 'application/octet-stream'};base64,${file.bytes.toString('base64')}`;
  }
  return Object.keys(entries).length === 0 ? undefined : entries;
}

export function registerRuns(api: Api, ctx: ServerContext): void {
  registerRunList(api, ctx);
  registerRunStart(api, ctx);
  registerRunReads(api, ctx);
  registerRunActions(api, ctx);
}

function registerRunList(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/runs',
    role: 'viewer',
    summary: 'List runs, newest first',
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(50),
      status: z.enum(RUN_STATUSES).optional(),
      workload: z.string().optional(),
    }),
    response: z.object({ runs: z.array(RunSummary) }),
    handler: async ({ query }) => {
      const filtered = query.status !== undefined || query.workload !== undefined;
      const runs: RunRecord[] = [];
      for (const run of await ctx.store.listRuns({ limit: filtered ? 1000 : query.limit })) {
        if (query.workload !== undefined && run.workload !== query.workload) continue;
        const status = await currentStatus(ctx.store, run);
        if (query.status !== undefined && status !== query.status) continue;
        runs.push({ ...run, status });
        if (runs.length >= query.limit) break;
      }
      const driving = new Set(ctx.runs.driving);
      return { runs: runs.map((run) => summaryOf(run, driving.has(run.id))) };
    },
  });
}

function registerRunStart(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'POST',
    path: '/runs',
    role: 'operator',
    summary: 'Start a run',
    description: "Creates the run and drives it with this server's engine; the caller is the run's starter.",
    status: 201,
    body: z.object({
      runbook: z
        .string()
        .min(1)
        .optional()
        .describe('`workload/name`, or a name unique across workloads; or give `site`'),
      site: z
        .string()
        .min(1)
        .optional()
        .describe('recover every workload the site serves in one run, behind its declaration'),
      workload: z.string().optional(),
      plan: z.string().optional().describe('needed when the server serves several plans'),
      parallel: z.coerce.number().int().min(1).max(64).optional(),
      activation: z
        .object({
          approvers: z.array(z.string()).default([]),
          quorum: z.number().int().min(1).default(1),
          reason: z.string().max(2000),
        })
        .optional()
        .describe('an approval step in front of the runbook: nothing runs until activation is approved'),
    }),
    response: Run,
    handler: async ({ body, principal }) => {
      if ((body.runbook === undefined) === (body.site === undefined))
        throw ApiError.invalid('name either runbook or site', {
          hint: '{"runbook": "shop/failover"}, or {"site": "east"} to recover a whole site',
          field: 'body.runbook',
        });
      const driver = await ctx.runs.start({
        plan: ctx.plans.get(body.plan),
        runbook: body.runbook ?? '',
        ...(body.site === undefined ? {} : { site: body.site }),
        startedBy: principal?.name ?? 'unknown',
        ...(body.workload === undefined ? {} : { workload: body.workload }),
        ...(body.parallel === undefined ? {} : { parallel: body.parallel }),
        ...(body.activation === undefined ? {} : { activation: body.activation }),
      });
      return viewOfRun(ctx, driver.runId);
    },
  });
}

/** One run: its view, journal, evidence and chain. */
function registerRunReads(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/runs/:id',
    role: 'viewer',
    summary: 'One run: progress, steps, what waits for whom, evidence',
    params: RunParams,
    response: Run,
    handler: async ({ params }) => (await sharedRunView(ctx, params.id)).json,
  });

  api.route({
    method: 'GET',
    path: '/runs/:id/journal',
    role: 'viewer',
    summary: "A run's journal records, in order",
    params: RunParams,
    query: z.object({ afterSeq: z.coerce.number().int().min(0).default(0) }),
    handler: async ({ params, query }) => {
      if ((await ctx.store.getRun(params.id)) === undefined) throw notFound(params.id);
      const records = await ctx.store.readJournal(params.id, query.afterSeq);
      return {
        records: records.map((record) => ({
          seq: record.seq,
          at: record.at.toISOString(),
          type: record.type,
          step: record.step,
          actor: record.actor,
          data: record.data,
          hash: record.hash,
        })),
      };
    },
  });

  api.route({
    method: 'GET',
    path: '/runs/:id/evidence',
    role: 'viewer',
    summary: "A run's evidence and check results, per step",
    params: RunParams,
    handler: async ({ params }) => {
      const view = await viewOfRun(ctx, params.id);
      return {
        steps: view.steps.map((step) => ({ step: step.id, evidence: step.evidence, checks: step.checks })),
      };
    },
  });

  api.route({
    method: 'GET',
    path: '/runs/:id/verify',
    role: 'viewer',
    summary: "Verify a run's hash-chained journal",
    params: RunParams,
    handler: ({ params }) => verifyRun(ctx.store, params.id),
  });
}

/** What people do to a run: the server's actions (../actions.ts), answered with the run's view. */
function registerRunActions(api: Api, ctx: ServerContext): void {
  const actions = runActions(ctx);

  api.route({
    ...RUN_ACTION_REQUESTS.approve,
    summary: 'Approve a step waiting for approval',
    response: Run,
    handler: async ({ params, body, principal }) => {
      await actions.approve(principal, { runId: params.id, step: params.step, note: body.note });
      return viewOfRun(ctx, params.id);
    },
  });

  api.route({
    method: 'POST',
    path: '/runs/:id/steps/:step/reject',
    role: RUN_ACTION_ROLES.reject,
    summary: 'Reject a step waiting for approval (the step fails)',
    params: StepParams,
    body: z.object({ reason: Text.optional() }),
    response: Run,
    handler: async ({ params, body, principal }) => {
      await actions.reject(principal, { runId: params.id, step: params.step, reason: body.reason });
      return viewOfRun(ctx, params.id);
    },
  });

  api.route({
    method: 'POST',
    path: '/runs/:id/steps/:step/confirm',
    role: RUN_ACTION_ROLES.confirm,
    summary: 'Confirm a manual step done, with its evidence',
    description:
      'JSON `evidence` is name → text. A form sends `evidence` (kept as `text`) and files (kept by file name).',
    params: StepParams,
    files: true,
    body: z.object({
      note: Text.optional(),
      evidence: z
        .union([z.string().max(1_000_000), z.record(z.string(), z.string().max(1_000_000))])
        .optional(),
    }),
    response: Run,
    handler: async ({ params, body, files, principal }) => {
      await actions.confirm(principal, {
        runId: params.id,
        step: params.step,
        note: body.note,
        evidence: formEvidence(body.evidence, files),
      });
      return viewOfRun(ctx, params.id);
    },
  });

  api.route({
    ...RUN_ACTION_REQUESTS.decide,
    summary: 'Decide for an escalated or interrupted step',
    response: Run,
    handler: async ({ params, body, principal }) => {
      await actions.decide(principal, { runId: params.id, step: params.step, choice: body.choice });
      return viewOfRun(ctx, params.id);
    },
  });

  api.route({
    ...RUN_ACTION_REQUESTS.cancel,
    summary: 'Cancel a run',
    response: Run,
    handler: async ({ params, body, principal }) => {
      await actions.cancel(principal, { runId: params.id, reason: body.reason });
      return viewOfRun(ctx, params.id);
    },
  });

  api.route({
    ...RUN_ACTION_REQUESTS.resume,
    summary: 'Drive a run no process drives (after a crash, a pause, a decision)',
    response: Run,
    handler: async ({ params, principal }) => {
      await actions.resume(principal, { runId: params.id });
      return viewOfRun(ctx, params.id);
    },
  });
}
