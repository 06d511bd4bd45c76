import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.ts';
import { cli, startCli, stopAll } from './cli-process.ts';
import { writePlan } from './fixtures.ts';

afterAll(stopAll);

// what the last `drctl status` printed, so a timeout shows what the test saw instead
let lastSeen = '';

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last seen: ${lastSeen}`);
    await sleep(50);
  }
}

function project(steps: unknown[]) {
  const dir = tempDir('drctl-cli-');
  writePlan(dir, steps);
  const state = ['--state', join(dir, 'state')];
  const status = async (runId?: string) => {
    const result = await cli(['status', ...(runId ? [runId] : []), ...state, '--json'], { cwd: dir });
    lastSeen = `${result.code} ${result.stdout.slice(0, 2000)} ${result.stderr}`;
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };
  return { dir, state, status };
}

describe('drctl run, approve and cancel as separate processes', () => {
  it('a run started in one terminal waits for a quorum of two approvers from another, refusing four-eyes, strangers and twice', async () => {
    const { dir, state, status } = project([
      { id: 'declare', approval: { by: ['alice', 'bob', 'carol'], quorum: 2 } },
      { id: 'promote', needs: ['declare'], run: 'echo promoted > promoted.txt' },
    ]);
    const run = startCli(['run', 'plan.yaml', '--runbook', 'failover', '--as', 'alice', ...state, '--json'], {
      cwd: dir,
    });
    const runId = await waitFor(async () => {
      const listed = (await status()).runs as Array<{ id: string; status: string }> | undefined;
      return listed?.find((item) => item.status === 'waiting')?.id;
    });

    const byStarter = await cli(['approve', runId, 'declare', '--as', 'alice', ...state], { cwd: dir });
    expect(byStarter.code).toBe(2);
    expect(byStarter.stderr).toContain('DRCTL_APPROVAL_FOUR_EYES');
    const byStranger = await cli(['approve', runId, 'declare', '--as', 'dave', ...state], { cwd: dir });
    expect(byStranger.code).toBe(2);
    expect(byStranger.stderr).toContain('DRCTL_APPROVAL_NOT_ALLOWED');
    const notWaiting = await cli(['approve', runId, 'promote', '--as', 'bob', ...state], { cwd: dir });
    expect(notWaiting.stderr).toContain('DRCTL_STEP_NOT_WAITING');

    expect((await cli(['approve', runId, 'declare', '--as', 'bob', ...state], { cwd: dir })).code).toBe(0);
    const twice = await cli(['approve', runId, 'declare', '--as', 'bob', ...state], { cwd: dir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('DRCTL_APPROVAL_DUPLICATE');
    // refused inputs left the recorded state as it was: still one approval of two
    const midway = (await status(runId)) as {
      steps: Array<{ id: string; approvedBy: string[]; status: string }>;
    };
    expect(midway.steps[0]).toMatchObject({ status: 'waiting', approvedBy: ['bob'] });

    expect((await cli(['approve', runId, 'declare', '--as', 'carol', ...state], { cwd: dir })).code).toBe(0);
    const finished = await run.exit;
    expect(finished.code).toBe(0);
    const view = JSON.parse(finished.stdout) as {
      status: string;
      steps: Array<{ id: string; status: string }>;
    };
    expect(view.status).toBe('succeeded');
    expect(view.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded']);

    const again = await cli(['resume', runId, '--as', 'bob', ...state], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('DRCTL_RUN_FINISHED');
  }, 60_000);

  it('drctl cancel stops a run driven by another process, and a second driver is refused while it lives', async () => {
    const { dir, state, status } = project([{ id: 'long', run: 'sleep 30; echo late > late.txt' }]);
    const run = startCli(['run', 'plan.yaml', '--runbook', 'failover', ...state], { cwd: dir });
    const runId = await waitFor(async () => {
      const listed = (await status()).runs as
        Array<{ id: string; status: string; progress: { running: number } }> | undefined;
      return listed?.find((item) => item.progress.running === 1)?.id;
    });
    const second = await cli(['resume', runId, ...state], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('DRCTL_RUN_LOCKED');

    const cancelled = await cli(['cancel', runId, '--as', 'bob', ...state, '--json'], { cwd: dir });
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ status: 'cancelled', steps: ['long'] });
    expect((await run.exit).code).toBe(1);
  }, 60_000);

  it('drctl run --dry-run predicts the critical path without creating any state', async () => {
    const { dir, state } = project([
      { id: 'a', run: 'true', expected: '1m', contingency: '30s' },
      { id: 'b', needs: ['a'], run: 'true', expected: '2m' },
      { id: 'c', needs: ['a'], run: 'true', expected: '5m', contingency: '1m' },
      { id: 'd', needs: ['b', 'c'], run: 'true', expected: '10s' },
    ]);
    const result = await cli(['run', 'plan.yaml', '--runbook', 'failover', '--dry-run', '--json', ...state], {
      cwd: dir,
    });
    expect(result.code).toBe(0);
    const timeline = JSON.parse(result.stdout) as { totalMs: number; criticalPath: string[] };
    expect(timeline.totalMs).toBe(90_000 + 360_000 + 10_000);
    expect(timeline.criticalPath).toEqual(['a', 'c', 'd']);
    expect((await import('node:fs')).existsSync(join(dir, 'state'))).toBe(false);
  }, 30_000);

  it('drctl audit verify names the journal record that was edited, and export writes JSON Lines', async () => {
    const { dir, state } = project([
      { id: 'a', run: 'echo a' },
      { id: 'b', needs: ['a'], run: 'echo b' },
    ]);
    const run = await cli(['run', 'plan.yaml', '--runbook', 'failover', ...state, '--json'], { cwd: dir });
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    expect((await cli(['audit', 'verify', runId, ...state], { cwd: dir })).code).toBe(0);
    const exported = await cli(['audit', 'export', runId, ...state], { cwd: dir });
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { seq: number; type: string });
    expect(lines[0]).toMatchObject({ seq: 1, type: 'run-created' });

    // tamper around drctl: drop the append-only guard and rewrite one record's output
    const db = new Database(join(dir, 'state', 'state.db'));
    db.exec('DROP TRIGGER journal_no_update');
    const target = db
      .prepare("SELECT seq FROM journal WHERE run_id = ? AND type = 'step-succeeded' AND step = 'b'")
      .get(runId) as { seq: number };
    db.prepare(
      "UPDATE journal SET data = replace(data, 'exited 0', 'exited 1') WHERE run_id = ? AND seq = ?",
    ).run(runId, target.seq);
    db.close();
    const broken = await cli(['audit', 'verify', runId, ...state, '--json'], { cwd: dir });
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({
      ok: false,
      problem: { seq: target.seq, type: 'step-succeeded', step: 'b' },
    });
    const human = await cli(['audit', 'verify', runId, ...state], { cwd: dir });
    expect(human.stdout).toContain(`BROKEN at record ${target.seq} (step-succeeded of step b)`);
  }, 30_000);
});
