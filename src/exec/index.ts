/**
 * The execution layer: where commands run, on this machine or on a host of the plan over SSH. Providers
 * never spawn processes themselves; they say what to run here. See executors.ts.
 */
export type { Executor, HostTarget, RunOptions, RunResult, StreamHandle, StreamOptions } from './types.ts';
export { CommandMissingError, HostError, missingCommand } from './errors.ts';
export type { HostErrorCode } from './errors.ts';
export { shellJoin, shellQuote } from './quote.ts';
export { LocalExecutor, KILL_GRACE_MS, type LaunchOptions, type Launched } from './local.ts';
export { SshExecutor } from './ssh.ts';
export { CappedOutput } from './output.ts';
export { executorOn, hostTarget, planHosts } from './plan-hosts.ts';
export {
  closeExecutors,
  copy,
  emptyDirectory,
  executorFor,
  hostStatePath,
  localExecutor,
  runChecked,
  runOnce,
  type Location,
  type OnceResult,
} from './executors.ts';
