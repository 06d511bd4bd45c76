/**
 * Supervising a site's processes: start (with readiness), stop, kill, pause, resume, scale and restart
 * policies, on this machine (the local supervisor) or on a host of the plan over the execution layer.
 * Shared by the process provider, drills, the test bed and the demo; see docs/providers/process.md.
 */
export { Supervisor, supervisorFor, closeOnExit, type SupervisorOptions } from './local.ts';
export { HostProcessGroups } from './host.ts';
export { processGroupsOn, type ProcessGroups } from './groups.ts';
export { processSpecFor, type SpecOverrides } from './placement.ts';
export {
  RESTART_POLICIES,
  groupName,
  type InstanceState,
  type InstanceStatus,
  type ProcessSpec,
  type ReadyProbe,
  type RestartPolicy,
  type StopResult,
} from './spec.ts';
