/**
 * `drctl serve` under load: a real `drctl serve` process (the compiled build, as `npx drctl serve` runs)
 * on a loopback port, loaded by autocannon from this process with 200 connections each, on a bare
 * `node:http` server answering a constant (what this machine allows at all, the baseline), `/healthz`
 * (drctl's HTTP stack alone), the readiness API, a run's JSON view and a run's console page.
 * Then live events: a run of chained steps started through the API while SSE clients watch it; for
 * every `step-succeeded` record, the time from its journal timestamp to each client receiving it.
 * Targets: readiness API p99 under 50 ms at 200 connections; event to console under 100 ms.
 *
 *   npm run bench:serve [-- --seconds 10] [-- --connections 200] [-- --steps 60] [-- --profile DIR]
 *
 * `--profile DIR` writes the server's CPU profile (node --cpu-prof) into DIR, and `--only WHAT` loads
 * one row only (`readiness`, `run view`, ...), for profiling one route.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { freePort } from '../src/system/ports.ts';
import { table } from './table.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/drctl.js');
const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 200);
const STEPS = arg('steps', 60);
const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const PROFILE = flag('profile');
const ONLY = flag('only');

execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-serve-'));
const planFile = join(dir, 'plan.yaml');
const steps = Array.from({ length: STEPS }, (_, i) => ({
  id: `s${i + 1}`,
  run: 'true',
  ...(i === 0 ? {} : { needs: [`s${i}`] }),
}));
writeFileSync(
  planFile,
  stringify({
    version: 1,
    name: 'bench',
    sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
    contacts: [
      { id: 'olga', name: 'Olga', backup: 'vera' },
      { id: 'vera', name: 'Vera', backup: 'olga' },
      { id: 'ada', name: 'Ada', backup: 'olga' },
    ],
    workloads: ['shop', 'billing', 'reports', 'search'].map((id, i) => ({
      id,
      tier: i,
      strategy: i < 2 ? 'warm-standby' : 'backup-restore',
      owner: 'olga',
      rto: '15m',
      rpo: '5m',
      runbooks: {
        failover: { steps: i === 0 ? steps : [{ id: 'declare', manual: 'declare DR' }] },
      },
    })),
  }),
);
const state = join(dir, 'state');
const drctl = (args: string[]): string =>
  execFileSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, DRCTL_FROM_SOURCES: '' },
    encoding: 'utf8',
  });
const tokenOf = (name: string, role: string): string => {
  const printed = drctl(['token', 'create', name, '--role', role, '--state', state, '--json']);
  return (JSON.parse(printed) as { token: string }).token;
};

const operator = tokenOf('olga', 'operator');
const viewer = tokenOf('vera', 'viewer');
const approver = tokenOf('ada', 'approver');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let server: ChildProcess | undefined;
const barePort = await freePort();
// the same load on the least a node process can answer with: the machine's own limit, same run
const bare = spawn(
  process.execPath,
  [
    '-e',
    `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"ok":true}'); }).listen(${barePort}, '127.0.0.1')`,
  ],
  { stdio: 'ignore' },
);

try {
  const profile = PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(PROFILE)];
  server = spawn(
    process.execPath,
    [...profile, BIN, 'serve', planFile, '--state', state, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dir,
      env: { ...process.env, DRCTL_FROM_SOURCES: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let serverLog = '';
  server.stderr?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  await waitFor(
    async () => (await fetch(`${base}/healthz`)).ok,
    20_000,
    () => serverLog,
  );

  const auth = { authorization: `Bearer ${viewer}` };
  const api = async (method: string, path: string, token: string, body?: unknown): Promise<unknown> => {
    const answer = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  };
  // a finished run to read while loaded: its view and console page are what people open most
  const finished = (await api('POST', '/runs', operator, { runbook: 'shop/failover' })) as { id: string };
  await waitFor(
    async () =>
      ((await api('GET', `/runs/${finished.id}`, viewer)) as { status: string }).status === 'succeeded',
    60_000,
  );
  await api('POST', '/readiness/check', operator, {});

  await waitFor(async () => (await fetch(`http://127.0.0.1:${barePort}/`)).ok, 5_000);
  const loads: Array<{ what: string; path: string; base?: string }> = [
    { what: 'bare node:http (baseline)', path: '/', base: `http://127.0.0.1:${barePort}` },
    { what: '/healthz', path: '/healthz' },
    { what: 'readiness API', path: '/api/v1/readiness' },
    { what: 'run view API', path: `/api/v1/runs/${finished.id}` },
    { what: 'run console page', path: `/runs/${finished.id}` },
  ];
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const load of loads.filter((candidate) => ONLY === undefined || candidate.what.includes(ONLY))) {
    const result = await autocannon({
      url: `${load.base ?? base}${load.path}`,
      connections: CONNECTIONS,
      duration: SECONDS,
      headers: auth,
    });
    rows.push([
      load.what,
      String(CONNECTIONS),
      result.latency.p50.toFixed(1),
      result.latency.p99.toFixed(1),
      result.requests.average.toFixed(0),
      String(result.non2xx + result.errors + result.timeouts),
    ]);
    if (result.non2xx + result.errors + result.timeouts > 0)
      failures.push(
        `${load.what}: ${result.non2xx} non-2xx, ${result.errors} connection errors, ${result.timeouts} timeouts`,
      );
  }

  const eventRows: string[][] = [];
  for (const clients of ONLY === undefined ? [1, CONNECTIONS] : []) {
    const lags = await eventLatency(base, { operator, viewer, approver }, clients);
    eventRows.push([
      String(clients),
      String(lags.length),
      percentile(lags, 0.5).toFixed(1),
      percentile(lags, 0.99).toFixed(1),
      Math.max(...lags).toFixed(1),
    ]);
  }

  const [one, five] = loadavg();
  process.stdout.write(
    `\ndrctl serve, ${SECONDS} s per row, load average ${one?.toFixed(2)} / ${five?.toFixed(2)}\n\n`,
  );
  table(['what', 'connections', 'p50 ms', 'p99 ms', 'req/s', 'failed'], rows);
  for (const failure of failures) process.stdout.write(`  ${failure}\n`);
  process.stdout.write(`\nstep finished (journal time) → SSE client received, ${STEPS}-step run\n\n`);
  table(['SSE clients', 'events', 'p50 ms', 'p99 ms', 'max ms'], eventRows);
} finally {
  bare.kill();
  server?.kill('SIGTERM');
  await new Promise((resolveExit) => server?.once('exit', resolveExit));
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Opens `clients` SSE streams on the run's events, starts a run, and returns, for every client and
 * every `step-succeeded` record, receive time minus the record's journal time (one clock: this machine).
 */
async function eventLatency(
  base: string,
  tokens: { operator: string; viewer: string; approver: string },
  clients: number,
): Promise<number[]> {
  const lags: number[] = [];
  const abort = new AbortController();
  const call = async (method: string, path: string, token: string, body?: unknown): Promise<unknown> =>
    (
      await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    ).json();
  // an activation approval in front, so every stream is open before the first step runs
  const run = (await call('POST', '/runs', tokens.operator, {
    runbook: 'shop/failover',
    activation: { approvers: ['ada'], quorum: 1, reason: 'bench' },
  })) as { id: string };
  const streams = await Promise.all(
    Array.from({ length: clients }, () =>
      watch(`${base}/api/v1/runs/${run.id}/events`, tokens.viewer, abort, lags),
    ),
  );
  const view = (await call('GET', `/runs/${run.id}`, tokens.viewer)) as { waiting: Array<{ step: string }> };
  await call('POST', `/runs/${run.id}/steps/${view.waiting[0]!.step}/approve`, tokens.approver, {});
  await Promise.all(streams.map((stream) => stream.done));
  abort.abort();
  return lags;
}

/** One SSE client; resolves once subscribed (`ready`), with `done` resolving after the run's last step. */
async function watch(
  url: string,
  token: string,
  abort: AbortController,
  lags: number[],
): Promise<{ done: Promise<void> }> {
  const answer = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  const reader = answer.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let seen = 0;
  let ready!: () => void;
  const subscribed = new Promise<void>((resolveReady) => (ready = resolveReady));
  const done = (async () => {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return;
      const receivedAt = Date.now();
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (message.includes('event: ready')) ready();
        const data = message.split('\n').find((line) => line.startsWith('data: '));
        if (data === undefined || !message.includes('event: journal')) continue;
        const event = JSON.parse(data.slice(6)) as { data: { type: string; at: string } };
        if (event.data.type !== 'step-succeeded') continue;
        lags.push(receivedAt - Date.parse(event.data.at));
        if (++seen === STEPS) return;
      }
    }
  })();
  await subscribed;
  return { done };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, log?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out${log === undefined ? '' : `\n${log()}`}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}
