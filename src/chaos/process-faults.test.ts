import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DrctlError } from '../errors.ts';
import { until } from '../router/test-support.ts';
import { killProcess, pauseProcess, processExists, resumeProcess } from './index.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid as number, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** A child that prints a line every 20 ms; with `grandchild`, it starts a second process in its group. */
function ticker(options: { detached?: boolean; grandchild?: boolean } = {}): {
  child: ChildProcess;
  lines: () => number;
  grandchildPid: () => number | undefined;
} {
  const script = options.grandchild
    ? `const { spawn } = require('node:child_process');
       const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
       process.stdout.write('grandchild ' + g.pid + '\\n');
       setInterval(() => process.stdout.write('tick\\n'), 20);`
    : `setInterval(() => process.stdout.write('tick\\n'), 20);`;
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: options.detached ?? false,
  });
  children.push(child);
  let lines = 0;
  let grandchild: number | undefined;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    lines += text.split('\n').filter((line) => line === 'tick').length;
    const match = /grandchild (\d+)/.exec(text);
    if (match) grandchild = Number(match[1]);
  });
  return { child, lines: () => lines, grandchildPid: () => grandchild };
}

function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] as string;
}

describe('process faults', () => {
  it('pauses a process with SIGSTOP and lets it run again with SIGCONT', async () => {
    const { child, lines } = ticker();
    const pid = child.pid as number;
    await until(() => lines() > 0, 'the first tick');

    const paused = pauseProcess({ pid });
    expect(paused).toMatchObject({ pid, signal: 'SIGSTOP', group: false });
    await until(() => state(pid) === 'T', 'the process to be stopped');

    resumeProcess({ pid });
    const before = lines();
    await until(() => lines() > before + 1, 'ticks after SIGCONT');
  });

  it('kills a process with SIGKILL', async () => {
    const { child, lines } = ticker();
    await until(() => lines() > 0, 'the first tick');
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const record = killProcess({ pid: child.pid as number });
    expect(record.at).toBeLessThanOrEqual(Date.now());
    expect(await exited).toBe('SIGKILL');
  });

  it('kills a whole process group', async () => {
    const { child, grandchildPid } = ticker({ detached: true, grandchild: true });
    await until(() => grandchildPid() !== undefined, 'the grandchild to start');
    const grandchild = grandchildPid() as number;
    killProcess({ pid: child.pid as number, group: true });
    await until(() => !processExists({ pid: grandchild }), 'the grandchild to be gone');
    await until(() => child.signalCode === 'SIGKILL', 'the child to be gone');
  });

  it('refuses to signal drctl itself and reports a process that does not exist', async () => {
    expect(() => killProcess({ pid: process.pid })).toThrow(
      expect.objectContaining({ code: 'DRCTL_CHAOS_PROCESS_INVALID' }),
    );
    expect(() => killProcess({ pid: 1 })).toThrow(
      expect.objectContaining({ code: 'DRCTL_CHAOS_PROCESS_INVALID' }),
    );

    const { child } = ticker();
    const pid = child.pid as number;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killProcess({ pid });
    await exited;
    let error: unknown;
    try {
      pauseProcess({ pid });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DrctlError);
    expect(error).toMatchObject({ code: 'DRCTL_CHAOS_PROCESS_NOT_FOUND' });
  });
});
