/** What the server says about itself: liveness, the OpenAPI document and the Prometheus metrics. */
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';

export function registerSystem(api: Api, ctx: ServerContext): void {
  const startedAt = new Date().toISOString();
  api.app.get('/healthz', (c) =>
    c.json({
      ok: true,
      startedAt,
      plans: ctx.plans.list().map((plan) => plan.name),
      driving: ctx.runs.driving.length,
    }),
  );
  api.app.get('/openapi.json', (c) => c.json(api.openapi()));
  api.app.get('/metrics', async (c) => {
    const body = await ctx.metrics.metrics();
    return c.body(body, 200, { 'content-type': ctx.metrics.contentType });
  });
}
