/**
 * The command as installed: `npm pack` (which builds dist/ through the `prepare` script), the tarball
 * unpacked as `npm install` lays a package out, then `bin/drctl.js serve` from there with
 * DRCTL_FROM_SOURCES unset, and every asset the console's pages link fetched from it.
 *
 * Why the other tests could not see the console's missing styles and scripts: they all judge the sources
 * (vitest sets DRCTL_FROM_SOURCES=1, so bin/drctl.js runs src/ through tsx, and the server tests import
 * src/ directly), and beside src/server/console/index.ts the assets are always there. Only the build put
 * JavaScript in dist/ without the CSS and scripts it reads, so only a test of dist/ can fail on it.
 *
 * The dependencies are the checkout's own node_modules, linked into the unpacked package: what is under
 * test is what the tarball holds, not the registry.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.ts';

const ROOT = join(import.meta.dirname, '../..');
/** Not part of a package, or made by the build the test runs itself. */
const LEFT_OUT = new Set(['node_modules', '.git', 'dist', '.drctl', 'coverage', 'out']);

const scratch = tempDir('drctl-installed-');
const installed = join(scratch, 'install/node_modules/drctl');
const state = join(scratch, 'state');
let server: ChildProcess | undefined;
let url = '';
let token = '';

/** The environment of a person's shell: nothing that makes bin/drctl.js prefer the sources. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DRCTL_FROM_SOURCES;
  return env;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}${result.stderr}`,
    );
  return result.stdout;
}

beforeAll(async () => {
  const checkout = join(scratch, 'checkout');
  cpSync(ROOT, checkout, {
    recursive: true,
    filter: (source) => !LEFT_OUT.has(relative(ROOT, source).split('/')[0] ?? ''),
  });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(checkout, 'node_modules'));
  const packed = join(scratch, 'packed');
  mkdirSync(packed);
  run('npm', ['pack', '--pack-destination', packed, '--no-audit', '--no-fund'], checkout);
  const [tarball] = readdirSync(packed).filter((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack made no tarball');
  mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', join(packed, tarball), '-C', installed, '--strip-components=1'], scratch);
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(installed, 'node_modules'));

  const bin = join(installed, 'bin/drctl.js');
  token = run(
    process.execPath,
    [bin, 'token', 'create', 'alice', '--role', 'operator', '--state', state],
    scratch,
  )
    .trim()
    .split(/\s+/)
    .at(-1) as string;
  const plan = join(installed, 'examples/two-site/warm-standby.yaml');
  server = spawn(process.execPath, [bin, 'serve', plan, '--state', state, '--listen', '127.0.0.1:0'], {
    cwd: scratch,
    env: userEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    server?.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const listening = /listening on (http:\/\/\S+)/.exec(stderr);
      if (listening?.[1] !== undefined) resolve(listening[1]);
    });
    server?.once('exit', (code) => reject(new Error(`drctl serve exited ${code}:\n${stderr}`)));
  });
}, 240_000);

afterAll(async () => {
  if (server?.exitCode !== null) return;
  const exited = new Promise((resolve) => server?.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
});

const get = (path: string): Promise<Response> =>
  fetch(new URL(path, url), { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });

describe('drctl as installed from its package', () => {
  it('runs the built dist/, not the sources', () => {
    expect(existsSync(join(installed, 'dist/.built'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
  });

  it('validates a plan with the precompiled validators and their code cache, and positions the problems of a wrong one', () => {
    const bin = join(installed, 'bin/drctl.js');
    for (const made of ['quick-validate.bundle.cjs', 'quick-validate.bundle.cache'])
      expect(existsSync(join(installed, 'dist/cli', made)), made).toBe(true);
    const valid = spawnSync(
      process.execPath,
      [bin, 'validate', join(installed, 'examples/two-site/plan.yaml')],
      {
        cwd: scratch,
        env: userEnv(),
        encoding: 'utf8',
      },
    );
    expect(valid.status, valid.stderr).toBe(0);
    expect(valid.stdout).toMatch(/valid — 1 workloads, 2 components, 3 runbooks/);
    const wrong = join(scratch, 'wrong.yaml');
    writeFileSync(wrong, 'version: 1\nname: wrong\nworkloads:\n  - id: shop\n    tier: 7\n');
    const invalid = spawnSync(process.execPath, [bin, 'validate', 'wrong.yaml'], {
      cwd: scratch,
      env: userEnv(),
      encoding: 'utf8',
    });
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/^wrong\.yaml:5:11: DRCTL_PLAN_VALUE /m);
  });

  it('backs up, verifies and restores a tree with the compiled backup workers', () => {
    const tree = join(scratch, 'tree');
    mkdirSync(join(tree, 'logs'), { recursive: true });
    writeFileSync(join(tree, 'logs/app.log'), 'GET /orders 200\n'.repeat(50_000));
    writeFileSync(join(tree, 'note.txt'), 'kept');
    // the package's own module, as a program embedding drctl would load it: the workers it starts must be
    // the compiled ones beside it (the tests of the sources run them through tsx)
    const script = `
      import { BackupRepository } from ${JSON.stringify(join(installed, 'dist/backup/repository.js'))};
      const repository = new BackupRepository(process.argv[2], { subject: { component: 'files', site: 'east' } });
      await repository.backupDirectory(process.argv[3], { kind: 'files', site: 'east' });
      const report = await repository.verify(undefined, { record: false });
      await repository.restoreTree(undefined, process.argv[4], { site: 'west' });
      console.log(JSON.stringify({ ok: report.ok, files: report.files }));
    `;
    const restored = join(scratch, 'restored');
    const program = join(scratch, 'backup.mjs');
    writeFileSync(program, script);
    const result = spawnSync(process.execPath, [program, join(scratch, 'repository'), tree, restored], {
      cwd: scratch,
      env: userEnv(),
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, files: 2 });
    expect(readFileSync(join(restored, 'logs/app.log'), 'utf8')).toBe('GET /orders 200\n'.repeat(50_000));
    expect(readFileSync(join(restored, 'note.txt'), 'utf8')).toBe('kept');
  });

  it('serves every asset the console pages link, and every file of the console assets folder', async () => {
    const linked = new Set<string>();
    for (const page of ['/', '/runs', '/runs/new', '/drills', '/runbooks', '/sign-in']) {
      const response = await get(page);
      expect(response.status, page).toBe(200);
      for (const [, path] of (await response.text()).matchAll(/(?:href|src)="(\/console\/assets\/[^"]+)"/g))
        linked.add(path as string);
    }
    for (const name of readdirSync(join(ROOT, 'src/server/console/assets')))
      linked.add(`/console/assets/${name}`);
    expect([...linked]).toEqual(
      expect.arrayContaining(['/console/assets/console.css', '/console/assets/uplot.js']),
    );

    for (const path of linked) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expect((await response.arrayBuffer()).byteLength, path).toBeGreaterThan(0);
    }
  });
});
