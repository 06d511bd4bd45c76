/**
 * Providers acting on a host of the plan over SSH, on a real host (a network namespace with its own address
 * running sshd): the process provider keeps its pid file and logs on that host and probes the instance at
 * the host's address, picks free ports there and restarts crashed instances there; a shell step of a run
 * leaves a marker there so a resumed run does not repeat it.
 * The reference disaster with postgres on hosts is test/testbed/failover-over-ssh.test.ts. Skipped with a
 * message where no bed can be made.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../errors.ts';
import { closeExecutors, executorOn } from '../exec/index.ts';
import { loadPlan } from '../plan/index.ts';
import type { Plan } from '../plan/model.ts';
import { silentLogger } from '../system/logger.ts';
import { processGroupsOn } from '../supervise/index.ts';
import { waitFor } from '../supervise/test-helpers.ts';
import { NetnsBed } from '../testbed/netns-bed.ts';
import { tempDir } from '../../test/support/tmp.ts';
import type { ActionContext } from './provider.ts';
import { processProvider } from './process/index.ts';
import { shell } from './shell/index.ts';

const unavailable = NetnsBed.unavailable();
if (unavailable !== undefined) console.warn(`process provider on hosts skipped: ${unavailable}`);

// listens on the host's own address; SIGTERM ends it
const SERVICE = `
import http from 'node:http';
process.on('SIGTERM', () => process.exit(0));
http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, instance: process.env.INSTANCE })))
  .listen(Number(process.env.PORT), process.env.HOST);
`;

describe.skipIf(unavailable !== undefined)('providers on a host over SSH', () => {
  let bed: NetnsBed;
  let plan: Plan;
  let dir: string;
  let hostState: string;
  const evidence: Record<string, unknown> = {};
  const ctx = (step?: { runId: string; stepId: string }): ActionContext => ({
    ...step,
    signal: new AbortController().signal,
    log: silentLogger(),
    plan,
    stateDir: join(dir, 'state'),
    evidence: (name, value) => (evidence[name] = value),
  });
  const act = (name: keyof typeof processProvider.actions, params: Record<string, unknown>) => {
    const action = processProvider.actions[name];
    return action.run(action.params.parse({ component: 'svc', site: 'east', ...params }), ctx());
  };
  const running = async (instances?: number) => {
    const check = processProvider.checks.running;
    return check.run(
      check.params.parse({ component: 'svc', site: 'east', ...(instances ? { instances } : {}) }),
      ctx(),
    );
  };
  const get = async (index: number): Promise<{ pid: number; instance: string }> =>
    (await (await fetch(`http://${bed.host('east').address}:${8080 + index}/`)).json()) as {
      pid: number;
      instance: string;
    };

  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east'] });
    dir = tempDir('drctl-process-host-');
    hostState = join(dir, 'on-east');
    writeFileSync(join(dir, 'service.mjs'), SERVICE);
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: process-on-host
sites:
  east:
    role: primary
    hosts:
      app-east: { address: ${bed.host('east').address}, user: root, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}, state_dir: ${hostState} }
  west: { role: secondary }
contacts: [{ id: alice, name: Alice }]
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    rto: 5m
    rpo: 0s
    components:
      - id: svc
        kind: process
        placement:
          east:
            host: app-east
            command: exec ${process.execPath} ${join(dir, 'service.mjs')}
            port: 8080
            env: { HOST: '{{host}}', PORT: '{{port}}', INSTANCE: '{{instance}}' }
            ready_timeout: 15s
          west: { command: 'true', standby: true }
      - id: worker
        kind: process
        placement:
          east:
            host: app-east
            command: exec ${process.execPath} ${join(dir, 'service.mjs')}
            env: { HOST: '{{host}}', PORT: '{{port}}', INSTANCE: '{{instance}}' }
            ready: '{{host}}:{{port}}'
            restart: on-failure
            ready_timeout: 15s
          west: { command: 'true', standby: true }
`,
    );
    plan = await loadPlan(join(dir, 'plan.yaml'));
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
  });

  it('starts instances on the host, keeps their pid file there, and a second start keeps them', async () => {
    const started = await act('start', { instances: 2 });
    const pids = (started.output as { pids: number[] }).pids;
    expect(pids).toHaveLength(2);
    // they run in the host's namespace and answer at its address
    const inEast = await bed.pids('east');
    for (const pid of pids) expect(inEast).toContain(pid);
    expect(await get(1)).toMatchObject({ instance: '1' });
    expect(readFileSync(join(hostState, 'processes', 'svc_east.pids'), 'utf8')).toContain(
      ` ${pids[0]} 8080 `,
    );
    expect(existsSync(join(dir, 'state', 'processes'))).toBe(false);
    expect((await running(2)).ok).toBe(true);

    const again = await act('start', { instances: 2 });
    expect((again.output as { pids: number[] }).pids).toEqual(pids);
  });

  it('pauses and resumes, and the running check says so', async () => {
    const paused = await act('pause', {});
    expect((paused.output as { states: string[] }).states).toEqual(['paused', 'paused']);
    const check = await running();
    expect(check.ok).toBe(false);
    expect(check.message).toBe('svc@east: 0 of 2 instances running, 1 wanted');
    await act('resume', {});
    expect((await running(2)).ok).toBe(true);
    expect((await get(0)).instance).toBe('0');
  });

  it('scales down and stops, leaving no process of the group on the host', async () => {
    const scaled = await act('scale', { instances: 1 });
    expect((scaled.output as { pids: number[] }).pids).toHaveLength(1);
    const stopped = await act('stop', { grace: '2s' });
    const pids = (stopped.output as { pids: number[] }).pids;
    expect(pids).toHaveLength(1);
    expect(stopped.summary).toBe('svc@east: stopped 1 instance');
    const left = await bed.pids('east');
    for (const pid of pids) expect(left).not.toContain(pid);
    expect(existsSync(join(hostState, 'processes', 'svc_east.pids'))).toBe(false);
    expect((await running()).message).toBe('svc@east: 0 of 0 instances running, 1 wanted');
  });

  it('picks free ports on the host, restarts a killed instance there as its policy says (not one that exited 0), and a stop ends it for good', async () => {
    const worker = { component: 'worker' };
    const started = (await act('start', { ...worker, instances: 2 })).output as {
      pids: number[];
      ports: number[];
    };
    // no port in the plan: two different ones, picked on the host below its ephemeral range
    const [low] = (await bed.inside('east', 'cat /proc/sys/net/ipv4/ip_local_port_range')).split(/\s+/);
    expect(new Set(started.ports).size).toBe(2);
    for (const port of started.ports) expect(port).toBeGreaterThanOrEqual(20_000);
    for (const port of started.ports) expect(port).toBeLessThan(Number(low));
    const answer = async (port: number) =>
      (await (await fetch(`http://${bed.host('east').address}:${port}/`)).json()) as { pid: number };
    const [pid0 = 0, pid1 = 0] = started.pids;
    expect((await answer(started.ports[0]!)).pid).toBe(pid0);

    // the host restarts it (first delay 100 ms), on the same port, without drctl asking
    const killedAt = Date.now();
    process.kill(pid0, 'SIGKILL');
    const groups = processGroupsOn(executorOn(plan, 'app-east'), join(dir, 'state'));
    const back = await waitFor(async () => {
      const now = (await groups.status('worker@east')).find((i) => i.index === 0);
      return now !== undefined && now.pid !== pid0 && now.state === 'running' ? now : undefined;
    }, 10_000);
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(back).toMatchObject({ port: started.ports[0], restarts: 1 });
    expect((await waitFor(() => answer(back.port!).catch(() => undefined))).pid).toBe(back.pid);
    // on-failure: an instance that exits 0 (the service does on SIGTERM) stays down
    process.kill(pid1, 'SIGTERM');
    const down = await waitFor(async () => {
      const now = (await groups.status('worker@east')).find((i) => i.index === 1);
      return now?.state === 'exited' ? now : undefined;
    }, 10_000);
    await sleep(300);
    expect((await groups.status('worker@east')).find((i) => i.index === 1)).toEqual(down);
    expect(down).toMatchObject({ pid: pid1, restarts: 0 });

    await act('stop', { ...worker, grace: '2s' });
    // nothing of the group is left on the host, its watchers included, and nothing comes back
    await sleep(300);
    const left = await bed.inside(
      'east',
      `for p in ${(await bed.pids('east')).join(' ')}; do tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null; echo; done`,
    );
    expect(left).not.toContain(hostState);
    expect(left).not.toContain('service.mjs');
    expect(await groups.status('worker@east')).toEqual([]);
  });

  it('says an instance exited before it was ready, with its log from the host', async () => {
    const error = await act('start', { command: 'echo "no such thing" >&2; exit 3' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrctlError);
    expect((error as DrctlError).code).toBe('DRCTL_PROCESS_EXITED');
    expect((error as DrctlError).message).toMatch(/^svc@east exited on host app-east \(198\.\d+\.\d+\.\d+\)/);
    expect((error as DrctlError).details?.log).toContain('no such thing');
  });

  it('does not run a shell step of a run again once it completed on the host (a marker there)', async () => {
    const action = shell.actions.run;
    const file = join(dir, 'ran.log');
    const params = action.params.parse({ host: 'app-east', command: `echo ran >> ${file}` });
    expect(action.resumable?.(params)).toBe(true);
    expect(action.resumable?.(action.params.parse({ command: 'true' }))).toBe(false);
    const step = { runId: 'run-1', stepId: 'stop-east' };
    const first = await action.run(params, ctx(step));
    expect(first.output).toEqual({ exitCode: 0 });
    // the driver died before it could record that; the resumed run runs the step again
    const again = await action.run(params, ctx(step));
    expect(again.summary).toMatch(/^not run again: it completed on app-east at \d{4}-\d\d-\d\dT/);
    expect(readFileSync(file, 'utf8')).toBe('ran\n');
    expect(existsSync(join(hostState, 'done', 'run-1', 'stop-east'))).toBe(true);
    // another step, or the same step of another run, is another action
    await action.run(params, ctx({ runId: 'run-2', stepId: 'stop-east' }));
    expect(readFileSync(file, 'utf8')).toBe('ran\nran\n');
    // a command that failed left no marker: it runs again
    const failing = action.params.parse({ host: 'app-east', command: `echo try >> ${file}; exit 3` });
    const failed = { runId: 'run-1', stepId: 'start-west' };
    await expect(action.run(failing, ctx(failed))).rejects.toMatchObject({ code: 'DRCTL_SHELL_FAILED' });
    await expect(action.run(failing, ctx(failed))).rejects.toMatchObject({ code: 'DRCTL_SHELL_FAILED' });
    expect(readFileSync(file, 'utf8')).toBe('ran\nran\ntry\ntry\n');
  });
});
