/**
 * Rules about people: who may declare DR (seed 002: activation criteria and approvers), approvals that
 * somebody can actually give on the day, and a backup for everyone with a duty (seed 000: "all resources
 * should be documented with primary and secondary contacts, escalation paths").
 */
import type { SourceLocation } from '../../errors.ts';
import { CONTACT_CATEGORIES } from '../../plan/contact-categories.ts';
import { isAway } from '../../plan/people.ts';
import type { Contact, Workload } from '../../plan/model.ts';
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

const DAY_MS = 86_400_000;
/** How far ahead leave is checked against the people a recovery needs. */
export const AWAY_HORIZON_DAYS = 14;

/** The first day within the horizon on which every one of `ids` is away, if any. */
function dayAllAway(context: AnalysisContext, ids: string[]): Date | undefined {
  const people = ids.map((id) => context.contacts.get(id)).filter((c): c is Contact => c !== undefined);
  if (people.length === 0) return undefined;
  const today = Math.floor(context.now.getTime() / DAY_MS) * DAY_MS;
  for (let day = 0; day <= AWAY_HORIZON_DAYS; day++) {
    const noon = new Date(today + day * DAY_MS + DAY_MS / 2);
    if (people.every((p) => isAway(p, noon))) return new Date(today + day * DAY_MS);
  }
  return undefined;
}

/** Who a workload's recovery needs: the approvers of its approval steps and its executors. */
function workloadPeople(
  context: AnalysisContext,
  workload: Workload,
): { approvers: string[]; executors: string[] } {
  const approvers = new Set<string>();
  const executors = new Set<string>();
  for (const runbook of workload.runbooks) {
    for (const step of runbook.steps) {
      for (const id of step.approval?.by ?? []) approvers.add(id);
      if (step.approval?.role) for (const c of holdersOf(context, step.approval.role)) approvers.add(c.id);
      if (step.kind === 'manual' && step.owner !== undefined) executors.add(step.owner);
    }
  }
  for (const c of context.plan.contacts)
    if (c.executor && ((c.workloads ?? []).length === 0 || c.workloads?.includes(workload.id)))
      executors.add(c.id);
  return { approvers: [...approvers], executors: [...executors] };
}

export const peopleAway: Rule = (context, report) => {
  const check = (group: string, ids: string[], at: SourceLocation, subject: FindingSubject): void => {
    const day = dayAllAway(context, ids);
    if (day === undefined) return;
    report(
      finding(
        'DRCTL_PEOPLE_AWAY',
        at,
        `${group} (${ids.join(', ')}) are all away on ${day.toISOString().slice(0, 10)}: nobody could act that day`,
        'name a backup or another person who is not away then, or move the leave',
        subject,
      ),
    );
  };
  const activation = context.plan.activation;
  if (activation !== undefined) check('everyone who may declare DR', activation.approvers, activation.at, {});
  for (const workload of context.plan.workloads) {
    const { approvers, executors } = workloadPeople(context, workload);
    const subject = { workload: workload.id };
    check(`the approvers of workload ${workload.id}`, approvers, workload.at, subject);
    check(`the DR executors of workload ${workload.id}`, executors, workload.at, subject);
  }
};

/** Seed 000's contact listing for a tier 0 or 1 workload: business and technical SMEs, upstream and downstream support, vendors. */
export const contactCategories: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    if (workload.tier > 1) continue;
    const present = new Set(
      context.plan.contacts
        .filter((c) => (c.workloads ?? []).length === 0 || c.workloads?.includes(workload.id))
        .map((c) => c.category)
        .filter((c) => c !== undefined),
    );
    const missing = CONTACT_CATEGORIES.filter((c) => !present.has(c));
    if (missing.length === 0) continue;
    report(
      finding(
        'DRCTL_CONTACT_CATEGORY_MISSING',
        workload.at,
        `tier ${workload.tier} workload ${workload.id} has no contact for ${missing.join(', ')}`,
        `add contacts with category: ${missing[0]} (and workloads: [${workload.id}] when they support only this one)`,
        { workload: workload.id },
      ),
    );
  }
};
