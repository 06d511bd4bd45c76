/**
 * The copy an isolated drill recovers into: the data components of the recovery site copied by their
 * providers into a scratch directory, every address of the recovery site moved to free ports (an address
 * of production left in the copy's settings points nowhere), and the runbook's steps that would reach
 * outside the copy left out, each with why.
 */
import { mkdirSync } from 'node:fs';
import { DrctlError } from '../errors.ts';
import type { Check, Component, Placement, Plan, Runbook, Step, Workload } from '../plan/model.ts';
import { providerForKind } from '../providers/index.ts';
import { freePort } from '../system/ports.ts';
import { envOf, numberOf, portOf, rewriteInPlace } from './bring-up.ts';
import type { IsolatedDrillReport, IsolatedRun } from './isolated.ts';

const LOCAL_ADDRESS = /\b(?:127\.0\.0\.1|localhost):(\d{1,5})\b/g;

/** The plan the runbook runs on: the recovery site's placements pointing at the copies. */
export interface TheCopy {
  plan: Plan;
  workload: Workload;
  runbook: Runbook;
  /** Production addresses found in the copy's settings and pointed nowhere: `component@site NAME=address`. */
  cut: string[];
}

/** Copies each planned data component, then moves every address of the recovery site into the copy. */
export async function makeCopies(
  run: IsolatedRun,
  planned: readonly { component: Component; from: string }[],
): Promise<TheCopy> {
  const { options, site, scratch, scratchPorts } = run;
  mkdirSync(scratch, { recursive: true });
  const plan = structuredClone(options.plan);
  const workload = plan.workloads.find((w) => w.id === run.workload.id) as Workload;
  const strings = new Map<string, string>();
  for (const { component } of planned) {
    const isolation = providerForKind(component.kind)?.isolation;
    if (isolation === undefined) continue;
    run.say(`copying ${component.id}@${site}…`);
    const copy = await isolation.copy(component, {
      site,
      dir: scratch,
      ctx: run.ctxFor(options.plan, scratch),
    });
    run.copies.push({ ...copy, component: component.id });
    run.say(
      `  ${component.id}: ${copy.from}${copy.dataAsOf === undefined ? '' : `, data as of ${copy.dataAsOf}`}`,
    );
    const placement = placementOf(workload, component.id, site);
    for (const [name, value] of Object.entries(copy.fields)) {
      const old =
        placement.fields[name] ??
        (name === 'url' ? placement.url : name === 'path' ? placement.path : undefined);
      if (typeof old === 'string' && typeof value === 'string')
        addReplacement(strings, old, value, scratchPorts);
      placement.fields[name] = value;
      if (name === 'url' && typeof value === 'string') placement.url = value;
      if (name === 'path' && typeof value === 'string') placement.path = value;
    }
  }
  const ports = await freePortsFor(run, workload);
  for (const [from, to] of ports) {
    strings.set(`127.0.0.1:${from}`, `127.0.0.1:${to}`);
    strings.set(`localhost:${from}`, `127.0.0.1:${to}`);
    scratchPorts.add(to);
  }
  const rewrite = rewriter(strings, ports);
  for (const component of workload.components)
    for (const placement of component.placement.filter((p) => p.site === site)) rewrite(placement);
  const cut = await cutFromProduction(run, workload);
  const runbook = workload.runbooks.find((r) => r.name === run.runbook.name) as Runbook;
  rewrite(runbook);
  return { plan, workload, runbook, cut };
}

/** A free port for each placement at the recovery site that is not a copy, keyed by the port it had. */
async function freePortsFor(run: IsolatedRun, workload: Workload): Promise<Map<number, number>> {
  const ports = new Map<number, number>();
  for (const component of workload.components) {
    if (run.copies.some((c) => c.component === component.id)) continue;
    const placement = component.placement.find((p) => p.site === run.site);
    if (placement === undefined) continue;
    // one port per placement: a proxy in front of production's service (its port and the PORT behind it)
    // has no counterpart in the copy, so both become the port the copy's service listens on
    const own = [numberOf(placement.fields.port), numberOf(envOf(placement).PORT), portOf(placement.url)];
    let port: number | undefined;
    for (const planned of own)
      if (planned !== undefined && !ports.has(planned)) ports.set(planned, (port ??= await freePort()));
  }
  return ports;
}

/** The copy's services reach nothing of production: an address left in their settings goes nowhere. */
async function cutFromProduction(run: IsolatedRun, workload: Workload): Promise<string[]> {
  const nowhere = await freePort();
  const cut: string[] = [];
  for (const component of workload.components)
    for (const placement of component.placement.filter((p) => p.site === run.site)) {
      const env = envOf(placement);
      for (const [name, value] of Object.entries(env)) {
        if (typeof value !== 'string') continue;
        env[name] = value.replace(LOCAL_ADDRESS, (whole, port: string) => {
          if (run.scratchPorts.has(Number(port))) return whole;
          cut.push(`${component.id}@${run.site} ${name}=${whole}`);
          return `127.0.0.1:${nowhere}`;
        });
      }
    }
  return cut;
}

/**
 * Which steps run on the copy: those chosen (--steps) that name nothing outside it; a check of a step that
 * would reach outside is dropped from the step. Says each left out, and each address cut.
 */
export function stepsOnCopy(
  run: IsolatedRun,
  copy: TheCopy,
  chosen: ReadonlyMap<string, string>,
): { skip: Map<string, string>; skipped: IsolatedDrillReport['skipped'] } {
  const { site, scratchPorts } = run;
  const skipped: IsolatedDrillReport['skipped'] = [];
  const skip = new Map(chosen);
  const otherSites = run.options.plan.sites.map((s) => s.id).filter((s) => s !== site);
  for (const step of copy.runbook.steps) {
    if (skip.has(step.id)) {
      skipped.push({ step: step.id, reason: skip.get(step.id) as string });
      continue;
    }
    const reason = outsideCopy(step, site, otherSites, scratchPorts);
    if (reason !== undefined) {
      skip.set(step.id, reason);
      skipped.push({ step: step.id, reason });
      continue;
    }
    step.validate = step.validate.filter((check) => {
      const why = checkOutsideCopy(check, site, otherSites, scratchPorts);
      if (why !== undefined) skipped.push({ step: step.id, check: check.name, reason: why });
      return why === undefined;
    });
  }
  for (const entry of skipped)
    run.say(
      `  skip ${entry.step}${entry.check === undefined ? '' : ` (check ${entry.check})`}: ${entry.reason}`,
    );
  for (const line of copy.cut) run.say(`  cut from production: ${line}`);
  return { skip, skipped };
}

export function placementOf(workload: Workload, component: string, site: string): Placement {
  const placement = workload.components
    .find((c) => c.id === component)
    ?.placement.find((p) => p.site === site);
  if (placement === undefined)
    throw new DrctlError('DRCTL_DRILL_UNKNOWN_TARGET', `${component} has no placement at site ${site}`);
  return placement;
}

/** A changed value, and the address inside it when it is a URL, become replacements everywhere. */
function addReplacement(strings: Map<string, string>, old: string, value: string, ports: Set<number>): void {
  strings.set(old, value);
  const from = /\/\/(?:[^@/]*@)?((?:127\.0\.0\.1|localhost):\d{1,5})/.exec(old)?.[1];
  const to = /\/\/(?:[^@/]*@)?(127\.0\.0\.1:(\d{1,5}))/.exec(value);
  if (from !== undefined && to?.[1] !== undefined) {
    strings.set(from, to[1]);
    ports.add(Number(to[2]));
  }
}

/** Rewrites strings (whole values first, then addresses inside) and numeric port fields, in place. */
function rewriter(strings: ReadonlyMap<string, string>, ports: ReadonlyMap<number, number>) {
  const addresses = [...strings].filter(([from]) => /^(?:127\.0\.0\.1|localhost):\d+$/.test(from));
  const text = (value: string): string =>
    strings.get(value) ??
    addresses.reduce(
      (out, [from, to]) => out.replace(new RegExp(`${from.replace(/\./g, '\\.')}(?!\\d)`, 'g'), to),
      value,
    );
  return (target: object): void => rewriteInPlace(target, text, ports);
}

/** Why a step would reach outside the copy, or undefined when everything it names is the copy. */
function outsideCopy(
  step: Step,
  site: string,
  otherSites: readonly string[],
  ports: ReadonlySet<number>,
): string | undefined {
  if (step.kind === 'approval' || step.kind === 'manual')
    return `a ${step.kind} step: people are not asked during an isolated drill`;
  if (step.kind === 'wait') {
    if (step.wait?.until === undefined) return undefined;
    return checkOutsideCopy(step.wait.until, site, otherSites, ports);
  }
  const params = step.call?.params ?? {};
  const named = namedSites(params, otherSites);
  if (named !== undefined) return `names site ${named}, outside the copy`;
  const address = foreignAddress(params, ports);
  if (address !== undefined) return `reaches ${address}, which is not part of the copy`;
  // a step naming neither the recovery site nor an address of the copy could act anywhere (a shell command)
  if (params.site !== site && !mentionsPort(params, ports))
    return `names no part of the copy (site ${site}), so it could act on production`;
  return undefined;
}

function checkOutsideCopy(
  check: Check,
  site: string,
  otherSites: readonly string[],
  ports: ReadonlySet<number>,
): string | undefined {
  const target = { ...(check.call?.params ?? {}), ...(check.http === undefined ? {} : { http: check.http }) };
  if (check.site !== undefined && check.site !== site) return `checks site ${check.site}, outside the copy`;
  const named = namedSites(target, otherSites);
  if (named !== undefined) return `checks site ${named}, outside the copy`;
  const address = foreignAddress(target, ports);
  if (address !== undefined) return `reaches ${address}, which is not part of the copy`;
  if (check.run !== undefined) return 'a shell check could act on production';
  if (check.sql !== undefined && check.site === undefined)
    return 'a query without a site could read production';
  return undefined;
}

const SITE_KEYS = new Set(['site', 'from', 'to', 'sites', 'target_site']);

function namedSites(value: unknown, otherSites: readonly string[], key?: string): string | undefined {
  if (typeof value === 'string')
    return key !== undefined && SITE_KEYS.has(key) && otherSites.includes(value) ? value : undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = namedSites(item, otherSites, key);
      if (found !== undefined) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [name, inner] of Object.entries(value)) {
      const found = namedSites(inner, otherSites, name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function foreignAddress(value: unknown, ports: ReadonlySet<number>): string | undefined {
  for (const match of JSON.stringify(value).matchAll(LOCAL_ADDRESS))
    if (!ports.has(Number(match[1]))) return match[0];
  return undefined;
}

function mentionsPort(value: unknown, ports: ReadonlySet<number>): boolean {
  return [...JSON.stringify(value).matchAll(LOCAL_ADDRESS)].some((match) => ports.has(Number(match[1])));
}
