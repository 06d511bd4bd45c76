/**
 * The last stage of compiling, once every id is known: each reference the stages collected names a
 * defined contact, component, site or host (with the closest id as a suggestion), contacts name known
 * workloads, and components do not depend on each other in a cycle.
 */
import type { Component, Contact, Site, Workload } from './model.ts';
import { findCycle } from './cycle.ts';
import { reportUnknown, type CompileContext } from './compile-context.ts';

export function checkReferences(
  ctx: CompileContext,
  defined: { contacts: Contact[]; sites: Site[]; workloads: Workload[]; components: Component[] },
): void {
  const { refs, report } = ctx;
  const contactIds = defined.contacts.map((c) => c.id);
  const componentIds = defined.components.map((c) => c.id);
  const siteIds = defined.sites.map((s) => s.id);
  const hostIds = defined.sites.flatMap((s) => s.hosts).map((h) => h.id);
  const known = { contact: new Set(contactIds), component: new Set(componentIds), site: new Set(siteIds) };
  for (const ref of refs.contact)
    if (!known.contact.has(ref.id))
      reportUnknown('contact', ref.id, contactIds, ref.location(), ref.what, report);
  for (const ref of refs.component)
    if (!known.component.has(ref.id))
      reportUnknown('component', ref.id, componentIds, ref.location(), ref.what, report);
  for (const ref of refs.site)
    if (!known.site.has(ref.id)) reportUnknown('site', ref.id, siteIds, ref.location(), ref.what, report);
  for (const ref of refs.host)
    if (!hostIds.includes(ref.id)) reportUnknown('host', ref.id, hostIds, ref.location(), ref.what, report);
  const workloadList = defined.workloads.map((w) => w.id);
  const workloadIds = new Set(workloadList);
  for (const file of ctx.files)
    for (const [index, contact] of (file.input.contacts ?? []).entries())
      for (const [i, id] of (contact.workloads ?? []).entries())
        if (!workloadIds.has(id))
          reportUnknown(
            'workload',
            id,
            workloadList,
            ctx.at(file, 'contacts', index, 'workloads', i),
            `contact ${contact.id}`,
            report,
          );
  checkComponentCycle(ctx, defined.components);
}

function checkComponentCycle(ctx: CompileContext, components: Component[]): void {
  const byComponent = new Map(components.map((c) => [c.id, c]));
  const cycle = findCycle(
    components.map((c) => c.id),
    (id) => byComponent.get(id)?.dependsOn.filter((d) => byComponent.has(d)) ?? [],
  );
  if (cycle) {
    ctx.report(
      'DRCTL_PLAN_CYCLE',
      `components depend on each other in a cycle: ${cycle.join(' → ')}`,
      byComponent.get(cycle[0]!)!.at,
      'remove one depends_on so the dependencies form a tree',
    );
  }
}
