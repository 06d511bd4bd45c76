import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/index.ts';
import { openStore } from '../../src/store/index.ts';
import { TABLETOP_COLLECTION, runTabletop, type TabletopRecord } from '../../src/tabletop/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const ROOT = join(import.meta.dirname, '../..');
const WARM = join(ROOT, 'examples/two-site/warm-standby.yaml');

function cli(
  args: string[],
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/drctl.js'), ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const sink = () => {
  let text = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, done) {
        text += chunk.toString();
        done();
      },
    }),
    text: () => text,
  };
};

describe('drctl tabletop', () => {
  it('walks the failover runbook from a script on stdin, records attendees and answers, and turns gaps into findings', async () => {
    const state = tempDir('drctl-tabletop-');
    const answers = [
      'Alice Ng, Bob Okafor, Carol Diaz',
      'stop east',
      '',
      'stop the read-only west',
      'nobody checks that west really stopped',
      'restore the newest snapshot',
      '',
      'start west writable',
      'the payment team is not told',
      'watch the front door',
      '',
    ];
    const result = await cli(
      ['tabletop', WARM, '--workload', 'shop', '--state', state, '--json'],
      `${answers.join('\n')}\n`,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Step 5/5  front-door-west');
    const record = JSON.parse(result.stdout) as TabletopRecord;
    expect(record).toMatchObject({
      workload: 'shop',
      runbook: 'failover',
      facilitator: 'Alice Ng',
      attendees: ['Alice Ng', 'Bob Okafor', 'Carol Diaz'],
      status: 'completed',
    });
    // run order: the two stops first (wave 1), then restore, start, front door
    expect(record.steps.map((s) => s.id)).toEqual([
      'stop-orders-east',
      'stop-orders-west',
      'restore-west',
      'start-orders-west',
      'front-door-west',
    ]);
    expect(record.steps[1]).toMatchObject({
      answer: 'stop the read-only west',
      missing: 'nobody checks that west really stopped',
    });
    expect(record.findings.map((f) => `${f.code} ${f.step} ${f.status}`)).toEqual([
      'DRCTL_TABLETOP_GAP stop-orders-west open',
      'DRCTL_TABLETOP_GAP start-orders-west open',
    ]);
    const store = await openStore(state);
    try {
      expect((await store.getDocument(TABLETOP_COLLECTION, record.id))?.data).toEqual(record);
    } finally {
      await store.close();
    }
    // the tabletop counts for compliance: it is no longer "never done"
    const compliance = await runCli('compliance', WARM, '--state', state, '--json');
    const shop = (
      JSON.parse(compliance.stdout) as {
        workloads: { tests: { id: string; status: string; last: { source: string } | null }[] }[];
      }
    ).workloads[0]!;
    expect(shop.tests.find((t) => t.id === 'tabletop')).toMatchObject({
      status: 'ok',
      last: { source: 'tabletop' },
    });
  });

  it('keeps an exercise whose input ended early as incomplete, and a later clean walk resolves earlier gaps', async () => {
    const plan = await loadPlan(WARM);
    const store = await openStore(tempDir('drctl-tabletop-'));
    let t = Date.parse('2026-05-01T09:00:00Z');
    const clock = () => new Date((t += 60_000));
    try {
      const walk = async (lines: string[]) => {
        const input = new PassThrough();
        input.end(lines.map((l) => `${l}\n`).join(''));
        const out = sink();
        const record = await runTabletop({
          plan,
          workload: 'shop',
          store,
          input,
          output: out.stream,
          clock,
          attendees: ['alice'],
        });
        return { record, text: out.text() };
      };
      const first = await walk(['stop east', 'no owner named']);
      expect(first.record.status).toBe('incomplete');
      expect(first.record.findings).toMatchObject([{ step: 'stop-orders-east', status: 'open' }]);
      expect(first.text).toContain('Stopped after 1 of 5 steps');
      await walk(['stop east', '', 'a', '', 'b', '', 'c', '', 'd', '']);
      const earlier = (await store.getDocument(TABLETOP_COLLECTION, first.record.id))!
        .data as unknown as TabletopRecord;
      expect(earlier.findings).toMatchObject([{ step: 'stop-orders-east', status: 'resolved' }]);
    } finally {
      await store.close();
    }
  });

  it('names the workloads when asked for one the plan lacks (exit 2)', async () => {
    const result = await runCli('tabletop', WARM, '--workload', 'nope', '--state', tempDir());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_TABLETOP_WORKLOAD');
  });
});
