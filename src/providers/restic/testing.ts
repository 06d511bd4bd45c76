/**
 * Test support for the backup engines: a plan file with one files component whose backups go to a
 * restic repository, an action context that collects evidence, and whether restic is installed here.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadPlan } from '../../plan/index.ts';
import type { Plan } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';

export function hasBinary(name: string): boolean {
  try {
    execFileSync(name, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface EngineContext extends ActionContext {
  recorded: Record<string, unknown>;
}

export function engineContext(plan: Plan, stateDir: string): EngineContext {
  const recorded: Record<string, unknown> = {};
  return {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan,
    stateDir,
    evidence: (name, value) => void (recorded[name] = value),
    recorded,
  };
}

/** A plan with component `docs` at `data/` backed up by restic to `repo/`, and whatever `workloadExtra` adds. */
export async function resticPlan(
  dir: string,
  options: {
    passwordEnv?: string;
    keep?: string;
    rpo?: string;
    workloadExtra?: string;
    verifyEvery?: string;
  } = {},
): Promise<{ plan: Plan; file: string }> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const file = join(dir, 'plan.yaml');
  writeFileSync(
    file,
    `version: 1
name: restic-test
sites:
  office: { role: primary }
  vault: { role: backup }
contacts:
  - { id: erin, name: Erin, role: admin, email: erin@example.com }
workloads:
  - id: archive
    tier: 3
    strategy: backup-restore
    owner: erin
    rto: 1h
    rpo: ${options.rpo ?? '1d'}
    components:
      - id: docs
        kind: files
        placement:
          office: { path: data }
        backups:
          - { engine: restic, every: 1d, to: vault, repository: repo, password_env: ${options.passwordEnv ?? 'DRCTL_TEST_RESTIC_PASSWORD'}, keep: ${options.keep ?? '{ daily: 7, weekly: 4, monthly: 6, yearly: 2 }'}, verify_every: ${options.verifyEvery ?? '30d'} }
${options.workloadExtra ?? ''}`,
  );
  return { plan: await loadPlan(file), file };
}
