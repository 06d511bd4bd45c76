/**
 * Sites for the monitor tests: one small HTTP server per site in its own process (so a test can SIGKILL or
 * SIGSTOP it like a lost site), a plan aimed at them, and the engine on a real SQLite store.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Engine } from '../../src/engine/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';
import { providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { tempDir } from '../support/tmp.ts';

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok'); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export interface SiteServer {
  port: number;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): void;
}

const started = new Set<ChildProcess>();

/** Starts a site's HTTP server in its own process; `stopAllSites` ends it. */
export async function startSite(): Promise<SiteServer> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('exit', (code) => reject(new Error(`site server exited with ${code}`)));
  });
  return {
    port,
    child,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal);
    },
  };
}

/** Ends every site process a test started, paused ones included. */
export async function stopAllSites(): Promise<void> {
  await Promise.all(
    [...started].map(async (child) => {
      started.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }),
  );
}

export interface WorkloadSpec {
  id: string;
  automatic: boolean;
  detectAfter: string;
  east: number;
  west: number;
  interval?: string;
  timeout?: string;
  failures?: number;
  tier?: number;
  strategy?: string;
}

/** A plan with one HTTP component per workload, placed at east (primary) and west (standby), and a trivial failover runbook. */
export async function writePlan(
  workloads: WorkloadSpec[],
  dir = tempDir('drctl-monitor-'),
): Promise<{ plan: Plan; dir: string; file: string }> {
  const file = join(dir, 'plan.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      name: 'monitor test',
      sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
      contacts: [
        { id: 'alice', name: 'Alice Ng', role: 'DR lead', backup: 'bob' },
        { id: 'bob', name: 'Bob Li', backup: 'alice' },
        { id: 'carol', name: 'Carol Diaz', backup: 'bob' },
      ],
      activation: { criteria: ['east unreachable'], approvers: ['bob', 'carol'], quorum: 1 },
      workloads: workloads.map((w) => ({
        id: w.id,
        tier: w.tier ?? 1,
        strategy: w.strategy ?? 'hot-standby',
        owner: 'alice',
        failover: { automatic: w.automatic, detect_after: w.detectAfter },
        components: [
          {
            id: `${w.id}-api`,
            kind: 'http-service',
            placement: {
              east: { url: `http://127.0.0.1:${w.east}` },
              west: { url: `http://127.0.0.1:${w.west}`, standby: true },
            },
            probe: {
              url: '/health',
              interval: w.interval ?? '100ms',
              timeout: w.timeout ?? '200ms',
              failures: w.failures ?? 3,
            },
          },
        ],
        runbooks: {
          failover: {
            steps: [
              { id: 'promote', run: 'echo promoted west', expected: '1s' },
              { id: 'switch', needs: ['promote'], run: 'echo switched', expected: '1s' },
            ],
          },
          failback: { kind: 'failback', steps: [{ id: 'back', run: 'echo back', expected: '1s' }] },
        },
      })),
    }),
  );
  return { plan: await loadPlan(file), dir, file };
}

export async function engineOn(dir: string): Promise<{ engine: Engine; store: RunStore; stateDir: string }> {
  const stateDir = join(dir, '.drctl');
  const store = await openStore(stateDir);
  return { engine: new Engine({ store, providers, stateDir, pollMs: 20 }), store, stateDir };
}

/** Polls until `check` is truthy or `ms` pass; returns the last value. */
export async function until<T>(check: () => T | Promise<T>, ms = 10_000, every = 25): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await check();
  while (!value && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, every));
    value = await check();
  }
  return value;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
