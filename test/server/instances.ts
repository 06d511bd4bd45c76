/**
 * Several real `drctl serve` processes on one PostgreSQL store, for the multi-instance tests: a plan in a
 * temporary directory, a schema of its own per test on a shared cluster, a token, and helpers to start,
 * kill and watch the instances.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createToken } from '../../src/server/index.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import type { JournalRecord, Lease } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { startCli } from '../engine/cli-process.ts';
import type { CliProcess } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

export type RunView = { id: string; status: string; steps: Array<{ id: string; status: string }> };

/** `count` steps in a chain, each sleeping `sleepS` then appending its id to exec.log; re-runnable. */
export function chainSteps(count: number, sleepS = 0.2): unknown[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `s${index + 1}`,
    ...(index === 0 ? {} : { needs: [`s${index}`] }),
    idempotent: true,
    run: `sleep ${sleepS}; echo s${index + 1} >> exec.log`,
  }));
}

export interface Instance {
  name: string;
  port: number;
  base: string;
  process: CliProcess;
  /** Started again with the same options (after a kill). */
  restart(): Instance;
}

export interface Site {
  dir: string;
  state: string;
  token: string;
  /** Starts `drctl serve plan.yaml` in the site's directory, or in `cwd` (another copy of the plan). */
  start(name: string, extra?: string[], cwd?: string): Promise<Instance>;
  api<T>(instance: Instance, method: string, path: string, body?: unknown): Promise<T>;
  waitUp(instance: Instance): Promise<void>;
  journal(runId: string): Promise<JournalRecord[]>;
  lease(runId: string): Promise<Lease | undefined>;
  /** How many times each line was appended to exec.log. */
  executions(): Map<string, number>;
  store(): Promise<PostgresStore>;
  /** Every instance started, killed ones included. */
  instances: readonly Instance[];
  close(): Promise<void>;
}

let schemas = 0;

/**
 * A plan with `steps` and a fresh schema on `baseUrl` (`postgres://…/db`); instances are started in the
 * plan's directory with `--state URL?schema=…` and a local state directory of their own.
 */
export async function site(
  baseUrl: string,
  steps: unknown[],
  options: { leaseTtlMs?: number; plan?: (dir: string) => unknown } = {},
): Promise<Site> {
  const dir = tempDir('drctl-instances-');
  writePlan(dir, steps);
  await options.plan?.(dir);
  const schema = `instances_${process.pid}_${(schemas += 1)}`;
  const state = `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}schema=${schema}`;
  const admin = await PostgresStore.open(state);
  const { token } = await createToken(admin, { name: 'alice', role: 'operator', createdBy: 'test' });
  const instances: Instance[] = [];
  const launch = (name: string, port: number, extra: string[], cwd = dir): Instance => {
    const process = startCli(
      [
        'serve',
        'plan.yaml',
        '--state',
        state,
        '--listen',
        `127.0.0.1:${port}`,
        '--poll-ms',
        '50',
        '--stop-grace',
        '100',
        '--lease-ttl',
        String(options.leaseTtlMs ?? 5000),
        ...extra,
      ],
      { cwd, env: { DRCTL_STATE_DIR: join(dir, `local-${name}`) } },
    );
    const instance: Instance = {
      name,
      port,
      base: `http://127.0.0.1:${port}`,
      process,
      restart: () => launch(name, port, extra, cwd),
    };
    instances.push(instance);
    return instance;
  };
  return {
    dir,
    state,
    token,
    start: async (name, extra = [], cwd = dir) => launch(name, await freePort(), extra, cwd),
    async api<T>(instance: Instance, method: string, path: string, body?: unknown): Promise<T> {
      const response = await fetch(`${instance.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await response.json()) as T;
    },
    async waitUp(instance) {
      await eventually(
        () =>
          fetch(`${instance.base}/healthz`).then(
            (r) => r.ok || undefined,
            () => undefined,
          ),
        20_000,
      );
    },
    journal: (runId) => admin.readJournal(runId),
    lease: (runId) => admin.getLease(runId),
    executions() {
      const file = join(dir, 'exec.log');
      const counts = new Map<string, number>();
      if (!existsSync(file)) return counts;
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean))
        counts.set(line, (counts.get(line) ?? 0) + 1);
      return counts;
    },
    store: () => Promise.resolve(admin),
    instances,
    async close() {
      for (const instance of instances) instance.process.child.kill('SIGKILL');
      await Promise.all(instances.map((instance) => instance.process.exit));
      await admin.close();
    },
  };
}
