/**
 * What the drill tests share: the real CLI as a subprocess (bin/drctl.js, as `npx drctl` runs it), a marker
 * in its environment that every process it starts inherits, and a way to list those processes afterwards.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TWO_SITE = join(ROOT, 'examples/two-site');

export interface Cli {
  marker: string;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

export function drctl(args: string[], cwd: string): Cli {
  const marker = `drill-test-${randomUUID()}`;
  const child = spawn(process.execPath, [join(ROOT, 'bin/drctl.js'), ...args], {
    cwd,
    env: { ...process.env, DRCTL_TEST_MARKER: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return { marker, stderr: () => err, stdout: () => out, exit, kill: (signal) => child.kill(signal) };
}

/** Live (not zombie) processes whose environment carries the marker. */
export function markedProcesses(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(`DRCTL_TEST_MARKER=${marker}`))
        found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Every front door port the CLI printed. */
export function frontDoorPorts(text: string): number[] {
  return [...text.matchAll(/front door http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
}

export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
