/**
 * The sites a drill brought up itself (environment.ts), as the runner drives them, and how a fault is
 * injected into them: a signal to a supervised process group or a database server, a flag on the
 * switchboard, or a rule on the fault proxy in front of the target.
 */
import { proxyFaultFromPlan } from '../chaos/index.ts';
import type { ProxyFault } from '../chaos/index.ts';
import { DrctlError } from '../errors.ts';
import type { Fault } from '../plan/model.ts';
import { groupName } from '../supervise/index.ts';
import { signalGroup } from '../system/processes.ts';
import { now } from './clock.ts';
import type { DrillEnvironment } from './environment.ts';
import type { DrillSites } from './existing.ts';
import type { AppliedFault } from './host-faults.ts';

/** The sites a drill brought up itself, as the runner drives them. */
export function ownSites(environment: DrillEnvironment): DrillSites {
  const proxyFaults = new Map<string, ProxyFault[]>();
  return {
    plan: environment.plan,
    workload: environment.workload,
    frontDoor: environment.frontDoor,
    url: environment.url,
    door: environment.door,
    snapshots: environment.snapshots,
    logsHint: `the service logs under ${environment.supervisor.dir}`,
    inject: (fault) => inject(environment, fault, proxyFaults),
    siteLost: (site) => environment.siteLost(site),
    // the environment's own faults are lifted through their lifts; closing it stops the rest
    undoFaults: async () => undefined,
    close: () => environment.close(),
  };
}

async function inject(
  environment: DrillEnvironment,
  fault: Fault,
  proxyFaults: Map<string, ProxyFault[]>,
): Promise<AppliedFault> {
  const target = `${fault.component}@${fault.site}`;
  const running = environment.placement(fault.component, fault.site);
  const describe = (what: string): string => `${fault.kind} ${target}${what}`;
  switch (fault.kind) {
    case 'kill':
    case 'stop':
    case 'pause': {
      if (running.kind === 'command') {
        const name = groupName(fault.component, fault.site);
        if (fault.kind === 'pause') {
          const paused = environment.supervisor.pause(name);
          return {
            at: now(),
            detail: describe(` (SIGSTOP to ${paused.map((i) => i.pid).join(', ')})`),
            lift: () => environment.supervisor.resume(name),
          };
        }
        const result =
          fault.kind === 'kill'
            ? await environment.supervisor.kill(name)
            : await environment.supervisor.stop(name, { graceMs: 5_000 });
        return {
          at: now(),
          detail: describe(
            ` (${fault.kind === 'kill' ? 'SIGKILL' : 'SIGTERM'} to ${result.pids.join(', ') || 'nothing running'})`,
          ),
        };
      }
      const node = environment.clusters.get(fault.component)?.node(fault.site);
      if (node === undefined)
        throw new DrctlError('DRCTL_DRILL_UNKNOWN_TARGET', `${target} has no database server in this drill`, {
          location: fault.at,
        });
      if (fault.kind === 'pause') {
        const pid = node.pid;
        if (pid === undefined) return { at: now(), detail: describe(' (not running)') };
        signalGroup(pid, 'SIGSTOP');
        return {
          at: now(),
          detail: describe(` (SIGSTOP to process group ${pid})`),
          // the failover's fence may have killed the frozen server meanwhile: nothing left to resume
          lift: () => signalGroup(pid, 'SIGCONT'),
        };
      }
      const pid = node.pid;
      if (fault.kind === 'kill') await node.kill();
      else await node.stop();
      return { at: now(), detail: describe(` (postmaster ${pid ?? '?'})`) };
    }
    case 'switchboard': {
      const flag = fault.flag ?? 'orders.fail';
      environment.switchboard.set(flag, true);
      return {
        at: now(),
        detail: `switchboard ${flag} on (${target})`,
        lift: () => environment.switchboard.unset(flag),
      };
    }
    default: {
      const proxy = running.proxy;
      const proxyFault = proxyFaultFromPlan(fault);
      if (proxy === undefined || proxyFault === undefined)
        throw new DrctlError('DRCTL_DRILL_FAULT_UNSUPPORTED', `no fault proxy in front of ${target}`, {
          location: fault.at,
        });
      const active = [...(proxyFaults.get(target) ?? []), proxyFault];
      proxyFaults.set(target, active);
      const change = proxy.set(active);
      return {
        at: change.at,
        detail: describe(fault.latencyMs === undefined ? '' : ` ${fault.latencyMs} ms`),
        lift: () => {
          const rest = (proxyFaults.get(target) ?? []).filter((f) => f !== proxyFault);
          proxyFaults.set(target, rest);
          proxy.set(rest);
        },
      };
    }
  }
}
