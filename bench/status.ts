/**
 * The status page during an announced drill: a real `drctl serve` process (the compiled build) on the
 * warm-standby two-site shop, which runs scenario `east-killed-announced` (`announce: true`) through its
 * drill API. For each drill, the time from its failover run starting (the journal time of `run-created`)
 * to the run's incident being visible to a reader of /status.json, polled every few milliseconds (the
 * page is built at most once per 500 ms, so this is what a reader sees, not only the store write). Then,
 * with the incidents open, /status (HTML) and /status.json under 200 concurrent connections (autocannon).
 * Target: the incident within 1 s of the run starting.
 *
 *   npm run bench:status [-- --drills 3] [-- --seconds 10] [-- --connections 200]
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../src/system/ports.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/drctl.js');
const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const DRILLS = arg('drills', 3);
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 200);
const POLL_MS = 5;
const SCENARIO = 'east-killed-announced';
const TARGET_MS = 1000;

execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

// the example writes its sites' data next to the plan: work on a copy
const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-status-'));
cpSync(join(ROOT, 'examples/two-site'), dir, { recursive: true });
// the order service imports better-sqlite3: let the copy resolve the checkout's packages
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
const state = join(dir, 'state');
const env = { ...process.env, DRCTL_FROM_SOURCES: '' };
const printed = execFileSync(
  process.execPath,
  [BIN, 'token', 'create', 'alice', '--role', 'operator', '--state', state, '--json'],
  { cwd: dir, env, encoding: 'utf8' },
);
const operator = (JSON.parse(printed) as { token: string }).token;
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let server: ChildProcess | undefined;

interface StatusJson {
  incidents: Array<{ id: string; affected: unknown[] }>;
}

try {
  server = spawn(
    process.execPath,
    [BIN, 'serve', 'warm-standby.yaml', '--state', state, '--listen', `127.0.0.1:${port}`],
    { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let serverLog = '';
  server.stderr?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  await waitFor(
    async () => (await fetch(`${base}/healthz`)).ok,
    20_000,
    () => serverLog,
  );
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const answer = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
    return (await answer.json()) as T;
  };

  const drillRows: string[][] = [];
  const visible: number[] = [];
  const seen = new Set<string>();
  for (let i = 1; i <= DRILLS; i++) {
    const job = await api<{ id: string }>('POST', '/drills', { scenario: SCENARIO });
    // the drill brings its environment up and kills east 2 s in; the monitor then starts the failover
    let incident: StatusJson['incidents'][number] | undefined;
    let seenAt = 0;
    let polls = 0;
    let gone: { status: string; error?: { message: string } } | undefined;
    // beside the page, the incident API (no cache): when the incident is in the store
    const stored = new Map<string, number>();
    let watching = true;
    const storeWatch = (async () => {
      while (watching) {
        const { incidents } = await api<{ incidents: Array<{ id: string }> }>('GET', '/incidents?limit=10');
        const at = Date.now();
        for (const { id } of incidents) if (!seen.has(id) && !stored.has(id)) stored.set(id, at);
        await new Promise((resolveWait) => setTimeout(resolveWait, POLL_MS));
      }
    })();
    await waitFor(
      async () => {
        const status = (await (await fetch(`${base}/status.json`)).json()) as StatusJson;
        seenAt = Date.now();
        incident = status.incidents.find((candidate) => !seen.has(candidate.id));
        if (incident !== undefined) return true;
        // a drill that ended without a failover (its environment did not come up) opens nothing
        if (++polls % 100 === 0) {
          const now = await api<{ status: string; error?: { message: string } }>(
            'GET',
            `/drill-jobs/${job.id}`,
          );
          if (now.status !== 'running') gone = now;
        }
        return gone !== undefined;
      },
      120_000,
      () => serverLog,
      POLL_MS,
    );
    watching = false;
    await storeWatch;
    if (incident === undefined)
      throw new Error(`drill ${job.id} ended ${gone?.status} with no incident: ${gone?.error?.message}`);
    seen.add(incident.id);
    const runId = incident.id.replace(/^run-/, '');
    const { records } = await api<{ records: Array<{ type: string; at: string }> }>(
      'GET',
      `/runs/${runId}/journal`,
    );
    const created = Date.parse(records.find((r) => r.type === 'run-created')!.at);
    const shownMs = seenAt - created;
    visible.push(shownMs);
    let ended: { status: string } = { status: 'running' };
    await waitFor(
      async () => {
        ended = await api<{ status: string }>('GET', `/drill-jobs/${job.id}`);
        return ended.status !== 'running';
      },
      180_000,
      () => serverLog,
    );
    const storedAt = stored.get(incident.id);
    drillRows.push([
      String(i),
      storedAt === undefined ? '-' : String(storedAt - created),
      String(shownMs),
      String(incident.affected.length),
      ended.status,
    ]);
  }

  const rows: string[][] = [];
  const failures: string[] = [];
  for (const load of [
    { what: '/healthz (HTTP stack alone)', path: '/healthz' },
    { what: '/status (HTML)', path: '/status' },
    { what: '/status.json', path: '/status.json' },
  ]) {
    const result = await autocannon({
      url: `${base}${load.path}`,
      connections: CONNECTIONS,
      duration: SECONDS,
    });
    const failed = result.non2xx + result.errors + result.timeouts;
    rows.push([
      load.what,
      String(CONNECTIONS),
      result.latency.p50.toFixed(1),
      result.latency.p99.toFixed(1),
      result.requests.average.toFixed(0),
      String(failed),
    ]);
    if (failed > 0)
      failures.push(
        `${load.what}: ${result.non2xx} non-2xx, ${result.errors} connection errors, ${result.timeouts} timeouts`,
      );
  }

  const [one, five] = loadavg();
  process.stdout.write(
    `\ndrctl serve of examples/two-site/warm-standby.yaml, scenario ${SCENARIO}, load average ${one?.toFixed(2)} / ${five?.toFixed(2)}\n\n`,
  );
  process.stdout.write(
    `failover run created (journal time) → incident in the incident API and on /status.json, each polled every ${POLL_MS} ms\n\n`,
  );
  table(
    ['drill', 'in the store after ms', 'on /status.json after ms', 'flows affected', 'drill result'],
    drillRows,
  );
  const worst = Math.max(...visible);
  process.stdout.write(
    `\nworst ${worst} ms: target ${TARGET_MS} ms ${worst <= TARGET_MS ? 'met' : 'NOT met'}\n\n`,
  );
  process.stdout.write(`${SECONDS} s per row, no sign-in\n\n`);
  table(['what', 'connections', 'p50 ms', 'p99 ms', 'req/s', 'failed'], rows);
  for (const failure of failures) process.stdout.write(`  ${failure}\n`);
} finally {
  server?.kill('SIGTERM');
  await new Promise((resolveExit) => server?.once('exit', resolveExit));
  rmSync(dir, { recursive: true, force: true });
}

async function waitFor(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  log?: () => string,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out${log === undefined ? '' : `\n${log()}`}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, everyMs));
  }
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |\n`;
  process.stdout.write(line(head));
  process.stdout.write(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
  for (const row of rows) process.stdout.write(line(row));
}
