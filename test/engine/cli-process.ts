/**
 * The real CLI as a separate process. Tests that kill or race the orchestrator start it many times, so
 * the CLI's sources (not the dist/ build `bin/drctl.js` prefers) are bundled once with esbuild,
 * dependencies left external, to keep each start well under a second.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let bundled: string | undefined;

export function cliBundle(): string {
  if (bundled) return bundled;
  const dir = join(ROOT, 'node_modules', '.cache', 'drctl-test', String(process.pid));
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { exitWhenWritten, main } from ${JSON.stringify(join(ROOT, 'src/cli/main.ts'))};\nawait exitWhenWritten(await main(process.argv.slice(2)));\n`,
  );
  const outfile = join(dir, 'cli.mjs');
  buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  });
  bundled = outfile;
  return outfile;
}

export interface CliProcess {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

const started = new Set<ChildProcess>();

export function startCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): CliProcess {
  const child = spawn(process.execPath, [cliBundle(), ...args], {
    cwd: options.cwd,
    env: { ...process.env, DRCTL_USER: 'alice', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolveExit) => {
    child.on('close', (code, signal) => {
      started.delete(child);
      resolveExit({ code, signal, stdout, stderr });
    });
  });
  return { child, exit };
}

export async function cli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return startCli(args, options).exit;
}

/** Stops every CLI process a test started and left running. */
export function stopAll(): void {
  for (const child of started) child.kill('SIGKILL');
}
