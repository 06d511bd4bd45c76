/**
 * Readiness: does the plan still hold today? Every component's provider (found by kind) reports what it
 * knows (replication lag, backup age, standby running...), and every component's probe is run at each
 * site it can be aimed at. Each observation is a fact with a limit and an ok; a broken promise is a fact
 * that is not ok. Nothing here throws for what it observes: a provider that fails or hangs becomes a
 * not-ok fact naming the component, so one broken provider never hides the others.
 */
import { pino } from 'pino';
import { loadPreflight, verificationOf, type WorkloadVerification } from '../preflight/index.ts';
import type { Logger } from 'pino';
import type { Component, Placement, Plan, Probe } from '../plan/model.ts';
import { providers as registry } from '../providers/index.ts';
import { probeOnce } from './probe.ts';
import type { RunStore } from '../store/store.ts';
import { verificationFacts } from '../verify/index.ts';
import type { ActionContext, Provider, ReadinessFact } from '../providers/provider.ts';
import type { ObservedDelay } from '../analysis/index.ts';

export interface ReadinessOptions {
  /** Where providers keep their state (pid files, backup catalogues). */
  stateDir: string;
  /** @default every provider drctl ships */
  providers?: readonly Provider[];
  /** @default a silent logger */
  log?: Logger;
  signal?: AbortSignal;
  /** Longest a provider's readiness may take before it counts as failed. @default 30000 */
  providerTimeoutMs?: number;
  /** Where restore verification results are kept; without it the plan's verifications are not reported. */
  store?: RunStore;
}

export interface ReadinessReport {
  plan: string;
  hash: string;
  checkedAt: string;
  /** False when any fact is not ok: a promise of the plan is broken. */
  ok: boolean;
  facts: ReadinessFact[];
  /** With a store: the newest preflight of the plan (docs/preflight.md), and per workload whether it needs verification. */
  preflight?: { ok: boolean; at: string; planHash: string; current: boolean; failed: number } | undefined;
  verification?: Record<string, WorkloadVerification>;
}

/** Collects every readiness fact of a plan. */
/** The delays until clients move that the facts observed (a DNS TTL served now), for the analysis. */
export function observedDelays(facts: readonly ReadinessFact[]): ObservedDelay[] {
  return facts.flatMap((fact) => (fact.clientsMove === undefined ? [] : [fact.clientsMove]));
}

export async function checkReadiness(plan: Plan, options: ReadinessOptions): Promise<ReadinessReport> {
  const providers = options.providers ?? registry;
  const log = options.log ?? pino({ level: 'silent' });
  const signal = options.signal ?? new AbortController().signal;
  const ctx: ActionContext = { signal, log, plan, stateDir: options.stateDir, evidence: () => undefined };
  const components = plan.workloads.flatMap((w) => w.components);
  const perComponent = await Promise.all(
    components.map(async (component) => {
      const provider = providers.find((p) => p.kinds.includes(component.kind));
      const fromProvider =
        provider?.readiness === undefined
          ? []
          : await providerFacts(provider, component, ctx, options.providerTimeoutMs ?? 30_000);
      const fromProbe =
        component.probe === undefined ? [] : await probeFacts(component, component.probe, signal);
      // a backup engine (restic, pgBackRest) is a provider of its own, beside the one for the kind
      const engines = [...new Set(component.backups.map((b) => b.engine ?? 'drctl'))];
      const fromEngines = await Promise.all(
        engines.map((name) => {
          const engine = providers.find((p) => p.name === name && p !== provider);
          return engine?.readiness === undefined
            ? []
            : providerFacts(engine, component, ctx, options.providerTimeoutMs ?? 30_000);
        }),
      );
      return [...fromProvider, ...fromEngines.flat(), ...fromProbe];
    }),
  );
  const facts = perComponent.flat();
  if (options.store !== undefined) facts.push(...(await verificationFacts(options.store, plan)));
  const stored = options.store === undefined ? undefined : await loadPreflight(options.store, plan);
  return {
    plan: plan.name,
    hash: plan.hash,
    checkedAt: new Date().toISOString(),
    ok: facts.every((f) => f.ok),
    facts,
    ...(stored === undefined
      ? {}
      : {
          preflight: {
            ok: stored.report.ok,
            at: stored.report.at,
            planHash: stored.report.planHash,
            current: stored.report.planHash === plan.hash,
            failed: stored.report.summary.failed + stored.report.summary['timed-out'],
          },
        }),
    ...(options.store === undefined ? {} : { verification: await verificationOf(options.store, plan) }),
  };
}

async function providerFacts(
  provider: Provider,
  component: Component,
  ctx: ActionContext,
  timeoutMs: number,
): Promise<ReadinessFact[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
    });
    return await Promise.race([provider.readiness!(component, ctx), timeout]);
  } catch (error) {
    const sites = component.placement.map((p) => p.site).join(', ') || 'no site';
    return [
      {
        component: component.id,
        site: undefined,
        name: 'provider',
        ok: false,
        value: 'error',
        message: `${provider.name} could not report on ${component.id} (sites: ${sites}): ${error instanceof Error ? error.message : String(error)}`,
      },
    ];
  } finally {
    clearTimeout(timer);
  }
}

interface ProbeTarget {
  site: string | undefined;
  placement: Placement | undefined;
  url: string | undefined;
  tcp: string | undefined;
}

/**
 * Where a component's probe can be aimed. A probe written with placeholders (`{{port}}`, `{{site}}`, any
 * placement field) or as a path (`/health`, against each placement's url) runs once per site; a fixed
 * address runs once, labelled with the site whose placement it points at, if any.
 */
export function probeTargets(component: Component, probe: Probe): ProbeTarget[] {
  const address = probe.url ?? probe.tcp;
  if (address === undefined)
    return [{ site: undefined, placement: undefined, url: undefined, tcp: undefined }];
  const make = (placement: Placement | undefined, text: string): ProbeTarget => ({
    site: placement?.site,
    placement,
    url: probe.url === undefined ? undefined : text,
    tcp: probe.tcp === undefined ? undefined : text,
  });
  if (address.includes('{{')) {
    return component.placement.map((placement) => make(placement, fill(address, placement)));
  }
  if (probe.url !== undefined && address.startsWith('/')) {
    return component.placement
      .filter((p) => p.url !== undefined)
      .map((placement) => make(placement, new URL(address, placement.url).href));
  }
  const owner = component.placement.find((p) => pointsAt(address, p));
  return [make(owner, address)];
}

function fill(text: string, placement: Placement): string {
  const ports = placement.fields.ports;
  // with a port list, the probe is aimed at the first instance
  const port = placement.fields.port ?? (Array.isArray(ports) ? ports[0] : undefined);
  const vars: Record<string, unknown> = { ...placement.fields, port, site: placement.site };
  return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => {
    const value = vars[key];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : whole;
  });
}

function pointsAt(address: string, placement: Placement): boolean {
  const ports = placement.fields.ports;
  const port = placement.fields.port ?? (Array.isArray(ports) ? ports[0] : undefined);
  const hostPort = address.replace(/^[a-z]+:\/\//, '').split('/')[0] ?? '';
  if (typeof port === 'number' && hostPort.endsWith(`:${port}`)) return true;
  if (placement.url === undefined) return false;
  try {
    return new URL(placement.url).host === hostPort;
  } catch {
    return false;
  }
}

async function probeFacts(component: Component, probe: Probe, signal: AbortSignal): Promise<ReadinessFact[]> {
  // a standby that is allowed to be down must not break readiness by being down
  const standbyMayBeDown = !['hot-standby', 'warm-standby', 'active-active'].includes(component.strategy);
  return Promise.all(
    probeTargets(component, probe).map(async (target): Promise<ReadinessFact> => {
      const observed = await probeOnce(target, probe, signal);
      const optional = standbyMayBeDown && target.placement?.standby === true;
      return {
        component: component.id,
        site: target.site,
        name: 'probe',
        ok: observed.ok || optional,
        value: observed.observed,
        limit: observed.expected,
        message:
          optional && !observed.ok
            ? `${observed.message} (a ${component.strategy} standby may be down)`
            : observed.message,
      };
    }),
  );
}

/** The report as a table for people: component, site, fact, value, limit, ok, and what was seen. */
export function formatReadiness(report: ReadinessReport): string {
  if (report.facts.length === 0)
    return `${report.plan}: no readiness facts (no component has a probe or a provider that reports)\n${formatVerification(report)}`;
  const header = ['COMPONENT', 'SITE', 'FACT', 'VALUE', 'LIMIT', 'OK', 'MESSAGE'];
  const rows = report.facts.map((f) => [
    f.component,
    f.site ?? '-',
    f.name,
    show(f.value),
    show(f.limit),
    f.ok ? 'ok' : 'BROKEN',
    f.message,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const broken = report.facts.filter((f) => !f.ok).length;
  const summary =
    broken === 0
      ? `all ${report.facts.length} facts hold`
      : `${broken} of ${report.facts.length} facts broken`;
  return `${[line(header), ...rows.map(line)].join('\n')}\n${summary}\n${formatVerification(report)}`;
}

function formatVerification(report: ReadinessReport): string {
  const lines: string[] = [];
  if (report.preflight !== undefined)
    lines.push(
      `preflight ${report.preflight.at}: ${report.preflight.ok ? 'every step can run' : `${report.preflight.failed} check(s) not passed`}${report.preflight.current ? '' : ' (an older version of the plan)'}`,
    );
  for (const [workload, verification] of Object.entries(report.verification ?? {})) {
    if (verification.state === 'verified') continue;
    const missing = [
      verification.preflightPassed ? undefined : 'preflight',
      verification.drillPassed ? undefined : 'drill',
    ]
      .filter((what) => what !== undefined)
      .join(' and ');
    lines.push(`${workload}: needs verification (no passed ${missing} of this plan version)`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function show(value: number | string | boolean | undefined): string {
  return value === undefined ? '-' : String(value);
}
