/**
 * `drctl serve` as a real process: stopped with SIGTERM mid-step it journals the step in flight and lets
 * go of the run; killed with SIGKILL it journals nothing; started again either way, it resumes the run
 * it was driving and no finished step runs again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/index.ts';
import { openStore } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { startCli, stopAll } from '../engine/cli-process.ts';
import type { CliProcess } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

afterAll(stopAll);

const STEPS = [
  { id: 's1', run: 'echo s1 >> exec.log' },
  { id: 's2', needs: ['s1'], idempotent: true, run: 'sleep 1.5; echo s2 >> exec.log' },
  { id: 's3', needs: ['s2'], run: 'echo s3 >> exec.log' },
];

type Run = { id: string; status: string; steps: Array<{ id: string; status: string }> };

async function setup() {
  const dir = tempDir('drctl-serve-process-');
  writePlan(dir, STEPS);
  const state = join(dir, 'state');
  const store = await openStore(state);
  const { token } = await createToken(store, { name: 'alice', role: 'operator', createdBy: 'test' });
  await store.close();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serve = (): CliProcess =>
    startCli(
      [
        'serve',
        'plan.yaml',
        '--state',
        state,
        '--listen',
        `127.0.0.1:${port}`,
        '--poll-ms',
        '50',
        '--stop-grace',
        '100',
      ],
      { cwd: dir },
    );
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as T;
  };
  const up = () =>
    eventually(() =>
      fetch(`${base}/healthz`).then(
        (r) => r.ok || undefined,
        () => undefined,
      ),
    );
  const step = (run: Run, id: string) => run.steps.find((candidate) => candidate.id === id)?.status;
  const executions = (name: string) =>
    existsSync(join(dir, 'exec.log'))
      ? readFileSync(join(dir, 'exec.log'), 'utf8')
          .split('\n')
          .filter((l) => l === name).length
      : 0;
  const journal = async (runId: string) => {
    const store = await openStore(state);
    try {
      return { records: await store.readJournal(runId), lease: await store.getLease(runId) };
    } finally {
      await store.close();
    }
  };
  return { serve, api, up, step, executions, journal };
}

describe('drctl serve as a process', () => {
  it('stops cleanly on SIGTERM mid-step and resumes the run when started again', async () => {
    const s = await setup();
    let server = s.serve();
    await s.up();
    const run = await s.api<Run>('POST', '/api/v1/runs', { runbook: 'failover' });
    await eventually(async () =>
      s.step(await s.api<Run>('GET', `/api/v1/runs/${run.id}`), 's2') === 'running' ? true : undefined,
    );
    server.child.kill('SIGTERM');
    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toContain('stopping');
    const stopped = await s.journal(run.id);
    const interrupted = stopped.records.find((r) => r.type === 'step-interrupted' && r.step === 's2');
    expect(interrupted?.data).toMatchObject({ reason: 'the driver stopped', rerun: true });
    expect(stopped.lease).toBeUndefined();

    server = s.serve();
    await s.up();
    const done = await eventually(async () => {
      const view = await s.api<Run>('GET', `/api/v1/runs/${run.id}`);
      return view.status === 'succeeded' ? view : undefined;
    });
    expect(done.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect([s.executions('s1'), s.executions('s2'), s.executions('s3')]).toEqual([1, 1, 1]);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });

  it('resumes after SIGKILL without re-running finished steps', async () => {
    const s = await setup();
    let server = s.serve();
    await s.up();
    const run = await s.api<Run>('POST', '/api/v1/runs', { runbook: 'failover' });
    await eventually(async () =>
      s.step(await s.api<Run>('GET', `/api/v1/runs/${run.id}`), 's2') === 'running' ? true : undefined,
    );
    server.child.kill('SIGKILL');
    await server.exit;
    server = s.serve();
    await s.up();
    const done = await eventually(async () => {
      const view = await s.api<Run>('GET', `/api/v1/runs/${run.id}`);
      return view.status === 'succeeded' ? view : undefined;
    });
    expect(done.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const { records } = await s.journal(run.id);
    expect(records.filter((r) => r.type === 'step-started' && r.step === 's1')).toHaveLength(1);
    expect(records.filter((r) => r.type === 'run-driven').map((r) => r.data.resumed)).toEqual([false, true]);
    expect(s.executions('s1')).toBe(1);
    expect(s.executions('s3')).toBe(1);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});
