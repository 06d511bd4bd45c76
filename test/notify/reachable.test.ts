import { describe, expect, it } from 'vitest';
import { reachableRecipients } from '../../src/notify/index.ts';
import { BASELINE_YAML, loadYaml } from '../analysis/baseline.ts';

describe('who a message goes to when people are away', () => {
  it("sends to a contact's backup while they are away, and says so", async () => {
    const plan = await loadYaml(
      BASELINE_YAML.replace(
        'category: business-sme }',
        'category: business-sme, away: [{ from: 2026-03-01, to: 2026-03-09, note: leave }] }',
      ),
    );
    const during = reachableRecipients(plan, ['carol', 'alice'], new Date('2026-03-09T18:00:00Z'));
    expect(during).toEqual({
      recipients: ['dave', 'alice'],
      skipped: ['Carol Diaz is away until 2026-03-09; Dave Kim stands in.'],
    });
    expect(reachableRecipients(plan, ['carol'], new Date('2026-03-10T00:00:00Z'))).toEqual({
      recipients: ['carol'],
      skipped: [],
    });
  });

  it('skips someone off call with no backup to stand in, and names them', async () => {
    const plan = await loadYaml(
      BASELINE_YAML.replace(
        'category: vendor }',
        'category: vendor, timezone: Europe/London, on_call: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }] }',
      ),
    );
    // Sunday afternoon in London
    expect(reachableRecipients(plan, ['gil'], new Date('2026-03-01T15:00:00Z'))).toEqual({
      recipients: [],
      skipped: ['Gil Moss is off call now.'],
    });
    // Monday morning
    expect(reachableRecipients(plan, ['gil'], new Date('2026-03-02T10:00:00Z')).recipients).toEqual(['gil']);
  });
});
