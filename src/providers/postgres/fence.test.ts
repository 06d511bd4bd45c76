// Fencing with how: stop, against servers in the states a lost site leaves them in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../system/processes.ts';
import { PgCluster } from '../../pg/cluster.ts';
import { pgAvailable, postgresProvider } from './index.ts';
import { contextFor, planFor } from './testing.ts';

let cluster: PgCluster | undefined;
let stateDir: string | undefined;

afterEach(async () => {
  await cluster?.close();
  if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
});

async function fenceByStop(target: PgCluster) {
  stateDir = mkdtempSync(join(tmpdir(), 'drctl-pg-fence-'));
  const plan = planFor(target, { baseDir: stateDir });
  const action = postgresProvider.actions.fence;
  return action.run(
    action.params.parse({ component: 'db', site: 'east', how: 'stop' }),
    contextFor(plan, stateDir),
  );
}

describe.skipIf(!pgAvailable())('fencing a PostgreSQL server by stopping it', () => {
  it('shuts a running primary down at once', async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
    const pid = cluster.node('east').pid as number;
    const result = await fenceByStop(cluster);
    expect(result.output).toMatchObject({ fenced: true, reachable: true, stopped: 'shut-down' });
    expect(processAlive(pid)).toBe(false);
  });

  it('kills a frozen primary at once instead of waiting for a shutdown it cannot make', async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
    const pid = cluster.node('east').pid as number;
    process.kill(-pid, 'SIGSTOP'); // what a drill's pause fault does to the whole server
    const started = performance.now();
    const result = await fenceByStop(cluster);
    // waiting for the shutdown would take the fence's whole 5 s grace before the kill
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(result.output).toMatchObject({ fenced: true, reachable: true, stopped: 'killed' });
    expect(result.summary).toContain('killed with SIGKILL');
    expect(processAlive(pid)).toBe(false);
  });
});
