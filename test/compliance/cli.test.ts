import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

describe('drctl compliance on the examples', () => {
  it('exits 0 for the archive, whose tabletop and restore are within their schedule', async () => {
    const result = await runCli(
      'compliance',
      'examples/backup-archive/plan.yaml',
      '--state',
      tempDir(),
      '--now',
      '2026-11-20',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatchInlineSnapshot(`
      "Compliance of document-archive on 2026-11-20

      archive (tier 3, owner gina)
        tabletop        ok          every 365d    last 2026-10-01 passed (plan-history examples/backup-archive/plan.yaml:179)  next due 2027-10-01
        backup-restore  ok          every 91d     last 2026-11-03 passed (plan-history examples/backup-archive/plan.yaml:178)  next due 2027-02-02

      Attested by people (drctl attest; each holds for the review interval)
        archive/backup-policies          missing  never attested
        archive/storage-tiers            missing  never attested
        archive/restore-procedures       missing  never attested
        archive/backup-costs-compliance  missing  never attested
        archive/backup-audits            missing  never attested
        archive/communication-plan       missing  never attested

      compliant: every required test is within its schedule
      "
    `);
  });

  it('exits 1 once time passes the restore due date, and says what is overdue', async () => {
    const result = await runCli(
      'compliance',
      'examples/backup-archive/plan.yaml',
      '--state',
      tempDir(),
      '--now',
      '2027-03-01',
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/backup-restore {2}OVERDUE/);
    expect(result.stdout).toContain('not compliant: 1 test overdue, never done or failed');
  });

  it('shows the failovers the two-site shop never tested, as JSON, with exit 1', async () => {
    const result = await runCli(
      'compliance',
      'examples/two-site/warm-standby.yaml',
      '--state',
      tempDir(),
      '--now',
      '2026-11-20',
      '--json',
    );
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      workloads: { id: string; unattended: boolean; tests: Record<string, unknown>[] }[];
    };
    expect(report.ok).toBe(false);
    expect(report.workloads[0]).toMatchObject({ id: 'shop', unattended: true });
    expect(report.workloads[0]!.tests.map((t) => [t.id, t.status, t.automated, t.schedule])).toEqual([
      ['tabletop', 'never', false, 'every 183d'],
      ['partial-failover', 'never', true, 'cron 0 3 1 */6 *'],
      ['backup-restore', 'never', false, 'every 31d'],
      ['full-failover', 'never', true, 'every 365d'],
    ]);
  });

  it('refuses a --now that is not a date with exit 2', async () => {
    const result = await runCli('compliance', 'examples/backup-archive/plan.yaml', '--now', 'soon');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DRCTL_USAGE_DATE');
  });
});
