import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer, createToken } from '../../src/server/index.ts';
import { tempDir } from '../support/tmp.ts';

const WARM = join(import.meta.dirname, '../../examples/two-site/warm-standby.yaml');

describe('the compliance routes', () => {
  it('answer a viewer with the compliance report, a trend and the tabletops, and refuse without a token', async () => {
    const server = await createServer({
      plans: [WARM],
      state: tempDir('drctl-serve-compliance-'),
      services: [],
    });
    try {
      const { token } = await createToken(server.ctx.store, {
        name: 'vera',
        role: 'viewer',
        createdBy: 'test',
      });
      const get = (path: string, auth = true) =>
        server.app.request(`/api/v1${path}`, auth ? { headers: { authorization: `Bearer ${token}` } } : {});
      expect((await get('/compliance', false)).status).toBe(401);
      const compliance = (await (await get('/compliance')).json()) as {
        ok: boolean;
        workloads: { id: string; tests: { id: string; status: string }[] }[];
      };
      expect(compliance.ok).toBe(false);
      expect(compliance.workloads[0]!.tests.map((t) => t.id)).toContain('full-failover');
      const trend = (await (await get('/trends?workload=shop&scenario=east-killed')).json()) as {
        points: unknown[];
        steps: { id: string }[];
      };
      expect(trend.points).toEqual([]);
      expect(trend.steps.map((s) => s.id)).toContain('restore-west');
      expect(await (await get('/tabletops')).json()).toEqual({ tabletops: [] });
    } finally {
      await server.close();
    }
  });
});
