/** Shared by the process and readiness tests: a small HTTP server to supervise, and polling helpers. */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A Node HTTP server on $PORT (127.0.0.1): /health answers {ok, pid, child}, /crash exits with code 1.
 * SPAWN_CHILD=1 starts a grandchild in the same process group; IGNORE_TERM=1 ignores SIGTERM.
 */
export const SERVER_SCRIPT = `
import http from 'node:http';
import { spawn } from 'node:child_process';
let child;
if (process.env.SPAWN_CHILD === '1') child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
if (process.env.IGNORE_TERM === '1') process.on('SIGTERM', () => {});
else process.on('SIGTERM', () => process.exit(0));
const server = http.createServer((req, res) => {
  if (req.url === '/crash') { res.destroy(); process.exit(1); }
  if (req.url === '/health') { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true, pid: process.pid, child: child?.pid })); return; }
  res.statusCode = 404; res.end('not found');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Whether a live, non-zombie process has this pid. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return !fs.existsSync('/proc/self/stat');
    } catch {
      return false;
    }
  }
}

export async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as Record<string, unknown>;
}

/** Polls until `probe` returns something other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await sleep(50);
  }
}
