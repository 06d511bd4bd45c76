/** A probe written as a shell command: it passes when the command exits 0 within the probe's timeout. */
import { spawn } from 'node:child_process';

export interface CommandProbeResult {
  ok: boolean;
  /** Undefined when the command ran out of time (its process group is killed then). */
  exitCode: number | undefined;
  latencyMs: number;
  message: string;
}

export async function probeCommand(
  command: string,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<CommandProbeResult> {
  const started = performance.now();
  const exitCode = await runCommand(command, options.timeoutMs, options.signal);
  return {
    ok: exitCode === 0,
    exitCode,
    latencyMs: performance.now() - started,
    message:
      exitCode === undefined
        ? `${command}: no exit within ${options.timeoutMs}ms`
        : `${command}: exit ${exitCode}`,
  };
}

function runCommand(command: string, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    // its own process group, so a timeout also stops what the command started
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', detached: true });
    let timedOut = false;
    const kill = (): void => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(kill, timeoutMs);
    signal.addEventListener('abort', kill, { once: true });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      resolve(timedOut ? undefined : (code ?? 1));
    });
  });
}
