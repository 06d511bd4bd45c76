import { describe, expect, it } from 'vitest';
import { isReachable } from '../../src/plan/people.ts';
import { BASELINE_YAML, baseline, codes, findings, loadYaml } from './baseline.ts';

describe("people's availability", () => {
  it('reports DRCTL_PEOPLE_AWAY when every approver of a workload is away on a day within 14 days', async () => {
    const plan = await loadYaml(
      BASELINE_YAML.replace(
        'category: business-sme }',
        'category: business-sme, away: [{ from: 2026-03-05, to: 2026-03-09 }] }',
      ).replace(
        '  - { id: dave, name: Dave Kim, roles: [business-owner], backup: carol }',
        '  - { id: dave, name: Dave Kim, roles: [business-owner], backup: carol, away: [{ from: 2026-03-08, to: 2026-03-20 }] }',
      ),
    );
    expect(findings(plan, 'DRCTL_PEOPLE_AWAY').map((f) => f.message)).toEqual([
      'everyone who may declare DR (carol, dave) are all away on 2026-03-08: nobody could act that day',
      'the approvers of workload shop (carol, dave) are all away on 2026-03-08: nobody could act that day',
    ]);
  });

  it('does not warn about leave beyond the next 14 days', async () => {
    const plan = await loadYaml(
      BASELINE_YAML.replace(
        'category: business-sme }',
        'category: business-sme, away: [{ from: 2026-04-01, to: 2026-04-09 }] }',
      ).replace(
        '  - { id: dave, name: Dave Kim, roles: [business-owner], backup: carol }',
        '  - { id: dave, name: Dave Kim, roles: [business-owner], backup: carol, away: [{ from: 2026-04-01, to: 2026-04-09 }] }',
      ),
    );
    expect(codes(plan)).not.toContain('DRCTL_PEOPLE_AWAY');
  });

  it('reads on-call hours in the contact time zone, past midnight too', async () => {
    const contact = {
      timezone: 'Australia/Sydney',
      onCall: [{ days: ['mon' as const], fromMin: 22 * 60, toMin: 6 * 60 }],
      away: [],
    };
    // Monday 23:00 and Tuesday 05:00 in Sydney (UTC+11 in March); Tuesday 07:00 is off duty
    expect(isReachable(contact, new Date('2026-03-02T12:00:00Z'))).toBe(true);
    expect(isReachable(contact, new Date('2026-03-02T18:00:00Z'))).toBe(true);
    expect(isReachable(contact, new Date('2026-03-02T20:00:00Z'))).toBe(false);
  });

  it('reports DRCTL_CONTACT_CATEGORY_MISSING for a tier 1 workload with no vendor contact', async () => {
    const plan = await baseline();
    plan.contacts = plan.contacts.filter((c) => c.category !== 'vendor');
    expect(findings(plan, 'DRCTL_CONTACT_CATEGORY_MISSING').map((f) => f.message)).toEqual([
      'tier 1 workload shop has no contact for vendor',
    ]);
    plan.workloads[0]!.tier = 2;
    expect(codes(plan)).not.toContain('DRCTL_CONTACT_CATEGORY_MISSING');
  });

  it('refuses an unknown workload in a contact at its line and column', async () => {
    await expect(
      loadYaml(BASELINE_YAML.replace('category: vendor }', 'category: vendor, workloads: [shopp] }')),
    ).rejects.toMatchObject({
      problems: [
        expect.objectContaining({
          code: 'DRCTL_PLAN_UNKNOWN_REF',
          message: 'contact gil names workload "shopp", which is not defined; did you mean "shop"?',
          location: expect.objectContaining({ line: 14, column: 93 }),
        }),
      ],
    });
  });
});
