import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRunbook, runView } from '../../src/engine/index.ts';
import { setup } from './fixtures.ts';

async function view(bench: Awaited<ReturnType<typeof setup>>, runId: string) {
  return runView(await bench.store.readJournal(runId));
}

describe('engine', () => {
  it('runs shell steps in dependency order and keeps their output as evidence', async () => {
    const bench = await setup([
      { id: 'a', run: 'echo a >> order.log' },
      { id: 'b', needs: ['a'], run: 'echo b >> order.log; echo hello-b' },
      { id: 'c', needs: ['a'], run: 'echo c >> order.log' },
      { id: 'd', needs: ['b', 'c'], run: 'echo d >> order.log', validate: [{ run: 'test -f order.log' }] },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    const outcome = await run.done;
    expect(outcome.status).toBe('succeeded');
    const lines = readFileSync(join(bench.dir, 'order.log'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('a');
    expect(lines[3]).toBe('d');
    const shown = await view(bench, run.runId);
    expect(shown.steps.find((step) => step.id === 'b')?.evidence).toContainEqual({
      name: 'stdout',
      value: 'hello-b\n',
      by: 'engine',
    });
    expect(shown.steps.find((step) => step.id === 'd')?.checks[0]?.ok).toBe(true);
    expect(shown.progress).toMatchObject({ total: 4, done: 4 });
  });
});

describe('journal writes', () => {
  it("writes each step's success and the next step's start in one append", async () => {
    const bench = await setup([
      { id: 'a', run: 'true' },
      { id: 'b', needs: ['a'], run: 'true' },
      { id: 'c', needs: ['b'], run: 'true' },
      { id: 'd', needs: ['c'], run: 'true' },
    ]);
    const appends: string[][] = [];
    const append = bench.store.append.bind(bench.store);
    bench.store.append = (runId, records, options) => {
      appends.push(records.filter((r) => r.type.startsWith('step-s')).map((r) => `${r.type} ${r.step}`));
      return append(runId, records, options);
    };
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    expect((await run.done).status).toBe('succeeded');
    expect(appends.filter((records) => records.length > 0)).toEqual([
      ['step-started a'],
      ['step-succeeded a', 'step-started b'],
      ['step-succeeded b', 'step-started c'],
      ['step-succeeded c', 'step-started d'],
      ['step-succeeded d'],
    ]);
  });
});

describe('a run no process drives', () => {
  it('shows as waiting for a driver since its lease expired, and as driven while its lease is live', async () => {
    const bench = await setup([{ id: 'long', run: 'sleep 5' }]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    const lease = await bench.store.getLease(run.runId);
    for (;;) {
      const records = await bench.store.readJournal(run.runId);
      if (records.some((record) => record.type === 'step-process')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const records = await bench.store.readJournal(run.runId);
    expect(runView(records, lease).waitingForDriver).toBeUndefined();
    const expired = { ...lease!, expiresAt: new Date(Date.now() - 1_000) };
    expect(runView(records, expired)).toMatchObject({
      status: 'running',
      driver: undefined,
      waitingForDriver: { since: expired.expiresAt.toISOString() },
    });
    await run.cancel('alice');
    expect((await run.done).status).toBe('cancelled');
  });
});

describe('finding the runbook to run', () => {
  it('accepts workload/name, the way drctl prints runbooks, and names the known ones otherwise', async () => {
    const bench = await setup([{ id: 'one', run: 'true' }]);
    expect(findRunbook(bench.plan, 'shop/failover')).toMatchObject({ workload: 'shop', name: 'failover' });
    expect(findRunbook(bench.plan, 'failover')).toMatchObject({ workload: 'shop', name: 'failover' });
    expect(() => findRunbook(bench.plan, 'other/failover')).toThrow(
      expect.objectContaining({
        code: 'DRCTL_RUN_RUNBOOK_NOT_FOUND',
        hint: 'runbooks in this plan: shop/failover',
      }),
    );
  });
});
