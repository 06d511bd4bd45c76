import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DrctlError } from '../../errors.ts';
import type { Plan } from '../../plan/model.ts';
import { TrafficRouter } from '../../router/index.ts';
import { startUpstream } from '../../router/test-support.ts';
import type { ActionContext } from '../provider.ts';
import { routerProvider } from './index.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function context(plan: Partial<Plan> = {}): { ctx: ActionContext; evidence: Record<string, unknown> } {
  const evidence: Record<string, unknown> = {};
  const ctx: ActionContext = {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan: { workloads: [], ...plan } as Plan,
    stateDir: '.',
    evidence: (name, value) => {
      evidence[name] = value;
    },
  };
  return { ctx, evidence };
}

async function twoSites(): Promise<TrafficRouter> {
  const east = await startUpstream('east');
  const west = await startUpstream('west');
  const router = await TrafficRouter.create({
    adminToken: 'runbook-token',
    probe: { intervalMs: 50, timeoutMs: 2_000 },
    endpoints: [
      { site: 'east', url: east.url },
      { site: 'west', url: west.url },
    ],
  });
  cleanups.push(
    () => east.stop(),
    () => west.stop(),
    () => router.close(),
  );
  return router;
}

describe('router provider', () => {
  it('switches traffic, drains and reports status through the admin API, attaching the status as evidence', async () => {
    const router = await twoSites();
    const { ctx, evidence } = context();
    const target = { router: router.adminUrl, token: 'runbook-token' };

    const switched = await routerProvider.actions.switch.run(
      routerProvider.actions.switch.params.parse({ ...target, site: 'west' }),
      ctx,
    );
    expect(switched.summary).toBe('switched traffic to west; serving west');
    expect(router.status().active).toBe('west');
    expect(evidence['router-status']).toMatchObject({ active: 'west' });

    const check = await routerProvider.checks.serving.run({ ...target, site: 'west' }, ctx);
    expect(check).toMatchObject({ ok: true, message: 'west takes traffic' });

    await routerProvider.actions.switch.run({ ...target, site: null }, ctx);
    await routerProvider.actions.drain.run({ ...target, site: 'east' }, ctx);
    expect(router.status()).toMatchObject({ active: 'west', override: null });
    const status = await routerProvider.actions.status.run({ router: router.adminUrl }, ctx);
    expect(status.summary).toBe('priority mode, serving west; east up (drained), west up');
    await routerProvider.actions.undrain.run({ ...target, site: 'east' }, ctx);
    expect(router.status().active).toBe('east');
  });

  it('finds the admin URL from a traffic-router component of the plan', async () => {
    const router = await twoSites();
    const plan = {
      workloads: [
        {
          components: [
            {
              id: 'front',
              kind: 'traffic-router',
              placement: [{ site: 'east', url: undefined, fields: { admin: router.adminUrl } }],
            },
          ],
        },
      ],
    } as unknown as Partial<Plan>;
    const { ctx } = context(plan);
    const result = await routerProvider.actions.status.run({ component: 'front' }, ctx);
    expect(result.output).toMatchObject({ active: 'east' });
  });

  it('reports a refused call with the router code, and an unreachable router', async () => {
    const router = await twoSites();
    const { ctx } = context();
    await expect(
      routerProvider.actions.switch.run({ router: router.adminUrl, site: 'west' }, ctx),
    ).rejects.toMatchObject({
      code: 'DRCTL_ROUTER_ADMIN_REJECTED',
      details: { status: 401, routerCode: 'DRCTL_ROUTER_UNAUTHORIZED' },
    });
    await expect(
      routerProvider.actions.drain.run(
        { router: router.adminUrl, token: 'runbook-token', site: 'north' },
        ctx,
      ),
    ).rejects.toMatchObject({
      details: { routerCode: 'DRCTL_ROUTER_UNKNOWN_SITE' },
    });
    const url = router.adminUrl;
    await router.close();
    const error = await routerProvider.actions.status
      .run({ router: url }, ctx)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DrctlError);
    expect(error).toMatchObject({ code: 'DRCTL_ROUTER_ADMIN_UNREACHABLE' });
  });

  it('preflight: the admin API answers, the site is an endpoint, the token is accepted — and a wrong one is not', async () => {
    const router = await twoSites();
    const { ctx } = context();
    const [answers, token] = routerProvider.preflight.switch;
    const good = { router: router.adminUrl, token: 'runbook-token', site: 'west' };
    expect(await answers!.run(good, ctx)).toMatchObject({ ok: true });
    expect(await token!.run(good, ctx)).toMatchObject({ ok: true });
    expect(await answers!.run({ ...good, site: 'north' }, ctx)).toMatchObject({
      ok: false,
      message: expect.stringContaining('has no endpoint north; it has east, west'),
    });
    expect(await token!.run({ ...good, token: 'not-the-token' }, ctx)).toMatchObject({
      ok: false,
      message: expect.stringContaining('refuses the admin token'),
    });
    // the probe changed nothing: traffic still goes where it went
    expect(router.status().override).toBeNull();
    const url = router.adminUrl;
    await router.close();
    await expect(answers!.run({ ...good, router: url }, ctx)).rejects.toMatchObject({
      code: 'DRCTL_ROUTER_ADMIN_UNREACHABLE',
    });
    expect(await token!.run({ ...good, router: url }, ctx)).toBeUndefined();
  });

  it('declares its parameters as schemas that reject a step without a site', () => {
    expect(routerProvider.actions.drain.params.safeParse({ router: 'http://127.0.0.1:1' }).success).toBe(
      false,
    );
    expect(
      routerProvider.actions.switch.params.safeParse({ router: 'http://127.0.0.1:1', site: null }).success,
    ).toBe(true);
    expect(routerProvider.actions.drain.undo).toBe('undrain');
  });
});
