/**
 * People: contacts (with their availability), who may declare a disaster (activation) and who executes
 * where. Every contact a contact names (backup, escalation) and every approver is checked with the other
 * references.
 */
import type { Contact, Plan } from './model.ts';
import { compileAvailability } from './people.ts';
import { optMs, type CompileContext } from './compile-context.ts';

export function compileContacts(ctx: CompileContext): Contact[] {
  const { at, refContact } = ctx;
  const contacts: Contact[] = [];
  for (const file of ctx.files) {
    for (const [index, contact] of (file.input.contacts ?? []).entries()) {
      const location = at(file, 'contacts', index);
      if (contacts.some((c) => c.id === contact.id)) {
        ctx.report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `contact ${contact.id} is defined twice`,
          location,
          'give each contact a unique id',
        );
        continue;
      }
      contacts.push({
        id: contact.id,
        name: contact.name,
        role: contact.role,
        email: contact.email,
        phone: contact.phone,
        backup: contact.backup,
        escalation: contact.escalation ?? [],
        roles: contact.roles ?? [],
        ...compileAvailability(contact),
        at: location,
      });
      refContact(
        contact.backup,
        () => at(file, 'contacts', index, 'backup'),
        `backup of contact ${contact.id}`,
      );
      for (const [i, id] of (contact.escalation ?? []).entries())
        refContact(
          id,
          () => at(file, 'contacts', index, 'escalation', i),
          `escalation of contact ${contact.id}`,
        );
    }
  }
  return contacts;
}

export function compileActivation(ctx: CompileContext): Plan['activation'] {
  const section = ctx.single('activation');
  if (section === undefined) return undefined;
  const activation = {
    criteria: section.value.criteria,
    approvers: section.value.approvers,
    quorum: section.value.quorum ?? 1,
    declareWithinMs: optMs(section.value.declare_within),
    at: ctx.at(section.file, 'activation'),
  };
  activation.approvers.forEach((id, i) =>
    ctx.refContact(id, () => ctx.at(section.file, 'activation', 'approvers', i), 'activation approver'),
  );
  if (activation.quorum > activation.approvers.length) {
    ctx.report(
      'DRCTL_PLAN_QUORUM',
      `activation quorum ${activation.quorum} is more than its ${activation.approvers.length} approvers`,
      ctx.at(section.file, 'activation', 'quorum'),
      'lower the quorum or add approvers',
    );
  }
  return activation;
}
