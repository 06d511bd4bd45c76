import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.ts';
import { TWO_SITE, drctl, frontDoorPorts, markedProcesses, portOpen, waitFor } from './support.ts';

describe('drctl demo and drctl drill as processes', () => {
  it('drctl demo measures RTO and RPO and leaves no process and no open port behind', async () => {
    const cwd = tempDir('drctl-demo-');
    const cli = drctl(['demo'], cwd);
    const { code } = await cli.exit;
    expect(cli.stderr()).not.toContain('DRCTL_INTERNAL');
    expect(code).toBe(0);
    expect(cli.stdout()).toMatch(/warm-standby\): PASSED/);
    expect(cli.stdout()).toMatch(/RTO \(client\)\s+\d/);
    expect(cli.stdout()).toMatch(/RPO \(lost\)\s+\d+ acknowledged write/);
    expect(cli.stdout()).toContain(join(cwd, '.drctl/demo/reports/'));
    const ports = frontDoorPorts(cli.stderr());
    expect(ports.length).toBeGreaterThan(0);
    expect(markedProcesses(cli.marker)).toEqual([]);
    for (const port of ports) expect(await portOpen(port)).toBe(false);
  }, 120_000);

  it('a drill interrupted with Ctrl-C stops everything it started', async () => {
    const state = tempDir('drctl-drill-sigint-');
    const cli = drctl(
      [
        'drill',
        join(TWO_SITE, 'warm-standby.yaml'),
        '--scenario',
        'east-killed',
        '--remap-ports',
        '--state',
        state,
      ],
      state,
    );
    await waitFor(() => cli.stderr().includes('steady:'), 30_000);
    expect(markedProcesses(cli.marker).length).toBeGreaterThan(0);
    cli.kill('SIGINT');
    const { code } = await cli.exit;
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('DRCTL_DRILL_INTERRUPTED');
    expect(markedProcesses(cli.marker)).toEqual([]);
    for (const port of frontDoorPorts(cli.stderr())) expect(await portOpen(port)).toBe(false);
  }, 60_000);
});
