import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideStep, runView } from '../../src/engine/index.ts';
import { setup } from './fixtures.ts';

describe('failure handling', () => {
  it('stops a step at its timeout and fails the run with DRCTL_STEP_TIMEOUT', async () => {
    const bench = await setup([{ id: 'slow', run: 'sleep 5', timeout: '200ms' }]);
    const started = Date.now();
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    const outcome = await run.done;
    expect(outcome.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(3_000);
    const step = runView(await bench.store.readJournal(run.runId)).steps[0];
    expect(step?.error?.code).toBe('DRCTL_STEP_TIMEOUT');
  });

  it('retries a failing step with backoff until it passes', async () => {
    const bench = await setup([
      {
        id: 'flaky',
        run: 'echo x >> tries; test $(wc -l < tries) -ge 3',
        retries: { attempts: 3, backoff: '20ms' },
      },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    expect((await run.done).status).toBe('succeeded');
    expect(runView(await bench.store.readJournal(run.runId)).steps[0]?.attempts).toBe(3);
  });

  it('rolls back finished steps in reverse order when a step with on_failure: rollback fails', async () => {
    const bench = await setup([
      { id: 'one', run: 'echo one >> done.log', undo: { run: 'echo undo-one >> done.log' } },
      { id: 'two', needs: ['one'], run: 'echo two >> done.log', undo: { run: 'echo undo-two >> done.log' } },
      { id: 'three', needs: ['two'], run: 'exit 3', on_failure: 'rollback' },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    expect((await run.done).status).toBe('rolled-back');
    expect(readFileSync(join(bench.dir, 'done.log'), 'utf8').trim().split('\n')).toEqual([
      'one',
      'two',
      'undo-two',
      'undo-one',
    ]);
    const view = runView(await bench.store.readJournal(run.runId));
    expect(view.steps.map((step) => step.status)).toEqual(['rolled-back', 'rolled-back', 'failed']);
  });

  it('escalates a failed step, pauses until an operator chooses retry, then succeeds', async () => {
    const bench = await setup([
      { id: 'fix', run: 'test -f fixed', on_failure: 'escalate', escalate_to: 'bob' },
      { id: 'after', needs: ['fix'], run: 'true' },
    ]);
    const waits: string[] = [];
    const engine = bench.engine;
    const run = await engine.start({
      plan: bench.plan,
      runbook: 'failover',
      startedBy: 'alice',
      returnWhenWaiting: false,
    });
    // the operator repairs the system and chooses retry from "another terminal" (the store, as the CLI does)
    for (;;) {
      const view = runView(await bench.store.readJournal(run.runId));
      const waiting = view.waiting.find((item) => item.step === 'fix');
      if (waiting) {
        waits.push(...waiting.on);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    readFileSync(join(bench.dir, 'plan.yaml'));
    await import('node:fs').then((fs) => fs.writeFileSync(join(bench.dir, 'fixed'), ''));
    await decideStep(bench.store, { runId: run.runId, step: 'fix', by: 'bob', choice: 'retry' });
    expect((await run.done).status).toBe('succeeded');
    expect(waits).toEqual(['bob']);
    const view = runView(await bench.store.readJournal(run.runId));
    expect(view.steps[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('goes on past a failed step with on_failure: continue and still ends the run failed', async () => {
    const bench = await setup([
      { id: 'optional', run: 'false', on_failure: 'continue' },
      { id: 'after', needs: ['optional'], run: 'true' },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    expect((await run.done).status).toBe('failed');
    expect(runView(await bench.store.readJournal(run.runId)).steps.map((step) => step.status)).toEqual([
      'failed',
      'succeeded',
    ]);
  });

  it('cancels cleanly: the running command is stopped and the run ends cancelled', async () => {
    const bench = await setup([
      { id: 'long', run: 'sleep 30' },
      { id: 'never', needs: ['long'], run: 'true' },
    ]);
    const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await run.cancel('alice', 'test');
    expect((await run.done).status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(runView(await bench.store.readJournal(run.runId)).steps.map((step) => step.status)).toEqual([
      'cancelled',
      'pending',
    ]);
  });

  it('redacts secrets from the journal', async () => {
    const bench = await setup([{ id: 'leak', run: 'echo token=$DRCTL_TEST_TOKEN; echo pw=s3cr3t-pass' }], {
      env: { DRCTL_TEST_TOKEN: 'tok-123456' },
      extra: { secrets: { env: ['DRCTL_TEST_TOKEN'], file: 'secrets.env' } },
    });
    await import('node:fs').then((fs) =>
      fs.writeFileSync(join(bench.dir, 'secrets.env'), 'DB_PASSWORD=s3cr3t-pass\n'),
    );
    process.env.DRCTL_TEST_TOKEN = 'tok-123456';
    try {
      const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
      expect((await run.done).status).toBe('succeeded');
      const text = JSON.stringify(await bench.store.readJournal(run.runId));
      expect(text).not.toContain('tok-123456');
      expect(text).not.toContain('s3cr3t-pass');
      expect(text).toContain('[redacted:DB_PASSWORD]');
    } finally {
      delete process.env.DRCTL_TEST_TOKEN;
    }
  });
});
