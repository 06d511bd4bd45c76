/**
 * The execution layer over SSH, on real hosts: network namespaces with their own addresses running sshd.
 * Skipped with a message where namespaces cannot be made (not root, no sshd).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeExecutors,
  copy,
  executorFor,
  localExecutor,
  runChecked,
  SshExecutor,
} from '../../src/exec/index.ts';
import type { HostTarget } from '../../src/exec/index.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { tempDir } from '../support/tmp.ts';

const unavailable = NetnsBed.unavailable();
if (unavailable !== undefined) console.warn(`SSH execution tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('execution on hosts over SSH', () => {
  let bed: NetnsBed;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
  });

  it('runs a command on the host, inside its network namespace, with its environment off the command line', async () => {
    const east = executorFor(bed.target('east'));
    const lines: string[] = [];
    const result = await east.run(
      'ip -o -4 addr show dev eth0; echo "secret=$SECRET"; cat /proc/$$/cmdline | tr "\\0" " "',
      {
        env: { SECRET: 'hunter2' },
        onOutput: (_stream, chunk) => lines.push(chunk.toString()),
      },
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(bed.host('east').address);
    expect(result.stdout).toContain('secret=hunter2');
    // the command line the host sees does not carry the value
    expect(result.stdout.split('\n').at(-1)).not.toContain('hunter2');
    expect(result.stdout.split('\n').at(-1)).toContain('/bin/sh');
    expect(lines.join('')).toBe(result.stdout);
  });

  it('reuses one connection per host, and opens a new one when it dropped', async () => {
    const west = executorFor(bed.target('west'));
    // the client's address and port, as the host sees them: the same for every command on one connection
    const connection = async (): Promise<string> =>
      (await runChecked(west, 'echo "$SSH_CONNECTION"')).stdout.trim();
    const first = await connection();
    for (let i = 0; i < 4; i++) expect(await connection()).toBe(first);
    const connections = async (): Promise<number> =>
      (await bed.inside('west', "ss -Htn state established '( sport = :22 )'"))
        .trim()
        .split('\n')
        .filter(Boolean).length;
    expect(await connections()).toBe(1);
    // the host drops every SSH session (sshd's per-connection processes die; the listener stays)
    const sessions = (await bed.pids('west')).filter((pid) => {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.startsWith('sshd:') && !cmd.includes('[listener]');
    });
    expect(sessions.length).toBeGreaterThan(0);
    for (const pid of sessions) process.kill(pid, 'SIGKILL');
    await sleep(200);
    const again = await connection();
    expect(again).not.toBe(first);
    expect(await connection()).toBe(again);
    expect(await connections()).toBe(1);
  });

  it('copies a directory and a file from here to a host and from host to host', async () => {
    const source = tempDir();
    mkdirSync(join(source, 'sub'));
    writeFileSync(join(source, 'a.txt'), 'alpha');
    writeFileSync(join(source, 'sub', 'b.bin'), Buffer.alloc(300_000, 7));
    const target = tempDir();
    const east = executorFor(bed.target('east'));
    const west = executorFor(bed.target('west'));
    await copy({ executor: localExecutor, path: source }, { executor: east, path: join(target, 'on-east') });
    await copy(
      { executor: east, path: join(target, 'on-east') },
      { executor: west, path: join(target, 'on-west') },
    );
    await copy(
      { executor: west, path: join(target, 'on-west', 'a.txt') },
      { executor: east, path: join(target, 'one', 'a.txt') },
    );
    // the bed's hosts share this machine's file system, so what landed can be read here
    expect(readFileSync(join(target, 'on-west', 'a.txt'), 'utf8')).toBe('alpha');
    expect(readFileSync(join(target, 'on-west', 'sub', 'b.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(readFileSync(join(target, 'one', 'a.txt'), 'utf8')).toBe('alpha');
  });

  it('signals a process on the host', async () => {
    const east = executorFor(bed.target('east'));
    const started = await runChecked(east, 'setsid sleep 60 >/dev/null 2>&1 </dev/null & echo $!');
    const pid = Number(started.stdout.trim());
    expect(await east.signal(pid, 'SIGTERM')).toBe(true);
    await sleep(100);
    // gone, or a zombie nobody reaps yet: either way no longer running
    expect((await east.run(`ps -o stat= -p ${pid}`)).stdout.trim()).toMatch(/^(Z.*)?$/);
    expect(await east.signal(2 ** 22 + 12345, 'SIGTERM')).toBe(false);
  });

  it('reports a command killed by a signal on the host by the signal, as a run here does', async () => {
    const east = executorFor(bed.target('east'));
    for (const command of ['kill -KILL $$', 'kill -TERM $$']) {
      const [there, here] = await Promise.all([east.run(command), localExecutor.run(command)]);
      expect(here).toMatchObject({
        exitCode: null,
        signal: command.includes('KILL') ? 'SIGKILL' : 'SIGTERM',
      });
      expect(there).toMatchObject({ exitCode: here.exitCode, signal: here.signal });
    }
    expect(await east.run('exit 3')).toMatchObject({ exitCode: 3, signal: null });
  });

  it('stops a remote command when its step is cancelled', async () => {
    const east = executorFor(bed.target('east'));
    const marker = `drctl-cancel-${Date.now()}`;
    const controller = new AbortController();
    const running = east.run(`sleep 60; echo ${marker}`, { signal: controller.signal });
    await sleep(500);
    controller.abort(new Error('cancelled'));
    const result = await running;
    expect(result.exitCode).not.toBe(0);
    expect((await east.run(`pgrep -f "[s]leep 60; echo ${marker}"`)).exitCode).toBe(1);
  });

  it('ends a remote command when the driver dies with SIGKILL', async () => {
    const marker = `drctl-orphan-${Date.now()}`;
    const script = `
      import { executorFor } from ${JSON.stringify(new URL('../../src/exec/index.ts', import.meta.url).pathname)};
      const east = executorFor(${JSON.stringify(bed.target('east'))});
      await east.run('true');
      console.log('connected');
      await east.run('sleep 120 # ${marker}');
    `;
    const driver = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => driver.stdout.once('data', () => resolve()));
    const east = executorFor(bed.target('east'));
    const running = async (): Promise<boolean> =>
      (await east.run(`pgrep -f "[s]leep 120 # ${marker}" >/dev/null`)).exitCode === 0;
    const deadline = Date.now() + 5_000;
    while (!(await running()) && Date.now() < deadline) await sleep(50);
    expect(await running()).toBe(true);
    driver.kill('SIGKILL');
    const gone = Date.now() + 10_000;
    while ((await running()) && Date.now() < gone) await sleep(100);
    expect(await running()).toBe(false);
    // the dead driver could not remove its control directory; the next directory made sweeps it
    const driversDirectory = () =>
      readdirSync(tmpdir()).some((name) => name.startsWith(`drctl-ssh-${driver.pid}-`));
    expect(driversDirectory()).toBe(true);
    await closeExecutors();
    await executorFor(bed.target('east')).run('true');
    expect(driversDirectory()).toBe(false);
  });

  it('names a command missing on the host', async () => {
    const east = executorFor(bed.target('east'));
    await expect(runChecked(east, 'drctl-no-such-tool --version')).rejects.toMatchObject({
      code: 'DRCTL_HOST_COMMAND_MISSING',
      message: expect.stringContaining('drctl-no-such-tool is not installed on host east'),
    });
  });

  it('fails an unreachable host within its connect timeout, and a cut-off host as unreachable', async () => {
    const nobody: HostTarget = {
      ...bed.target('east'),
      name: 'ghost',
      address: bed.gateway.replace(/\.1$/, '.250'),
      connectTimeoutMs: 1_000,
    };
    const started = Date.now();
    await expect(new SshExecutor(nobody).run('true')).rejects.toMatchObject({
      code: 'DRCTL_HOST_UNREACHABLE',
    });
    expect(Date.now() - started).toBeLessThan(4_000);

    const east = executorFor(bed.target('east'));
    await runChecked(east, 'true');
    await bed.cut('east');
    try {
      const cutAt = Date.now();
      await expect(east.run('true')).rejects.toMatchObject({
        code: 'DRCTL_HOST_UNREACHABLE',
        message: expect.stringContaining(bed.host('east').address),
      });
      expect(Date.now() - cutAt).toBeLessThan(12_000);
    } finally {
      await bed.heal('east');
    }
    expect((await east.run('echo ok')).stdout.trim()).toBe('ok');
  });

  it('refuses a host whose key changed or is unknown, and a key the host does not accept', async () => {
    const dir = tempDir();
    const changed = join(dir, 'known_hosts_changed');
    writeFileSync(changed, `${bed.host('west').address} ${bed.host('east').hostKey}\n`);
    await expect(
      new SshExecutor({ ...bed.target('west'), knownHostsFile: changed }).run('true'),
    ).rejects.toMatchObject({
      code: 'DRCTL_HOST_KEY_MISMATCH',
    });
    const empty = join(dir, 'known_hosts_empty');
    writeFileSync(empty, '');
    await expect(
      new SshExecutor({ ...bed.target('west'), knownHostsFile: empty }).run('true'),
    ).rejects.toMatchObject({
      code: 'DRCTL_HOST_KEY_UNKNOWN',
    });
    const stranger = join(dir, 'id_stranger');
    await runChecked(localExecutor, `ssh-keygen -q -t ed25519 -N '' -f ${stranger}`);
    await expect(
      new SshExecutor({ ...bed.target('west'), identityFile: stranger }).run('true'),
    ).rejects.toMatchObject({
      code: 'DRCTL_HOST_AUTH',
    });
  });
  it("logs in with a passphrase-protected key: the passphrase from the plan's variable, or the key from an agent", async () => {
    const dir = tempDir('drctl-ssh-passphrase-');
    const key = join(dir, 'id_locked');
    const passphrase = 'correct horse battery';
    await runChecked(localExecutor, `ssh-keygen -q -t ed25519 -N '${passphrase}' -f ${key}`);
    const authorized = join(bed.dir, 'authorized_keys');
    writeFileSync(authorized, readFileSync(authorized, 'utf8') + readFileSync(`${key}.pub`, 'utf8'));
    const locked: HostTarget = { ...bed.target('west'), identityFile: key };
    // neither: refused at once (no prompt), the passphrase named nowhere
    const refused = await new SshExecutor(locked).run('true').catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'DRCTL_HOST_AUTH' });
    process.env.DRCTL_TEST_PASSPHRASE = passphrase;
    const withVariable = new SshExecutor({ ...locked, passphraseEnv: 'DRCTL_TEST_PASSPHRASE' });
    try {
      expect((await runChecked(withVariable, 'echo in')).stdout).toBe('in\n');
    } finally {
      delete process.env.DRCTL_TEST_PASSPHRASE;
      await withVariable.close();
    }
    // an agent holding the key (unlocked once by ssh-add), as a user's ssh would use it
    const agent = await runChecked(localExecutor, `ssh-agent -s -a ${join(dir, 'agent.sock')}`);
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
    const before = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = join(dir, 'agent.sock');
    const viaAgent = new SshExecutor(locked);
    try {
      writeFileSync(join(dir, 'askpass'), `#!/bin/sh\necho '${passphrase}'\n`, { mode: 0o700 });
      await runChecked(localExecutor, `ssh-add ${key}`, {
        env: { SSH_ASKPASS: join(dir, 'askpass'), SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
      });
      expect((await runChecked(viaAgent, 'echo in')).stdout).toBe('in\n');
    } finally {
      if (before === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = before;
      await viaAgent.close();
      process.kill(agentPid, 'SIGTERM');
    }
  });
});

describe.skipIf(unavailable !== undefined)('a host behind a jump host', () => {
  let bed: NetnsBed;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east'], bastion: true });
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
  });

  it('is reached through the bastion, and refuses a direct connection', async () => {
    const through = executorFor(bed.target('east'));
    expect((await runChecked(through, 'echo "$SSH_CONNECTION"')).stdout).toContain(
      bed.host('bastion').address,
    );
    await expect(
      new SshExecutor({ ...bed.target('east'), jump: undefined }).run('true'),
    ).rejects.toMatchObject({
      code: 'DRCTL_HOST_AUTH',
    });
  });
});
