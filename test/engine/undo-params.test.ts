import { describe, expect, it } from 'vitest';
import { runView } from '../../src/engine/index.ts';
import { supervisorFor } from '../../src/supervise/index.ts';
import { setup } from './fixtures.ts';

describe('a provider action rolled back through its declared undo', () => {
  it('passes the undo only the parameters it knows, so process.start with env is undone by process.stop', async () => {
    const steps = [
      {
        id: 'start',
        action: 'process.start',
        with: { component: 'worker', site: 'east', env: { MODE: 'drill' } },
      },
      { id: 'fail', needs: ['start'], run: 'exit 3', on_failure: 'rollback' },
    ];
    const workload = {
      id: 'shop',
      tier: 1,
      strategy: 'hot-standby',
      owner: 'alice',
      components: [{ id: 'worker', kind: 'process', placement: { east: { command: 'sleep 60' } } }],
      runbooks: { failover: { steps } },
    };
    const bench = await setup(steps, { extra: { workloads: [workload] } });
    const supervisor = supervisorFor(bench.stateDir);
    try {
      const run = await bench.engine.start({ plan: bench.plan, runbook: 'failover', startedBy: 'alice' });
      expect((await run.done).status).toBe('rolled-back');
      expect(runView(await bench.store.readJournal(run.runId)).steps.map((step) => step.status)).toEqual([
        'rolled-back',
        'failed',
      ]);
      expect(supervisor.status('worker@east').filter((instance) => instance.state !== 'exited')).toEqual([]);
    } finally {
      await supervisor.close();
    }
  });
});
