import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  REMINDERS_COLLECTION,
  complianceOf,
  scheduleTests,
  testJobId,
  type TestReminder,
} from '../../src/compliance/index.ts';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { OCCURRENCES_COLLECTION, Scheduler } from '../../src/schedule/index.ts';
import { openStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';

const WARM = join(import.meta.dirname, '../../examples/two-site/warm-standby.yaml');
const DAY = 86_400_000;

describe('scheduled tests', () => {
  it('runs a real warm-standby drill when its fast schedule falls due, once, and compliance counts it', async () => {
    const plan = await loadPlanForCommand(WARM);
    const shop = plan.workloads[0]!;
    const full = shop.tests!.required.find((t) => t.id === 'full-failover')!;
    // the yearly full failover, every second instead, so the test sees it fall due
    full.everyMs = 1_000;
    const stateDir = tempDir('drctl-scheduled-drill-');
    const store = await openStore(stateDir);
    const scheduler = new Scheduler({ store });
    try {
      scheduleTests({ plan, scheduler, store, stateDir });
      const t0 = new Date();
      await scheduler.tick(t0);
      expect(await store.listDrillReports()).toEqual([]);
      await scheduler.tick(new Date(t0.getTime() + 1_500));
      const [report] = await store.listDrillReports();
      expect(report).toMatchObject({ workload: 'shop', scenario: 'east-killed', passed: true });
      const job = await store.getDocument(OCCURRENCES_COLLECTION, testJobId(plan, shop, full));
      expect(job?.data).toMatchObject({ lastStatus: 'succeeded', lastLate: false });
      // nothing else was due: no reminder, and the same due time does not run twice
      await scheduler.tick(new Date(t0.getTime() + 1_600));
      expect(await store.listDrillReports()).toHaveLength(1);
      expect(await store.listDocuments(REMINDERS_COLLECTION)).toEqual([]);
      const compliance = await complianceOf(plan, store, new Date());
      // done a moment ago, and due again a second later: due soon, no longer never done
      expect(compliance.workloads[0]!.tests.find((t) => t.id === 'full-failover')).toMatchObject({
        status: 'due-soon',
        last: { source: 'drill', scenario: 'east-killed' },
      });
    } finally {
      await scheduler.stop();
      await store.close();
    }
  });

  it('reminds the owner once, late, of every test that fell due while drctl was down, when drills may not run unattended', async () => {
    const plan = await loadPlanForCommand(WARM);
    plan.workloads[0]!.tests!.unattended = false;
    const stateDir = tempDir('drctl-scheduled-remind-');
    const store = await openStore(stateDir);
    const t0 = new Date('2026-01-05T00:00:00Z');
    const scheduler = new Scheduler({ store });
    const sent: TestReminder[] = [];
    try {
      scheduleTests({
        plan,
        scheduler,
        store,
        stateDir,
        clock: () => new Date(t0.getTime() + 400 * DAY),
        notify: async (reminder) => void sent.push(reminder),
      });
      await scheduler.tick(t0);
      // drctl was down for 400 days: the monthly restore fell due 12 times, the tabletop twice
      const later = new Date(t0.getTime() + 400 * DAY);
      await scheduler.tick(later);
      await scheduler.tick(later);
      const reminders = (await store.listDocuments(REMINDERS_COLLECTION)).map(
        (d) => d.data as unknown as TestReminder,
      );
      expect(reminders.map((r) => r.test).sort()).toEqual([
        'backup-restore',
        'full-failover',
        'partial-failover',
        'tabletop',
      ]);
      expect(reminders.every((r) => r.late && r.owner === 'carol')).toBe(true);
      expect(reminders.find((r) => r.test === 'full-failover')?.reason).toContain(
        'does not allow unattended drills',
      );
      expect(sent).toHaveLength(4);
      expect(await store.listDrillReports()).toEqual([]);
    } finally {
      await scheduler.stop();
      await store.close();
    }
  });
});
