import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { runDrill } from '../../src/drill/runner.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { haproxyBinary } from '../../src/providers/haproxy/testing.ts';
import { tempDir } from '../support/tmp.ts';
import { TWO_SITE } from './support.ts';

const ready = pgAvailable() && haproxyBinary() !== undefined;

describe.skipIf(!ready)('the hot-standby drill with HAProxy as the front door', () => {
  it('fails over through the runtime API after east is killed, loses no acknowledged write, and fails back', async () => {
    const plan = await loadPlanForCommand(join(TWO_SITE, 'haproxy.yaml'));
    const { report } = await runDrill({
      plan,
      scenario: 'east-killed',
      stateDir: tempDir('drctl-drill-haproxy-'),
      remapPorts: true,
      failback: {},
    });
    expect(report.measured.lostWrites).toMatchObject({ count: 0, ids: [] });
    expect(report.measured.writes.acknowledged).toBeGreaterThan(50);
    expect(report.measured.rtoMs).toBeDefined();
    expect(report.timeline.filter((e) => e.kind === 'step-finished').map((e) => e.step)).toEqual(
      expect.arrayContaining(['fence-east', 'promote-west', 'front-door-west', 'verify-front-door']),
    );
    // HAProxy's own view at the end: east back in rotation after the failback, west its backup
    const servers = report.evidence.find((e) => e.name === 'haproxy servers')?.value as {
      server: string;
      status: string;
      backup: boolean;
    }[];
    expect(servers.map((s) => [s.server, s.backup])).toEqual([
      ['east', false],
      ['west', true],
    ]);
    expect(servers.find((s) => s.server === 'east')?.status).toMatch(/^UP/);
    expect(report.failback).toMatchObject({ status: 'succeeded', servedBy: 'east', dataSite: 'east' });
    expect(report.failback?.lostWrites).toMatchObject({ count: 0 });
    expect(report.passed).toBe(true);
  }, 180_000);
});
