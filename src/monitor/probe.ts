/**
 * One probe of one target, as the plan writes it: an HTTP URL, a TCP address, or a shell command that
 * passes when it exits 0 within the probe's timeout. Readiness and the site-loss monitor both probe
 * through here. Never throws for what it observes.
 */
import { spawn } from 'node:child_process';
import type { Probe } from '../plan/model.ts';
import { probeHttp, probeTcp } from '../probe/index.ts';

export interface ProbeOutcome {
  ok: boolean;
  latencyMs: number;
  message: string;
  /** What was seen (HTTP status, open/closed, exit code) and what the probe expects, for tables. */
  observed: string | number;
  expected: string | number;
}

export async function probeOnce(
  target: { url?: string | undefined; tcp?: string | undefined },
  probe: Probe,
  signal: AbortSignal,
): Promise<ProbeOutcome> {
  if (target.url !== undefined) {
    const result = await probeHttp({
      url: target.url,
      status: probe.expectStatus,
      timeoutMs: probe.timeoutMs,
      signal,
    });
    return { ...pick(result), observed: result.status ?? 'no answer', expected: probe.expectStatus };
  }
  if (target.tcp !== undefined) {
    const result = await probeTcp(target.tcp, { timeoutMs: probe.timeoutMs, signal });
    return { ...pick(result), observed: result.ok ? 'open' : 'closed', expected: 'open' };
  }
  const result = await probeCommand(probe.run ?? 'false', { timeoutMs: probe.timeoutMs, signal });
  return { ...pick(result), observed: result.exitCode ?? 'timeout', expected: 0 };
}

function pick(result: {
  ok: boolean;
  latencyMs: number;
  message: string;
}): Pick<ProbeOutcome, 'ok' | 'latencyMs' | 'message'> {
  return { ok: result.ok, latencyMs: result.latencyMs, message: result.message };
}

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
