/** The plan's hosts as the execution layer reaches them. */
import { DrctlError } from '../errors.ts';
import type { Host, Plan } from '../plan/model.ts';
import { executorFor } from './executors.ts';
import type { Executor, HostTarget } from './types.ts';

export function planHosts(plan: Plan): Host[] {
  return plan.sites.flatMap((site) => site.hosts);
}

/** A plan host compiled into what the SSH client needs, its jump host resolved. */
export function hostTarget(plan: Plan, id: string, seen: readonly string[] = []): HostTarget {
  const host = planHosts(plan).find((h) => h.id === id);
  if (host === undefined)
    throw new DrctlError('DRCTL_HOST_UNKNOWN', `the plan has no host ${id}`, {
      hint: `hosts in this plan: ${
        planHosts(plan)
          .map((h) => h.id)
          .join(', ') || 'none'
      } (sites.<site>.hosts)`,
    });
  if (seen.includes(id))
    throw new DrctlError(
      'DRCTL_HOST_UNKNOWN',
      `host ${id} jumps through itself (${[...seen, id].join(' → ')})`,
      {
        location: host.at,
        hint: 'a jump host must reach the host directly or through another host',
      },
    );
  return {
    name: host.id,
    address: host.address,
    user: host.user,
    port: host.port,
    identityFile: host.identityFile,
    jump: host.jump === undefined ? undefined : hostTarget(plan, host.jump, [...seen, id]),
    knownHostsFile: host.knownHostsFile,
    passphraseEnv: host.passphraseEnv,
    connectTimeoutMs: host.connectTimeoutMs,
    stateDir: host.stateDir,
  };
}

/** Where a step or a placement runs: the named host over SSH, or this machine when none is named. */
export function executorOn(plan: Plan, host: string | undefined): Executor {
  return executorFor(host === undefined ? undefined : hostTarget(plan, host));
}
