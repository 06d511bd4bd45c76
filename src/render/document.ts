// The runbook document as format-neutral blocks (document-model.ts), one chapter per file under chapters/.
// Every fact a reader sees is chosen here, once; the Markdown and HTML writers only decide how it looks,
// so the two formats cannot drift apart. All text stays plain here and is escaped by the writer for its format.
import type { Plan } from '../plan/model.ts';
import { Redactor, inlineSecrets } from '../plan/secrets.ts';
import { architecture } from './chapters/architecture.ts';
import { businessImpact } from './chapters/business-impact.ts';
import { businessReview } from './chapters/business-review.ts';
import { contactListing } from './chapters/contact-listing.ts';
import { dependencies } from './chapters/dependencies.ts';
import { postRequisites } from './chapters/post-requisites.ts';
import { prerequisites } from './chapters/prerequisites.ts';
import { processRequirements } from './chapters/process-requirements.ts';
import { recoveryPostRequisites } from './chapters/recovery-post-requisites.ts';
import { technicalRecovery } from './chapters/technical-recovery.ts';
import { Context } from './document-context.ts';
import {
  CHAPTERS,
  type Block,
  type ChapterId,
  type RenderOptions,
  type RunbookDocument,
} from './document-model.ts';

/**
 * Build the document for a plan; `renderMarkdown` and `renderHtml` write it out. Every format is written
 * from this one model, so it is the one place credentials are taken out: a runbook is printed, mailed and
 * kept offline, the worst place for a password.
 */
export function buildDocument(plan: Plan, options: RenderOptions = {}): RunbookDocument {
  return new Redactor(inlineSecrets(plan)).value(documentOf(plan, options));
}

function documentOf(plan: Plan, options: RenderOptions): RunbookDocument {
  const ctx = new Context(plan, options);
  const builders: Record<ChapterId, () => Block[]> = {
    'process-requirements': () => processRequirements(ctx),
    'business-impact': () => businessImpact(ctx),
    'contact-listing': () => contactListing(ctx),
    architecture: () => architecture(ctx),
    dependencies: () => dependencies(ctx),
    prerequisites: () => prerequisites(ctx),
    'technical-recovery': () => technicalRecovery(ctx),
    'post-requisites': () => postRequisites(ctx),
    'business-review': () => businessReview(ctx),
    'recovery-post-requisites': () => recoveryPostRequisites(ctx),
  };
  return {
    title: ctx.scope === undefined ? `${plan.name}: DR runbook` : `${plan.name}: DR runbook ${ctx.scope}`,
    planName: plan.name,
    description: plan.description,
    hash: plan.hash,
    renderedAt: options.now ?? new Date(),
    files: plan.files,
    scope: ctx.scope,
    chapters: CHAPTERS.map((chapter, index) => ({
      id: chapter.id,
      number: index + 1,
      title: chapter.title,
      blocks: builders[chapter.id](),
    })),
  };
}
