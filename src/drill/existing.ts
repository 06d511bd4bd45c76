/**
 * A drill on the environment a team already runs (`environment: existing`): nothing is brought up. The
 * canary writes through the plan's own front door (`front_door.listen`, `front_door.canary.write`), faults
 * act on the plan's hosts through the fault ledger (host-faults.ts), and before anything is touched a
 * preflight refuses, with every reason, a drill that should not start: a host out of reach, a standby or
 * replication not as the plan promises, an open incident, a blackout window, a production site without an
 * approver.
 */
import { Cron } from 'croner';
import { DrctlError } from '../errors.ts';
import { closeExecutors, executorOn } from '../exec/index.ts';
import { checkReadiness } from '../monitor/readiness.ts';
import { faultHost } from '../plan/compile-drills.ts';
import type { Fault, FrontDoor, Plan, Scenario, Workload } from '../plan/model.ts';
import type { RunStore } from '../store/index.ts';
import { IncidentBook } from '../status/incidents.ts';
import { DRILL_ACTOR } from './failback.ts';
import { FaultLedger, cleanupFaults, existingFaultUnsupported } from './host-faults.ts';
import type { AppliedFault } from './host-faults.ts';

/** Readiness facts that say the workload could not survive a drill now. */
const BLOCKING_FACTS: ReadonlySet<string> = new Set(['reachable', 'replication-lag', 'probe', 'provider']);

/** Sites as the runner drives them, whoever brought them up. */
export interface DrillSites {
  readonly plan: Plan;
  readonly workload: Workload;
  readonly frontDoor: FrontDoor;
  readonly url: string;
  readonly door: {
    activeSite(): Promise<string | undefined>;
    evidence(since: number): Promise<{ name: string; value: unknown }[]>;
  };
  readonly snapshots: readonly { ok: boolean; at: number }[];
  /** Where to look when writes do not succeed. */
  readonly logsHint: string;
  inject(fault: Fault, signal?: AbortSignal): Promise<AppliedFault>;
  siteLost(site: string): void;
  /** Undo every fault still in force, at once. */
  undoFaults(): Promise<void>;
  close(): Promise<void>;
}

export class ExistingSites implements DrillSites {
  readonly plan: Plan;
  readonly workload: Workload;
  readonly frontDoor: FrontDoor;
  readonly url: string;
  readonly snapshots = [];
  readonly logsHint: string;
  readonly door = {
    activeSite: async (): Promise<string | undefined> => undefined,
    evidence: async (): Promise<{ name: string; value: unknown }[]> => [],
  };
  readonly #ledger: FaultLedger;
  readonly #deadline: number;

  constructor(options: {
    plan: Plan;
    workload: Workload;
    scenario: Scenario;
    stateDir: string;
    drill: string;
  }) {
    this.plan = options.plan;
    this.workload = options.workload;
    this.frontDoor = frontDoorOf(options.workload);
    this.url = `http://${this.frontDoor.host}:${this.frontDoor.port}`;
    this.logsHint = `the front door ${this.url} and the services of ${options.workload.id}`;
    this.#ledger = new FaultLedger({ plan: options.plan, stateDir: options.stateDir, drill: options.drill });
    this.#deadline = Date.now() + options.scenario.maxDurationMs;
  }

  /** A fault expires on its host after its duration, and never later than the drill's maximum. */
  inject(fault: Fault, signal?: AbortSignal): Promise<AppliedFault> {
    const left = Math.max(1_000, this.#deadline - Date.now());
    return this.#ledger.apply(fault, Math.min(fault.durationMs ?? left, left), signal);
  }

  siteLost(): void {}

  undoFaults(): Promise<void> {
    return this.#ledger.undoAll();
  }

  async close(): Promise<void> {
    try {
      await this.#ledger.undoAll();
    } finally {
      await closeExecutors();
    }
  }
}

function frontDoorOf(workload: Workload): FrontDoor {
  if (workload.frontDoor === undefined)
    throw new DrctlError(
      'DRCTL_DRILL_NO_FRONT_DOOR',
      `workload ${workload.id} has no front_door: a drill on an existing environment writes through it`,
      {
        hint: 'add front_door: { listen: <host:port of your front door>, component: <the service>, canary: { write: /drill-orders } }',
        location: workload.at,
      },
    );
  return workload.frontDoor;
}

/** Faults an existing environment cannot take are plan errors, positioned on the fault. */
export function checkExistingFaults(plan: Plan, scenario: Scenario): void {
  for (const fault of scenario.faults) {
    const why = existingFaultUnsupported(plan, fault);
    if (why !== undefined)
      throw new DrctlError(
        'DRCTL_DRILL_FAULT_UNSUPPORTED',
        `a drill cannot inject ${fault.kind} into ${fault.component}@${fault.site} of an existing environment: ${why}`,
        {
          hint: 'on an existing environment: kill, stop and pause a process; blackhole, latency and bandwidth on a host; switchboard',
          location: fault.at,
        },
      );
  }
}

export interface PreflightInput {
  plan: Plan;
  scenario: Scenario;
  workload: Workload;
  stateDir: string;
  store: RunStore;
  /** The contact approving a drill on a production site. */
  approvedBy: string | undefined;
  at?: Date;
  say(line: string): void;
}

/**
 * Everything that must hold before a drill touches an existing environment; throws
 * DRCTL_DRILL_PREFLIGHT_FAILED with every reason when something does not. Leftover faults of a drill whose
 * drctl died are removed first.
 */
export async function preflightExisting(input: PreflightInput): Promise<string[]> {
  const { plan, scenario, workload } = input;
  const at = input.at ?? new Date();
  const leftovers = await cleanupFaults(plan, input.stateDir);
  for (const record of leftovers.removed)
    input.say(`removed a leftover fault: ${record.kind} ${record.target} of drill ${record.drill}`);
  const reasons: string[] = leftovers.failed.map(
    ({ record, error }) =>
      `a leftover fault (${record.kind} ${record.target}) could not be removed: ${error}`,
  );
  const checked: string[] = [];

  const production = scenario.faults
    .map((f) => plan.sites.find((s) => s.id === f.site))
    .filter((site) => site?.production === true);
  if (production.length > 0) {
    const approvers = plan.activation?.approvers ?? [];
    if (
      input.approvedBy === undefined ||
      input.approvedBy === DRILL_ACTOR ||
      !approvers.includes(input.approvedBy)
    )
      throw new DrctlError(
        'DRCTL_DRILL_APPROVAL_REQUIRED',
        `scenario ${scenario.id} acts on production site ${production[0]!.id}: it needs an approver`,
        {
          hint: `give --approved-by with one of the plan's approvers (${approvers.join(', ') || 'none: add activation.approvers'})`,
          location: scenario.at,
        },
      );
    checked.push(`production approved by ${input.approvedBy}`);
  }

  for (const window of plan.drills.blackouts) {
    const inside =
      window.cron === undefined
        ? window.from !== undefined && window.to !== undefined && window.from <= at && at < window.to
        : (new Cron(window.cron, { paused: true, timezone: window.timezone })
            .nextRun(new Date(at.getTime() - (window.durationMs ?? 0)))
            ?.getTime() ?? Infinity) <= at.getTime();
    if (inside)
      reasons.push(
        `inside a blackout window${window.reason === undefined ? '' : ` (${window.reason})`} at ${window.at.file}:${window.at.line}`,
      );
  }

  const open = (await new IncidentBook(input.store).list()).filter(
    (incident) => incident.kind === 'incident' && incident.state !== 'resolved',
  );
  for (const incident of open) reasons.push(`incident ${incident.id} is open: ${incident.title}`);

  const hosts = [
    ...new Set([
      ...(scenario.blastRadius?.hosts ?? []),
      ...scenario.faults.map((f) => faultHost(plan.workloads, f.component, f.site)),
      ...workload.components.flatMap((c) => c.placement.map((p) => p.fields.host)),
    ]),
  ].filter((host): host is string => typeof host === 'string');
  await Promise.all(
    hosts.map(async (host) => {
      try {
        await executorOn(plan, host).connect();
      } catch (error) {
        reasons.push(
          `host ${host} is not reachable: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }),
  );
  if (hosts.length > 0) checked.push(`${hosts.length} hosts reachable`);

  // the workload as readiness sees it: the standby answering, replication within its RPO
  const readiness = await checkReadiness(
    { ...plan, workloads: [workload] },
    { stateDir: input.stateDir, providerTimeoutMs: 10_000 },
  );
  const blocking = readiness.facts.filter((f) => !f.ok && BLOCKING_FACTS.has(f.name));
  for (const fact of blocking)
    reasons.push(
      `${fact.component}${fact.site === undefined ? '' : `@${fact.site}`} ${fact.name}: ${fact.message}`,
    );
  checked.push(`${readiness.facts.filter((f) => BLOCKING_FACTS.has(f.name)).length} readiness facts`);

  if (reasons.length > 0)
    throw new DrctlError(
      'DRCTL_DRILL_PREFLIGHT_FAILED',
      `the drill of scenario ${scenario.id} was not started:\n${reasons.map((r) => `  - ${r}`).join('\n')}`,
      {
        hint: 'nothing was touched; fix what is listed, or wait for the window to end, then start it again',
        details: { reasons },
      },
    );
  return checked;
}
