import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.ts';
import { endProcessGroup, processGroupGone, spawnGuarded } from './guarded-spawn.ts';
import type { StepProcess } from './guarded-spawn.ts';

const GUARDED_SPAWN = new URL('./guarded-spawn.ts', import.meta.url).pathname;

/** A Node.js process that starts `command` guarded, prints the step process and waits to be killed. */
async function driverRunning(command: string): Promise<{ kill(): void; step: StepProcess }> {
  const dir = tempDir('drctl-guard-');
  const script = join(dir, 'driver.ts');
  writeFileSync(
    script,
    `import { spawnGuarded } from ${JSON.stringify(GUARDED_SPAWN)};
const { process: step } = spawnGuarded('/bin/sh', ['-c', ${JSON.stringify(command)}]);
console.log(JSON.stringify(step));
setInterval(() => undefined, 1000);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = await createInterface({ input: child.stdout })
    [Symbol.asyncIterator]()
    .next()
    .then((r) => [r.value as string]);
  return { kill: () => child.kill('SIGKILL'), step: JSON.parse(line ?? '{}') as StepProcess };
}

async function goneWithin(step: StepProcess, ms: number): Promise<number> {
  const since = performance.now();
  while (processGroupGone(step) !== true) {
    if (performance.now() - since > ms)
      throw new Error(`process group ${step.pid} still there after ${ms}ms`);
    await sleep(10);
  }
  return performance.now() - since;
}

describe('guarded step processes', () => {
  it('end with their whole group within a second of their driver being SIGKILLed', async () => {
    const dir = tempDir('drctl-guard-effect-');
    const effect = join(dir, 'effect');
    const driver = await driverRunning(`sleep 5 & sleep 5; echo done > ${effect}`);
    expect(processGroupGone(driver.step)).toBe(false);
    driver.kill();
    await goneWithin(driver.step, 1_000);
    await sleep(200);
    expect(existsSync(effect)).toBe(false);
  });

  it('pass the exit code and the killing signal through', async () => {
    const exit = (command: string) =>
      new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
        spawnGuarded('/bin/sh', ['-c', command]).child.on('close', (code, signal) => resolve([code, signal]));
      });
    expect(await exit('exit 3')).toEqual([3, null]);
    expect(await exit('kill -KILL $$')).toEqual([null, 'SIGKILL']);
  });

  it('leave what the command started on purpose running once it ends by itself', async () => {
    const dir = tempDir('drctl-guard-daemon-');
    const pidFile = join(dir, 'pid');
    const { child } = spawnGuarded('/bin/sh', ['-c', `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}`]);
    await new Promise((resolve) => child.on('close', resolve));
    await sleep(700);
    const { readFileSync } = await import('node:fs');
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(daemon, 0)).not.toThrow();
    process.kill(daemon, 'SIGKILL');
  });

  it('are ended by a driver taking over on the same host, SIGKILL after the grace', async () => {
    const { child, process: step } = spawnGuarded('/bin/sh', ['-c', "trap '' TERM; echo ready; sleep 30"]);
    expect(step).toBeDefined();
    if (step === undefined) return;
    // SIGTERM before the trap is set would end it at once
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const since = performance.now();
    expect(await endProcessGroup(step, 200)).toBe(true);
    expect(performance.now() - since).toBeGreaterThanOrEqual(150);
    await new Promise((resolve) =>
      child.exitCode === null && child.signalCode === null ? child.on('close', resolve) : resolve(undefined),
    );
  });
});
