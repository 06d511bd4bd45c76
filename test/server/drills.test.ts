/* eslint-disable @typescript-eslint/no-explicit-any -- the answers are JSON documents of several shapes, read field by field */
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Safety } from '../../src/drill/safety.ts';
import { createServer, createToken } from '../../src/server/index.ts';
import type { DrctlServer } from '../../src/server/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

const WARM = join(import.meta.dirname, '../../examples/two-site/warm-standby.yaml');

async function warmServer(): Promise<{
  server: DrctlServer;
  call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
  operator: string;
  viewer: string;
}> {
  const server = await createServer({
    plans: [WARM],
    state: tempDir('drctl-serve-drills-'),
    services: [],
    logger: pino({ level: 'silent' }),
  });
  await server.start();
  const operator = (
    await createToken(server.ctx.store, { name: 'olga', role: 'operator', createdBy: 'test' })
  ).token;
  const viewer = (await createToken(server.ctx.store, { name: 'vera', role: 'viewer', createdBy: 'test' }))
    .token;
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await server.app.request(`/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  return { server, call, operator, viewer };
}

describe('drills through the API', () => {
  it('runs a real warm-standby drill started by an operator, with its progress and report, and refuses a second at once', async () => {
    const { server, call, operator, viewer } = await warmServer();
    try {
      expect((await call('POST', '/drills', viewer, { scenario: 'east-killed' })).status).toBe(403);
      const started = await call('POST', '/drills', operator, { scenario: 'east-killed' });
      expect(started.status).toBe(202);
      expect(started.body).toMatchObject({
        workload: 'shop',
        scenario: 'east-killed',
        status: 'running',
        startedBy: 'olga',
      });
      expect(started.body.host).toBeUndefined();
      const again = await call('POST', '/drills', operator, { scenario: 'east-killed' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('DRCTL_API_DRILL_RUNNING');

      const ended = await eventually(async () => {
        const job = await call('GET', `/drill-jobs/${started.body.id}`, viewer);
        return job.body.status === 'running' ? undefined : job.body;
      }, 90_000);
      expect(ended.status).toBe('passed');
      expect(ended.progress.length).toBeGreaterThan(2);
      const report = await call('GET', `/drills/${ended.reportId}`, viewer);
      expect(report.body).toMatchObject({ workload: 'shop', scenario: 'east-killed', passed: true });
      expect(
        (await call('GET', '/drill-jobs', viewer)).body.jobs.map((job: { id: string }) => job.id),
      ).toEqual([started.body.id]);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('holds a paused drill after the fault until an operator continues it, and keeps the note from the room in its report', async () => {
    const { server, call, operator, viewer } = await warmServer();
    try {
      const started = await call('POST', '/drills', operator, { scenario: 'east-killed', pause: true });
      expect(started.status).toBe(202);
      const id = started.body.id as string;
      const paused = await eventually(async () => {
        const job = await call('GET', `/drill-jobs/${id}`, viewer);
        return job.body.progress.some((p: { line: string }) => p.line.startsWith('paused'))
          ? job.body
          : undefined;
      }, 60_000);
      expect(paused.drillId).toMatch(/^east-killed-/);
      expect((await call('POST', `/drill-jobs/${id}/continue`, viewer, {})).status).toBe(403);
      const noted = await call('POST', `/drill-jobs/${id}/notes`, operator, {
        text: 'east is gone, nobody failed over yet',
      });
      expect(noted.status).toBe(200);
      expect((await call('POST', `/drill-jobs/${id}/continue`, operator, {})).status).toBe(200);
      const ended = await eventually(async () => {
        const job = await call('GET', `/drill-jobs/${id}`, viewer);
        return job.body.status === 'running' ? undefined : job.body;
      }, 90_000);
      const report = (await call('GET', `/drills/${ended.reportId}`, viewer)).body.report;
      expect(report.rehearsal).toMatchObject({
        pauses: [{ reason: 'after the fault, before the failover', continuedBy: 'olga' }],
        notes: [{ by: 'olga', text: 'east is gone, nobody failed over yet' }],
      });
      expect(report.timeline.map((t: { detail: string }) => t.detail)).toContain(
        'olga: east is gone, nobody failed over yet',
      );
      const late = await call('POST', `/drill-jobs/${id}/continue`, operator, {});
      expect(late.body.error.code).toBe('DRCTL_API_DRILL_NOT_LIVE');
    } finally {
      await server.close();
    }
  }, 120_000);

  it('cancels a running drill: its environment is stopped and the job ends cancelled with no report', async () => {
    const { server, call, operator } = await warmServer();
    try {
      const started = await call('POST', '/drills', operator, { scenario: 'east-killed' });
      // cancelled while the environment comes up or the canary warms up
      await eventually(async () => {
        const job = await call('GET', `/drill-jobs/${started.body.id}`, operator);
        return job.body.progress.length > 0 ? true : undefined;
      }, 30_000);
      const cancelled = await call('POST', `/drill-jobs/${started.body.id}/cancel`, operator, {});
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        status: 'cancelled',
        error: { code: 'DRCTL_DRILL_INTERRUPTED' },
      });
      expect(cancelled.body.progress.map((p: { line: string }) => p.line)).toContain('cancelled by olga');
      expect(await server.ctx.store.listDrillReports()).toEqual([]);
      const late = await call('POST', `/drill-jobs/${started.body.id}/cancel`, operator, {});
      expect(late.body.error.code).toBe('DRCTL_API_DRILL_FINISHED');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('refuses an unknown scenario with the scenarios the plan has', async () => {
    const { server, call, operator } = await warmServer();
    try {
      const answer = await call('POST', '/drills', operator, { scenario: 'moon-landing' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'DRCTL_DRILL_UNKNOWN_SCENARIO' });
      expect(answer.body.error.hint).toContain('east-killed');
    } finally {
      await server.close();
    }
  });

  it('an emergency stop from the API or the console button aborts every drill running on the state directory', async () => {
    const { server, call, operator, viewer } = await warmServer();
    // a drill of another process on the same state directory, as `drctl drill` runs one: its safety watch
    const running = (): { safety: Safety; undone: Promise<string> } => {
      let undone!: (reason: string) => void;
      const promise = new Promise<string>((resolve) => (undone = resolve));
      const safety = Safety.start({
        stateDir: server.ctx.options.state,
        guards: [],
        maxDurationMs: 60_000,
        onAbort: async (abort) => undone(`${abort.by}: ${abort.reason}`),
      });
      return { safety, undone: promise };
    };
    const page = async (token: string): Promise<{ cookie: string; csrf: string; html: string }> => {
      const session = await server.app.request('/api/v1/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      const { csrf } = (await session.json()) as { csrf: string };
      const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
      const drills = await server.app.request('/drills', { headers: { cookie, accept: 'text/html' } });
      return { cookie, csrf, html: await drills.text() };
    };
    const first = running();
    try {
      expect((await call('POST', '/drills/stop', viewer, {})).status).toBe(403);
      const stopped = await call('POST', '/drills/stop', operator, { reason: 'the payments team calls' });
      expect(stopped.status).toBe(200);
      expect(stopped.body).toEqual({ stopped: [] });
      expect(await first.undone).toBe('emergency-stop: emergency stop by olga: the payments team calls');

      // the console: operators see the button, viewers do not; pressing it stops a drill started since
      expect((await page(viewer)).html).not.toContain('data-testid="emergency-stop"');
      const console_ = await page(operator);
      expect(console_.html).toContain('data-testid="emergency-stop"');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = running();
      const pressed = await server.app.request('/drills/stop', {
        method: 'POST',
        headers: { cookie: console_.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: console_.csrf }).toString(),
      });
      expect(pressed.status).toBe(303);
      expect(pressed.headers.get('location')).toBe('/drills');
      expect(await second.undone).toBe('emergency-stop: emergency stop by olga: the console');
      await second.safety.stop();
    } finally {
      await first.safety.stop();
      await server.close();
    }
  });
});
