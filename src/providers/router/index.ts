/**
 * The router provider: runbook steps that move traffic through drctl's traffic router admin API
 * (`router.switch`, `router.drain`, `router.undrain`, `router.status`) and a check that a site is serving.
 * It talks HTTP only, so a runbook drives a router started by `drctl router` in another process.
 *
 * The admin URL comes from `router` (a URL), or `component` (a plan component of kind traffic-router
 * whose placement gives `admin:` or `url:`), or the DRCTL_ROUTER_URL environment variable; the token from
 * `token` or DRCTL_ROUTER_TOKEN.
 */
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type {
  ActionContext,
  FrontDoorOptions,
  PreflightCheck,
  Provider,
  ReadinessFact,
  RunningFrontDoor,
} from '../provider.ts';
import { TrafficRouter } from '../../router/index.ts';
import type { Component } from '../../plan/model.ts';

const Target = {
  router: z.url().optional().describe('Admin API URL of the router. @default DRCTL_ROUTER_URL'),
  component: z
    .string()
    .optional()
    .describe('A traffic-router component of the plan whose placement gives the admin URL.'),
  token: z.string().optional().describe('Bearer token of the admin API. @default DRCTL_ROUTER_TOKEN'),
  timeout_ms: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('How long to wait for the admin API. @default 5000'),
};

const SiteParams = z.strictObject({
  ...Target,
  site: z.string().describe('The site, as the router names its endpoint.'),
});
const SwitchParams = z.strictObject({
  ...Target,
  site: z.string().nullable().describe('Site to send all traffic to; null returns to automatic routing.'),
  force: z.boolean().optional().describe('Switch even when the site is not up. @default false'),
});
const StatusParams = z.strictObject({ ...Target });

type TargetParams = z.output<typeof StatusParams>;

interface RouterStatusBody {
  mode: string;
  active: string | null;
  serving: string[];
  override: string | null;
  endpoints: { site: string; state: string; drained: boolean; inFlight: number }[];
}

interface ChangeBody {
  site: string | null;
  active: string | null;
  serving: string[];
  at: number;
}

// --------------------------------------------------------------------------------------- preflight

/** The admin API answers `GET /status`; a step naming a site finds it among the router's endpoints. */
const adminAnswers: PreflightCheck = {
  name: 'router admin API answers',
  kind: 'reachable',
  async run(params, ctx) {
    const { site } = params as TargetParams & { site?: string | null };
    const status = await call<RouterStatusBody>(params as TargetParams, ctx, 'GET', '/status');
    const sites = status.endpoints.map((endpoint) => endpoint.site);
    if (typeof site === 'string' && !sites.includes(site))
      return {
        ok: false,
        message: `the router at ${adminUrl(params as TargetParams, ctx)} has no endpoint ${site}; it has ${sites.join(', ') || 'none'}`,
        observed: { sites },
      };
    return {
      ok: true,
      message: `the router at ${adminUrl(params as TargetParams, ctx)} answers: ${status.mode} mode, serving ${status.serving.join(', ') || 'nothing'}`,
    };
  },
};

/** `POST /token` with the step's token: the router accepts it for changes, and nothing changes. */
const tokenAccepted: PreflightCheck = {
  name: 'router admin token accepted',
  kind: 'credentials',
  async run(params, ctx) {
    try {
      await call(params as TargetParams, ctx, 'POST', '/token', {});
      return { ok: true, message: 'the router accepts the admin token' };
    } catch (error) {
      const details =
        error instanceof DrctlError ? (error.details as { status?: number } | undefined) : undefined;
      if (details?.status === 401)
        return { ok: false, message: 'the router refuses the admin token: changes would be refused (401)' };
      // unreachable or no URL: the reachable check says so once
      if (
        error instanceof DrctlError &&
        ['DRCTL_ROUTER_ADMIN_UNREACHABLE', 'DRCTL_ROUTER_ADMIN_URL_MISSING'].includes(error.code)
      )
        return undefined;
      throw error;
    }
  },
};

export const routerProvider = {
  name: 'router',
  description: "Moves traffic between sites through drctl's traffic router.",
  kinds: ['traffic-router'],
  actions: {
    switch: defineAction({
      description: 'Send all traffic to a site (or back to automatic routing with site: null).',
      params: SwitchParams,
      idempotent: true,
      evidence: ['router-status'],
      async run(params, ctx) {
        const body = { site: params.site, ...(params.force === undefined ? {} : { force: params.force }) };
        const result = await call<ChangeBody>(params, ctx, 'POST', '/switch', body);
        const status = await call<RouterStatusBody>(params, ctx, 'GET', '/status');
        ctx.evidence('router-status', status);
        return {
          summary:
            params.site === null
              ? `routing is automatic again; ${describeServing(result)}`
              : `switched traffic to ${params.site}; ${describeServing(result)}`,
          output: { ...result },
        };
      },
    }),
    drain: defineAction({
      description: 'Stop sending new requests to a site; requests in flight finish.',
      params: SiteParams,
      idempotent: true,
      undo: 'undrain',
      evidence: ['router-status'],
      async run(params, ctx) {
        const result = await call<ChangeBody>(params, ctx, 'POST', '/drain', { site: params.site });
        ctx.evidence('router-status', await call<RouterStatusBody>(params, ctx, 'GET', '/status'));
        return { summary: `drained ${params.site}; ${describeServing(result)}`, output: { ...result } };
      },
    }),
    undrain: defineAction({
      description: 'Let a drained site take traffic again.',
      params: SiteParams,
      idempotent: true,
      undo: 'drain',
      evidence: ['router-status'],
      async run(params, ctx) {
        const result = await call<ChangeBody>(params, ctx, 'POST', '/undrain', { site: params.site });
        ctx.evidence('router-status', await call<RouterStatusBody>(params, ctx, 'GET', '/status'));
        return { summary: `undrained ${params.site}; ${describeServing(result)}`, output: { ...result } };
      },
    }),
    status: defineAction({
      description: 'Record which sites the router sends traffic to and the health of each.',
      params: StatusParams,
      idempotent: true,
      evidence: ['router-status'],
      async run(params, ctx) {
        const status = await call<RouterStatusBody>(params, ctx, 'GET', '/status');
        ctx.evidence('router-status', status);
        const states = status.endpoints
          .map((endpoint) => `${endpoint.site} ${endpoint.state}${endpoint.drained ? ' (drained)' : ''}`)
          .join(', ');
        return {
          summary: `${status.mode} mode, serving ${status.serving.join(', ') || 'nothing'}; ${states}`,
          output: { ...status },
        };
      },
    }),
  },
  checks: {
    serving: defineCheck({
      description:
        'Passes when the router sends traffic to the site (and only to it, in priority and manual mode).',
      params: SiteParams,
      async run(params, ctx) {
        const status = await call<RouterStatusBody>(params, ctx, 'GET', '/status');
        const ok =
          status.serving.includes(params.site) &&
          (status.mode === 'weighted' || status.active === params.site);
        return {
          ok,
          message: ok
            ? `${params.site} takes traffic`
            : `${params.site} does not take traffic; serving ${status.serving.join(', ') || 'nothing'}`,
          observed: status.serving,
        };
      },
    }),
  },
  preflight: {
    switch: [adminAnswers, tokenAccepted],
    drain: [adminAnswers, tokenAccepted],
    undrain: [adminAnswers, tokenAccepted],
    status: [adminAnswers],
  },
  /** A drill's front door: drctl's traffic router in priority mode, the primary site first. */
  async frontDoor(options: FrontDoorOptions): Promise<RunningFrontDoor> {
    const router = await TrafficRouter.create(
      {
        endpoints: options.endpoints.map((endpoint, index) => ({
          site: endpoint.site,
          url: `http://${endpoint.host}:${endpoint.port}`,
          priority: index + 1,
        })),
        mode: 'priority',
        host: options.host,
        port: options.port,
        probe: { ...options.probe, intervalMs: Math.max(10, options.probe.intervalMs) },
      },
      { log: options.log },
    );
    return {
      url: router.url,
      env: { DRCTL_ROUTER_URL: router.adminUrl, DRCTL_ROUTER_TOKEN: router.adminToken },
      secretEnv: ['DRCTL_ROUTER_TOKEN'],
      activeSite: async () => router.status().active ?? undefined,
      evidence: async (since) => [
        { name: 'router status', value: router.status() },
        {
          name: 'router events',
          value: router.history().filter((e) => e.type !== 'endpoint-up' || e.at >= since),
        },
      ],
      close: () => router.close(),
    };
  },
  async readiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
    const params = { component: component.id };
    try {
      const status = await call<RouterStatusBody>(params, ctx, 'GET', '/status');
      const down = status.endpoints
        .filter((endpoint) => endpoint.state !== 'up')
        .map((endpoint) => endpoint.site);
      return [
        {
          component: component.id,
          site: undefined,
          name: 'reachable',
          ok: true,
          value: true,
          message: 'the router admin API answers',
        },
        {
          component: component.id,
          site: status.active ?? undefined,
          name: 'serving',
          ok: status.serving.length > 0,
          value: status.serving.join(','),
          message:
            status.serving.length > 0
              ? `serving ${status.serving.join(', ')}${down.length ? `; down: ${down.join(', ')}` : ''}`
              : 'no site takes traffic',
        },
      ];
    } catch (error) {
      return [
        {
          component: component.id,
          site: undefined,
          name: 'reachable',
          ok: false,
          value: false,
          message: error instanceof Error ? error.message : String(error),
        },
      ];
    }
  },
} satisfies Provider;

function adminUrl(params: TargetParams, ctx: ActionContext): string {
  if (params.router) return params.router.replace(/\/+$/, '');
  if (params.component) {
    const component = ctx.plan.workloads
      .flatMap((workload) => workload.components)
      .find((candidate) => candidate.id === params.component);
    const placement = component?.placement[0];
    const url = typeof placement?.fields.admin === 'string' ? placement.fields.admin : placement?.url;
    if (!url) {
      throw new DrctlError(
        'DRCTL_ROUTER_ADMIN_URL_MISSING',
        `component ${params.component} gives no router admin URL`,
        {
          hint: 'give the traffic-router component a placement with admin: http://127.0.0.1:PORT',
          ...(component ? { location: component.at } : {}),
        },
      );
    }
    return url.replace(/\/+$/, '');
  }
  const fromEnv = process.env.DRCTL_ROUTER_URL;
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  throw new DrctlError('DRCTL_ROUTER_ADMIN_URL_MISSING', 'no router admin URL for a router action', {
    hint: 'set router: http://127.0.0.1:PORT (drctl router prints it) or component:, or DRCTL_ROUTER_URL',
  });
}

async function call<T>(
  params: TargetParams,
  ctx: ActionContext,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const base = adminUrl(params, ctx);
  const token = params.token ?? process.env.DRCTL_ROUTER_TOKEN;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(params.timeout_ms ?? 5_000)]),
    });
  } catch (error) {
    throw new DrctlError(
      'DRCTL_ROUTER_ADMIN_UNREACHABLE',
      `the router admin API at ${base} did not answer ${method} ${path}`,
      {
        hint: 'check that the router runs (drctl router) and the URL is its admin URL, not its front door',
        cause: error,
        details: { retryable: true },
      },
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
    throw new DrctlError(
      'DRCTL_ROUTER_ADMIN_REJECTED',
      `the router at ${base} refused ${method} ${path} (${response.status}): ${error?.message ?? text.slice(0, 200)}`,
      {
        hint: error?.hint ?? 'see the router status',
        details: { status: response.status, routerCode: error?.code },
      },
    );
  }
  ctx.log.debug({ router: base, method, path }, 'router admin call');
  return json as T;
}

function describeServing(result: { serving: string[] }): string {
  return result.serving.length > 0 ? `serving ${result.serving.join(', ')}` : 'no site takes traffic';
}
