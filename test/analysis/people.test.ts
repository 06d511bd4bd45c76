import { describe, expect, it } from 'vitest';
import { baseline, codes, findings, stepOf } from './baseline.ts';

describe('activation', () => {
  it('reports DRCTL_ACTIVATION_MISSING for a plan with failover runbooks and no activation', async () => {
    const plan = await baseline();
    plan.activation = undefined;
    expect(codes(plan)).toContain('DRCTL_ACTIVATION_MISSING');
  });

  it('does not ask for activation when there is nothing to fail over', async () => {
    const plan = await baseline();
    plan.activation = undefined;
    for (const w of plan.workloads) w.runbooks = w.runbooks.map((r) => ({ ...r, kind: 'restore' as const }));
    expect(codes(plan)).not.toContain('DRCTL_ACTIVATION_MISSING');
  });
});

describe('approvals', () => {
  it('reports DRCTL_APPROVAL_NO_APPROVERS for an approval step with a role nobody holds', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'declare').approval = { by: [], role: 'cfo', quorum: 1, fourEyes: true };
    expect(findings(plan, 'DRCTL_APPROVAL_NO_APPROVERS').map((f) => f.subject.step)).toEqual(['declare']);
  });

  it('counts the contacts holding the role as approvers', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'declare').approval = {
      by: [],
      role: 'business-owner',
      quorum: 2,
      fourEyes: true,
    };
    expect(codes(plan)).not.toContain('DRCTL_APPROVAL_NO_APPROVERS');
    expect(codes(plan)).not.toContain('DRCTL_APPROVAL_QUORUM');
  });

  it('reports DRCTL_APPROVAL_QUORUM when an approval step asks for more approvals than it has approvers', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'declare').approval = {
      by: ['carol', 'dave'],
      role: undefined,
      quorum: 3,
      fourEyes: true,
    };
    expect(codes(plan)).toContain('DRCTL_APPROVAL_QUORUM');
  });

  it('reports DRCTL_APPROVAL_SINGLE_POINT when one unreachable approver without a backup blocks the activation', async () => {
    const plan = await baseline();
    plan.activation!.approvers = ['carol'];
    plan.contacts.find((c) => c.id === 'carol')!.backup = undefined;
    const [found] = findings(plan, 'DRCTL_APPROVAL_SINGLE_POINT');
    expect(found?.message).toContain('DR activation');
  });

  it('accepts a single approver whose backup can stand in', async () => {
    const plan = await baseline();
    plan.activation!.approvers = ['carol'];
    expect(codes(plan)).not.toContain('DRCTL_APPROVAL_SINGLE_POINT');
  });
});

describe('contacts', () => {
  it('reports DRCTL_CONTACT_NO_BACKUP for a contact with a duty and no backup, naming the duty', async () => {
    const plan = await baseline();
    plan.contacts.find((c) => c.id === 'alice')!.backup = undefined;
    const [found, ...rest] = findings(plan, 'DRCTL_CONTACT_NO_BACKUP');
    expect(rest).toEqual([]);
    expect(found).toMatchObject({ subject: { contact: 'alice' } });
    expect(found?.message).toContain('owns workload shop');
  });

  it('does not ask a contact without a duty for a backup', async () => {
    const plan = await baseline();
    plan.contacts.find((c) => c.id === 'bob')!.backup = undefined;
    expect(codes(plan)).not.toContain('DRCTL_CONTACT_NO_BACKUP');
  });
});
