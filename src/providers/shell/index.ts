/**
 * The shell provider: runs a command with `/bin/sh -c` in the plan's directory, or on a host of the plan
 * (`host:`) over SSH, through the execution layer (src/exec/). Plans write it as a step's
 * `run:` (or a check's `run:`); the engine reaches it through the provider registry like any other.
 * Output kept as evidence is capped (head and tail), and a cancelled or timed-out command is stopped
 * with its whole process group; the group also ends when the drctl process running it dies
 * (src/system/guarded-spawn.ts).
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { CommandMissingError, executorOn, HostError, missingCommand, runOnce } from '../../exec/index.ts';
import type { OnceResult } from '../../exec/index.ts';
import { programInstalledOn } from '../../system/probes.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, PreflightCheck, Provider } from '../provider.ts';

/** Bytes of stdout and of stderr kept as evidence: the first half and the last half of this. */
export const OUTPUT_LIMIT_BYTES = 16 * 1024;

const CommandParams = z.strictObject({
  command: z.string().min(1).describe('Shell command, run with /bin/sh -c.'),
  host: z
    .string()
    .optional()
    .describe('A host of the plan to run it on over SSH (docs/hosts.md). @default this machine'),
  cwd: z
    .string()
    .optional()
    .describe(
      'Working directory, relative to the plan here; absolute on a host. @default the plan directory here, the login directory on a host',
    ),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
  if_unreachable: z
    .enum(['fail', 'skip'])
    .default('fail')
    .describe(
      'With a host: what to do when it cannot be reached (DRCTL_HOST_UNREACHABLE). skip records the step as done with nothing run, for a best-effort fence of a lost site. @default fail',
    ),
});
type CommandParams = z.output<typeof CommandParams>;

/**
 * Runs the command where the step says. An action of a run on a host runs at most once to success per run
 * and step (a marker on the host, `runOnce`): a resumed run does not repeat what completed there.
 */
async function runCommand(
  params: CommandParams,
  ctx: ActionContext,
  once: 'once' | 'always' = 'always',
): Promise<OnceResult> {
  if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
  const executor = executorOn(ctx.plan, params.host);
  const cwd =
    params.host !== undefined
      ? params.cwd
      : params.cwd === undefined
        ? ctx.plan.baseDir
        : isAbsolute(params.cwd)
          ? params.cwd
          : resolve(ctx.plan.baseDir, params.cwd);
  const options = {
    ...(cwd === undefined ? {} : { cwd }),
    ...(params.env === undefined ? {} : { env: params.env }),
    signal: ctx.signal,
    outputLimit: OUTPUT_LIMIT_BYTES,
    ...(ctx.processStarted === undefined ? {} : { onStart: ctx.processStarted }),
  };
  try {
    if (once === 'once' && params.host !== undefined && ctx.runId !== undefined && ctx.stepId !== undefined)
      return await runOnce(executor, { run: ctx.runId, step: ctx.stepId }, params.command, options);
    return await executor.run(params.command, options);
  } catch (error) {
    if (error instanceof DrctlError) throw error;
    throw new DrctlError(
      'DRCTL_SHELL_SPAWN',
      `cannot start /bin/sh for "${params.command}" in ${cwd}: ${(error as Error).message}`,
      { hint: 'check that the working directory exists', cause: error },
    );
  }
}

/** The program a command line starts with is installed where the step runs (its version, when it says one). */
const toolPresent: PreflightCheck = {
  name: 'program installed',
  kind: 'tool',
  run: (params, ctx) => {
    const { command, host } = params as CommandParams;
    return programInstalledOn(executorOn(ctx.plan, host), command, ctx.signal);
  },
};

export const shell = {
  name: 'shell',
  description: 'Runs shell commands on this machine or on a host of the plan over SSH.',
  kinds: [],
  actions: {
    run: defineAction({
      description: 'Run a shell command; it succeeds when the command exits 0.',
      params: CommandParams,
      idempotent: false,
      // on a host, a marker there tells a completed attempt from an interrupted one
      resumable: (params) => params.host !== undefined,
      evidence: ['exitCode', 'stdout', 'stderr', 'unreachable', 'alreadyDone'],
      async run(params, ctx) {
        let outcome: OnceResult;
        try {
          outcome = await runCommand(params, ctx, 'once');
        } catch (error) {
          if (
            params.if_unreachable !== 'skip' ||
            !(error instanceof HostError) ||
            error.code !== 'DRCTL_HOST_UNREACHABLE'
          )
            throw error;
          ctx.evidence('unreachable', error.message);
          return { summary: `skipped: ${error.message}`, output: { skipped: true } };
        }
        if (outcome.alreadyDoneAt !== undefined) {
          ctx.evidence('alreadyDone', outcome.alreadyDoneAt);
          return {
            summary: `not run again: it completed on ${params.host} at ${outcome.alreadyDoneAt} (marker on the host)`,
            output: { exitCode: 0, alreadyDone: outcome.alreadyDoneAt },
          };
        }
        ctx.evidence('exitCode', outcome.exitCode);
        if (outcome.stdout !== '') ctx.evidence('stdout', outcome.stdout);
        if (outcome.stderr !== '') ctx.evidence('stderr', outcome.stderr);
        if (ctx.signal.aborted)
          throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
        if (outcome.exitCode !== 0) {
          const missing = missingCommand(outcome);
          if (missing !== undefined)
            throw new CommandMissingError(missing, executorOn(ctx.plan, params.host).where);
          const how = outcome.signal
            ? `was killed by ${outcome.signal}`
            : `exited with code ${outcome.exitCode}`;
          const lastLine = outcome.stderr.trim().split('\n').at(-1);
          throw new DrctlError(
            'DRCTL_SHELL_FAILED',
            `command "${params.command}" ${how}${lastLine ? `: ${lastLine}` : ''}`,
            {
              hint: 'see the step evidence (stdout, stderr) with `drctl status RUN --json`',
              details: { exitCode: outcome.exitCode, signal: outcome.signal },
            },
          );
        }
        return { summary: `exited 0 in ${Math.round(outcome.durationMs)}ms`, output: { exitCode: 0 } };
      },
    }),
  },
  checks: {
    run: defineCheck({
      description: 'Passes when a shell command exits 0.',
      params: CommandParams,
      async run(params, ctx) {
        const outcome = await runCommand(params, ctx);
        const ok = outcome.exitCode === 0;
        const output = (ok ? outcome.stdout : outcome.stderr || outcome.stdout).trim();
        return {
          ok,
          message: ok
            ? `"${params.command}" exited 0`
            : `"${params.command}" exited with code ${outcome.exitCode ?? outcome.signal}`,
          observed: { exitCode: outcome.exitCode, output: output.slice(0, 2_000) },
        };
      },
    }),
  },
  preflight: { run: [toolPresent] },
} satisfies Provider;
