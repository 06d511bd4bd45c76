import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../errors.ts';
import { Supervisor } from './local.ts';
import type { ProcessSpec } from './spec.ts';
import { SERVER_SCRIPT, alive, getJson, waitFor } from './test-helpers.ts';

let root: string;
let script: string;
const supervisors: Supervisor[] = [];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'drctl-supervisor-'));
  script = path.join(root, 'server.mjs');
  fs.writeFileSync(script, SERVER_SCRIPT);
});

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.close({ graceMs: 500 })));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function newSupervisor(): Supervisor {
  const supervisor = Supervisor.create({ stateDir: fs.mkdtempSync(path.join(root, 'state-')) });
  supervisors.push(supervisor);
  return supervisor;
}

function server(name: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    name,
    command: `exec node ${script}`,
    env: { PORT: '{{port}}' },
    ready: { url: 'http://127.0.0.1:{{port}}/health' },
    readyTimeoutMs: 15_000,
    ...extra,
  };
}

describe('Supervisor', () => {
  it('starts a server, waits until it is ready, and stop leaves no process of its group running', async () => {
    const supervisor = newSupervisor();
    const [instance] = await supervisor.start(
      server('api@east', { env: { PORT: '{{port}}', SPAWN_CHILD: '1' } }),
    );
    expect(instance?.state).toBe('running');
    const health = await getJson(`http://127.0.0.1:${instance?.port}/health`);
    expect(health.ok).toBe(true);
    const childPid = health.child as number;
    expect(alive(childPid)).toBe(true);

    const result = await supervisor.stop('api@east', { graceMs: 2_000 });
    expect(result.pids).toEqual([instance?.pid]);
    expect(alive(instance?.pid ?? -1)).toBe(false);
    // the server's own child was in the same process group, so it is gone too
    expect(alive(childPid)).toBe(false);
    expect(supervisor.status('api@east')).toEqual([]);
    expect(supervisor.list()).toEqual([]);
  });

  it('pauses a server so it stops answering, and resumes it so it answers again', async () => {
    const supervisor = newSupervisor();
    const [instance] = await supervisor.start(server('api@east'));
    const url = `http://127.0.0.1:${instance?.port}/health`;

    expect(supervisor.pause('api@east')[0]?.state).toBe('paused');
    await expect(fetch(url, { signal: AbortSignal.timeout(300) })).rejects.toThrow();

    expect(supervisor.resume('api@east')[0]?.state).toBe('running');
    expect((await getJson(url)).ok).toBe(true);
  });

  it('kills with SIGKILL and does not restart what it killed, even with restart always', async () => {
    const supervisor = newSupervisor();
    const [instance] = await supervisor.start(server('api@east', { restart: 'always' }));
    await supervisor.kill('api@east');
    expect(alive(instance?.pid ?? -1)).toBe(false);
    await sleep(400);
    expect(supervisor.status('api@east')).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${instance?.port}/health`)).rejects.toThrow();
  });

  it('scales to 3 answering instances on their own ports, and back down to 1', async () => {
    const supervisor = newSupervisor();
    await supervisor.start(server('api@east'));
    const three = await supervisor.scale('api@east', 3);
    expect(three).toHaveLength(3);
    expect(new Set(three.map((i) => i.port)).size).toBe(3);
    const answers = await Promise.all(three.map((i) => getJson(`http://127.0.0.1:${i.port}/health`)));
    expect(answers.map((a) => a.pid).sort()).toEqual(three.map((i) => i.pid).sort());

    const one = await supervisor.scale('api@east', 1);
    expect(one.map((i) => i.index)).toEqual([0]);
    for (const gone of three.slice(1)) expect(alive(gone.pid)).toBe(false);
  });

  it('takes instance ports from a port list', async () => {
    const supervisor = newSupervisor();
    const { freePort } = await import('../system/ports.ts');
    const ports = [await freePort(), await freePort()];
    const instances = await supervisor.start(server('api@east', { ports }), { instances: 2 });
    expect(instances.map((i) => i.port)).toEqual(ports);
  });

  it('restarts a crashed server when asked to', async () => {
    const supervisor = newSupervisor();
    const [before] = await supervisor.start(server('api@east', { restart: 'on-failure' }));
    const url = `http://127.0.0.1:${before?.port}`;
    await fetch(`${url}/crash`).catch(() => undefined);
    const restarted = await waitFor(async () => {
      const [now] = supervisor.status('api@east');
      return now !== undefined && now.pid !== before?.pid && now.state === 'running' ? now : undefined;
    });
    expect(restarted.restarts).toBe(1);
    expect((await waitFor(() => getJson(`${url}/health`).catch(() => undefined))).pid).toBe(restarted.pid);
  });

  it('leaves a crashed server down when restart is never', async () => {
    const supervisor = newSupervisor();
    const [before] = await supervisor.start(server('api@east'));
    await fetch(`http://127.0.0.1:${before?.port}/crash`).catch(() => undefined);
    const [after] = await waitFor(async () =>
      supervisor.status('api@east')[0]?.state === 'exited' ? supervisor.status('api@east') : undefined,
    );
    expect(after?.pid).toBe(before?.pid);
  });

  it('lets a second supervisor on the same state directory find and stop the processes', async () => {
    const first = newSupervisor();
    const [instance] = await first.start(server('api@west'));
    const second = Supervisor.create({ stateDir: first.stateDir });
    expect(second.list()).toEqual(['api@west']);
    expect(second.status('api@west')[0]?.pid).toBe(instance?.pid);
    await second.stop('api@west', { graceMs: 2_000 });
    expect(alive(instance?.pid ?? -1)).toBe(false);
  });

  it('does not restart instances that another supervisor stopped, even with restart always', async () => {
    const watcher = newSupervisor();
    const [instance] = await watcher.start(server('api@west', { restart: 'always' }));
    await Supervisor.create({ stateDir: watcher.stateDir }).stop('api@west', { graceMs: 2_000 });
    await sleep(500);
    expect(alive(instance?.pid ?? -1)).toBe(false);
    expect(watcher.status('api@west')).toEqual([]);
  });

  it('stops a paused server with SIGTERM, without waiting for SIGKILL', async () => {
    const supervisor = newSupervisor();
    const [instance] = await supervisor.start(server('api@east'));
    supervisor.pause('api@east');
    const result = await supervisor.stop('api@east', { graceMs: 10_000 });
    expect(result.forced).toBe(0);
    expect(alive(instance?.pid ?? -1)).toBe(false);
  });

  it('sends SIGKILL after the grace period to a server that ignores SIGTERM', async () => {
    const supervisor = newSupervisor();
    const [instance] = await supervisor.start(
      server('api@east', { env: { PORT: '{{port}}', IGNORE_TERM: '1' } }),
    );
    const result = await supervisor.stop('api@east', { graceMs: 300 });
    expect(result.forced).toBe(1);
    expect(alive(instance?.pid ?? -1)).toBe(false);
  });

  it('fails with DRCTL_PROCESS_EXITED and the log when the command dies before it is ready', async () => {
    const supervisor = newSupervisor();
    const error = await supervisor
      .start(server('api@east', { command: 'echo "no such config" >&2; exit 3' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_PROCESS_EXITED');
    expect(String((error as DrctlError).details?.log)).toContain('no such config');
    expect(supervisor.status('api@east')).toEqual([]);
  });

  it('fails with DRCTL_PROCESS_NOT_READY and stops the process when the probe never passes', async () => {
    const supervisor = newSupervisor();
    const error = await supervisor
      .start(server('api@east', { ready: { url: 'http://127.0.0.1:{{port}}/missing' }, readyTimeoutMs: 600 }))
      .catch((e: unknown) => e);
    expect((error as DrctlError).code).toBe('DRCTL_PROCESS_NOT_READY');
    expect(supervisor.status('api@east')).toEqual([]);
  });

  it('stops what it started when its drctl process gets SIGTERM (closeOnExit)', async () => {
    const stateDir = fs.mkdtempSync(path.join(root, 'state-'));
    const here = path.dirname(fileURLToPath(import.meta.url));
    const host = path.join(root, 'host.mts');
    fs.writeFileSync(
      host,
      `import { Supervisor, closeOnExit } from ${JSON.stringify(path.join(here, 'local.ts'))};
const supervisor = Supervisor.create({ stateDir: ${JSON.stringify(stateDir)} });
closeOnExit(supervisor);
const [instance] = await supervisor.start({ name: 'api@east', command: 'exec node ${script}', env: { PORT: '{{port}}' }, ready: { url: 'http://127.0.0.1:{{port}}/health' } });
console.log(JSON.stringify(instance));
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', host], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const instance = await waitFor(
      async () => (out.includes('\n') ? (JSON.parse(out) as { pid: number }) : undefined),
      20_000,
    );
    expect(alive(instance.pid)).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(alive(instance.pid)).toBe(false);
  });
});
