/**
 * Rules about people: who may declare DR (seed 002: activation criteria and approvers), approvals that
 * somebody can actually give on the day, and a backup for everyone with a duty (seed 000: "all resources
 * should be documented with primary and secondary contacts, escalation paths").
 */
import type { SourceLocation } from '../../errors.ts';
import type { Contact } from '../../plan/model.ts';
import type { AnalysisContext, Rule } from '../context.ts';
import { plural } from '../context.ts';
import { finding } from '../findings.ts';
import type { Finding, FindingSubject } from '../findings.ts';

export const activationDefined: Rule = (context, report) => {
  if (context.plan.activation !== undefined) return;
  const failover = context.plan.workloads.flatMap((w) => w.runbooks).find((r) => r.kind === 'failover');
  if (failover === undefined) return;
  report(
    finding(
      'DRCTL_ACTIVATION_MISSING',
      context.plan.at,
      `the plan has failover runbooks (first: ${failover.workload}/${failover.name}) but no activation: nobody is named to declare DR and no criteria say when`,
      'add activation: { criteria: [...], approvers: [...] }',
    ),
  );
};

function holdersOf(context: AnalysisContext, role: string): Contact[] {
  const wanted = role.toLowerCase();
  return context.plan.contacts.filter(
    (c) => c.roles.some((r) => r.toLowerCase() === wanted) || c.role?.toLowerCase() === wanted,
  );
}

/**
 * The approvers of an approval: an error when nobody can give it or the quorum cannot be met, a
 * warning when losing one person (with backups standing in) blocks it.
 */
function approvalFindings(
  context: AnalysisContext,
  what: string,
  approvers: string[],
  quorum: number,
  at: SourceLocation,
  subject: FindingSubject,
): Finding[] {
  const named = [...new Set(approvers)].filter((id) => context.contacts.has(id));
  if (named.length === 0) {
    return [
      finding(
        'DRCTL_APPROVAL_NO_APPROVERS',
        at,
        `${what} has no approver: nobody can give it`,
        'name approvers with by: [<contact id>, ...], or a role: that some contact holds',
        subject,
      ),
    ];
  }
  if (named.length < quorum) {
    return [
      finding(
        'DRCTL_APPROVAL_QUORUM',
        at,
        `${what} needs ${quorum} approvals but only ${plural(named.length, 'approver is', 'approvers are')} named (${named.join(', ')})`,
        `name at least ${quorum} approvers or lower the quorum`,
        subject,
      ),
    ];
  }
  const pool = new Set(named);
  for (const id of named) {
    const backup = context.contacts.get(id)?.backup;
    if (backup !== undefined && context.contacts.has(backup)) pool.add(backup);
  }
  if (pool.size > quorum) return [];
  return [
    finding(
      'DRCTL_APPROVAL_SINGLE_POINT',
      at,
      `${what} needs ${quorum} of ${named.join(', ')} and nobody stands in: if one of them cannot be reached it cannot be given`,
      `add another approver, or give ${named.join(', ')} a backup: <contact id>`,
      subject,
    ),
  ];
}

export const approvals: Rule = (context, report) => {
  const activation = context.plan.activation;
  if (activation !== undefined) {
    for (const f of approvalFindings(
      context,
      'the DR activation',
      activation.approvers,
      activation.quorum,
      activation.at,
      {},
    ))
      report(f);
  }
  for (const workload of context.plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        if (step.approval === undefined) continue;
        const approvers = [
          ...step.approval.by,
          ...(step.approval.role ? holdersOf(context, step.approval.role).map((c) => c.id) : []),
        ];
        const subject = { workload: workload.id, runbook: runbook.name, step: step.id };
        const what = `approval step ${step.id} of runbook ${runbook.name}${step.approval.role ? ` (role ${step.approval.role})` : ''}`;
        for (const f of approvalFindings(context, what, approvers, step.approval.quorum, step.at, subject))
          report(f);
      }
    }
  }
};

/** Every contact with a duty in the plan, and what the duties are. */
function duties(context: AnalysisContext): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (id: string | undefined, duty: string): void => {
    if (id === undefined || !context.contacts.has(id)) return;
    const set = found.get(id) ?? new Set<string>();
    set.add(duty);
    found.set(id, set);
  };
  for (const id of context.plan.activation?.approvers ?? []) add(id, 'declares DR');
  for (const contact of context.plan.contacts)
    for (const id of contact.escalation) add(id, `escalation for ${contact.id}`);
  for (const workload of context.plan.workloads) {
    add(workload.owner, `owns workload ${workload.id}`);
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        add(step.owner, `performs ${runbook.name}/${step.id}`);
        add(step.escalateTo, `escalation for ${runbook.name}/${step.id}`);
        for (const id of step.approval?.by ?? []) add(id, `approves ${runbook.name}/${step.id}`);
      }
    }
  }
  return found;
}

export const contactBackups: Rule = (context, report) => {
  const withDuty = duties(context);
  for (const contact of context.plan.contacts) {
    const set = withDuty.get(contact.id);
    if (set === undefined) continue;
    const list = [...set];
    const backup = contact.backup;
    if (backup !== undefined && backup !== contact.id && context.contacts.has(backup)) continue;
    const shown = list.length > 3 ? [...list.slice(0, 3), `${list.length - 3} more`] : list;
    report(
      finding(
        'DRCTL_CONTACT_NO_BACKUP',
        contact.at,
        `contact ${contact.id} (${contact.name}) ${shown.join(', ')} but has no backup`,
        'add backup: <contact id> naming who stands in when they cannot be reached',
        { contact: contact.id },
      ),
    );
  }
};
