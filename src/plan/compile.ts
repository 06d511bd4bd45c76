/**
 * Compiling validated plan files into the model: sections of several files merged, durations turned
 * into milliseconds, defaults applied, and every reference checked (unknown ids, duplicates, cycles).
 * Problems are collected, never thrown, so a user sees all of them at once. Each stage is its own file:
 * sites and hosts (compile-sites.ts), contacts and activation (compile-contacts.ts), communications
 * (compile-communications.ts), workloads and components (compile-workloads.ts), runbooks and steps
 * (compile-steps.ts), schedules (compile-schedules.ts), drills (compile-scenarios.ts,
 * compile-drills.ts), required tests (compile-tests.ts), costs (compile-costs.ts), and the references
 * between them (compile-references.ts).
 */
import type { PlanProblem } from '../errors.ts';
import { REVIEW_INTERVAL_DEFAULT_MS, TIER_DEFAULTS } from './defaults.ts';
import type { Plan, TierLevel, TierPolicy } from './model.ts';
import { locate } from './source.ts';
import { compileActivation, compileContacts } from './compile-contacts.ts';
import { compileCommunications } from './compile-communications.ts';
import {
  compileContext,
  duplicates,
  optMs,
  type CompileContext,
  type LoadedFile,
} from './compile-context.ts';
import { compileCosts } from './compile-costs.ts';
import { checkReferences } from './compile-references.ts';
import { compileDrills } from './compile-scenarios.ts';
import { compileSites } from './compile-sites.ts';
import { compileWorkloadTests } from './compile-tests.ts';
import { compileWorkloads } from './compile-workloads.ts';

export type { LoadedFile } from './compile-context.ts';

interface CompileMeta {
  hash: string;
  baseDir: string;
  files: string[];
}

export function compilePlan(files: LoadedFile[], meta: CompileMeta): { plan: Plan; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  const root = files[0]!;
  const ctx = compileContext(files, meta.baseDir, problems);
  const { at, single } = ctx;
  const sites = compileSites(ctx);
  const tiers = compileTiers(ctx);
  const contacts = compileContacts(ctx);
  const activation = compileActivation(ctx);
  const executors = compileExecutors(ctx);
  const communications = compileCommunications(ctx);
  const { workloads, tests } = compileWorkloads(ctx, tiers);
  const components = workloads.flatMap((w) => w.components);
  duplicates(components, 'component', ctx.report);
  const drillsSection = single('drills');
  const drills = compileDrills(ctx, drillsSection, sites, workloads);
  compileWorkloadTests(ctx, tests, drills.scenarios, drillsSection);
  const reviewSection = single('review');
  if (reviewSection)
    ctx.refContact(reviewSection.value.by, () => at(reviewSection.file, 'review', 'by'), 'plan review');
  checkReferences(ctx, { contacts, sites, workloads, components });

  const costsSection = single('costs');
  const review = reviewSection?.value;
  const plan: Plan = {
    version: 1,
    name: single('name')?.value ?? defaultName(root.source.file),
    description: single('description')?.value,
    hash: meta.hash,
    files: meta.files,
    baseDir: meta.baseDir,
    review: {
      intervalMs: optMs(review?.interval) ?? REVIEW_INTERVAL_DEFAULT_MS,
      last: review?.last === undefined ? undefined : new Date(review.last),
      by: review?.by,
      at: reviewSection ? at(reviewSection.file, 'review') : at(root),
    },
    sites,
    tiers,
    contacts,
    activation,
    ...(executors === undefined ? {} : { executors }),
    communications,
    secrets: { env: single('secrets')?.value.env ?? [], file: single('secrets')?.value.file },
    workloads,
    drills,
    costs: costsSection && compileCosts(costsSection.value, at(costsSection.file, 'costs')),
    at: at(root),
  };
  return { plan, problems };
}

/** The tier policies: seed defaults, with what the plan's `tiers:` overrides. */
function compileTiers(ctx: CompileContext): Record<TierLevel, TierPolicy> {
  const tiers = structuredClone(TIER_DEFAULTS) as Record<TierLevel, TierPolicy>;
  const section = ctx.single('tiers');
  if (section) {
    for (const [key, override] of Object.entries(section.value)) {
      const level = Number(key) as TierLevel;
      const location = ctx.at(section.file, 'tiers', key);
      tiers[level] = {
        tier: level,
        name: override.name ?? tiers[level].name,
        slo: override.slo ?? tiers[level].slo,
        rtoMs: optMs(override.rto) ?? tiers[level].rtoMs,
        rpoMs: optMs(override.rpo) ?? tiers[level].rpoMs,
        acceptsShared: override.accepts_shared ?? tiers[level].acceptsShared,
        source: `${location.file}:${location.line}`,
      };
    }
  }
  return tiers;
}

/** Who executes manual work where; the sites it names are checked with the other references. */
function compileExecutors(ctx: CompileContext): Plan['executors'] {
  const section = ctx.single('executors');
  if (section === undefined) return undefined;
  for (const site of Object.keys(section.value.sites ?? {}))
    ctx.refs.site.push({
      id: site,
      location: () => locate(section.file.source, ['executors', 'sites', site], { key: true }),
      what: 'executors of a site',
    });
  return {
    teams: section.value.teams ?? {},
    sites: section.value.sites ?? {},
    at: ctx.at(section.file, 'executors'),
  };
}

function defaultName(file: string): string {
  const base = file.split(/[\\/]/);
  const name = base[base.length - 1] ?? 'plan';
  const parent = base[base.length - 2];
  return name.replace(/\.ya?ml$/, '') === 'plan' && parent ? parent : name.replace(/\.ya?ml$/, '');
}
