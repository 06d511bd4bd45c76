/**
 * The shell provider: runs a command with `/bin/sh -c` in the plan's directory. Plans write it as a step's
 * `run:` (or a check's `run:`); the engine reaches it through the provider registry like any other.
 * Output kept as evidence is capped (head and tail), and a cancelled or timed-out command is stopped
 * with its whole process group; the group also ends when the drctl process running it dies
 * (src/system/guarded-spawn.ts).
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { spawnGuarded } from '../../system/guarded-spawn.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, Provider } from '../provider.ts';

/** Bytes of stdout and of stderr kept as evidence: the first half and the last half of this. */
export const OUTPUT_LIMIT_BYTES = 16 * 1024;
/** How long a stopped command gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2_000;

const CommandParams = z.strictObject({
  command: z.string().min(1).describe('Shell command, run with /bin/sh -c.'),
  cwd: z.string().optional().describe('Working directory, relative to the plan. @default the plan directory'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
});
type CommandParams = z.output<typeof CommandParams>;

/** Keeps the head and the tail of a stream, dropping the middle once the limit is reached. */
class CappedOutput {
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer = Buffer.alloc(0);
  #total = 0;
  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const half = this.limit / 2;
    if (this.#headBytes < half) {
      const take = chunk.subarray(0, half - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length > 0) {
      const joined = Buffer.concat([this.#tail, chunk]);
      this.#tail = joined.subarray(Math.max(0, joined.length - half));
    }
  }

  text(): string {
    const head = Buffer.concat(this.#head).toString('utf8');
    const kept = this.#headBytes + this.#tail.length;
    if (kept >= this.#total) return head + this.#tail.toString('utf8');
    return `${head}\n… [${this.#total - kept} bytes cut] …\n${this.#tail.toString('utf8')}`;
  }
}

interface CommandOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

function runCommand(params: CommandParams, ctx: ActionContext): Promise<CommandOutcome> {
  const cwd =
    params.cwd === undefined
      ? ctx.plan.baseDir
      : isAbsolute(params.cwd)
        ? params.cwd
        : resolve(ctx.plan.baseDir, params.cwd);
  return new Promise((resolvePromise, reject) => {
    if (ctx.signal.aborted) {
      reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted'));
      return;
    }
    const started = performance.now();
    // its own process group, guarded: stopping it stops what it started, and it dies with this process
    const { child, process: stepProcess } = spawnGuarded('/bin/sh', ['-c', params.command], {
      cwd,
      env: { ...process.env, ...params.env },
    });
    if (stepProcess !== undefined) ctx.processStarted?.(stepProcess);
    const stdout = new CappedOutput(OUTPUT_LIMIT_BYTES);
    const stderr = new CappedOutput(OUTPUT_LIMIT_BYTES);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      killTimer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, KILL_GRACE_MS);
      killTimer.unref();
    };
    ctx.signal.addEventListener('abort', stop, { once: true });
    child.on('error', (error) => {
      ctx.signal.removeEventListener('abort', stop);
      reject(
        new DrctlError(
          'DRCTL_SHELL_SPAWN',
          `cannot start /bin/sh for "${params.command}" in ${cwd}: ${error.message}`,
          {
            hint: 'check that the working directory exists',
            cause: error,
          },
        ),
      );
    });
    child.on('close', (exitCode, signal) => {
      ctx.signal.removeEventListener('abort', stop);
      if (killTimer) clearTimeout(killTimer);
      resolvePromise({
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - started,
      });
    });
  });
}

export const shell = {
  name: 'shell',
  description: 'Runs shell commands on this machine.',
  kinds: [],
  actions: {
    run: defineAction({
      description: 'Run a shell command; it succeeds when the command exits 0.',
      params: CommandParams,
      idempotent: false,
      evidence: ['exitCode', 'stdout', 'stderr'],
      async run(params, ctx) {
        const outcome = await runCommand(params, ctx);
        ctx.evidence('exitCode', outcome.exitCode);
        if (outcome.stdout !== '') ctx.evidence('stdout', outcome.stdout);
        if (outcome.stderr !== '') ctx.evidence('stderr', outcome.stderr);
        if (ctx.signal.aborted)
          throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
        if (outcome.exitCode !== 0) {
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
} satisfies Provider;
