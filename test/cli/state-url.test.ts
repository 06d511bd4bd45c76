/**
 * Every command that takes --state, run with a PostgreSQL URL (and with only DRCTL_STATE_URL set): it
 * uses the database, or refuses the URL when its state is local files only; none of them makes a
 * directory named `postgres:`. The commands are found by walking the CLI, so a new command with --state
 * and no case here fails the test.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/index.ts';
import type { CommandContext } from '../../src/cli/context.ts';
import { pgAvailable } from '../../src/pg/binaries.ts';
import { PgCluster } from '../../src/pg/cluster.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import { cli, startCli, stopAll } from '../engine/cli-process.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';

afterAll(stopAll);

/** `token create`, `notify test`… for every command (and subcommand) that has a --state option. */
async function commandsTakingState(): Promise<string[]> {
  const program = new Command('drctl');
  const context = { exitCode: 0, debug: false, out: process.stdout, err: process.stderr } as CommandContext;
  for (const entry of commands) (await entry.load())(program, context);
  const found: string[] = [];
  const walk = (command: Command, path: string[]): void => {
    if (command.options.some((option) => option.long === '--state')) found.push(path.join(' '));
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  for (const command of program.commands) walk(command, [command.name()]);
  return found.sort();
}

type Case =
  /** runs and exits; the database must hold the schema afterwards */
  | { args: (plan: string, dir: string) => string[]; expect: 'store'; code?: number }
  /** runs until stopped: stopped once the schema is there */
  | { args: (plan: string, dir: string) => string[]; expect: 'store-while-running' }
  /** keeps its state in local files: refuses a URL given as --state, and leaves DRCTL_STATE_URL to the others */
  | { args: (plan: string, dir: string) => string[]; expect: 'refused' };

const CASES: Record<string, Case> = {
  run: { args: (plan) => ['run', plan, '--runbook', 'failover'], expect: 'store' },
  status: { args: () => ['status'], expect: 'store' },
  approve: { args: () => ['approve', 'no-such-run', 'declare'], expect: 'store', code: 2 },
  reject: { args: () => ['reject', 'no-such-run', 'declare'], expect: 'store', code: 2 },
  confirm: { args: () => ['confirm', 'no-such-run', 'declare'], expect: 'store', code: 2 },
  resume: { args: () => ['resume', 'no-such-run'], expect: 'store', code: 2 },
  cancel: { args: () => ['cancel', 'no-such-run'], expect: 'store', code: 2 },
  'audit verify': { args: () => ['audit', 'verify', 'no-such-run'], expect: 'store', code: 2 },
  'audit export': { args: () => ['audit', 'export', 'no-such-run'], expect: 'store', code: 2 },
  compliance: { args: (plan) => ['compliance', plan], expect: 'store', code: 1 },
  attest: { args: (plan) => ['attest', plan], expect: 'store' },
  tabletop: {
    args: (plan) => ['tabletop', plan, '--workload', 'shop', '--attendees', 'alice'],
    expect: 'store',
    // nobody answers the walk-through on stdin
    code: 1,
  },
  pir: { args: () => ['pir', 'no-such-run'], expect: 'store', code: 2 },
  'report audit': {
    args: (plan, dir) => ['report', 'audit', plan, '--since', '2026-01-01', '--out', join(dir, 'pack')],
    expect: 'store',
  },
  'token create': { args: () => ['token', 'create', 'alice', '--role', 'operator'], expect: 'store' },
  'token list': { args: () => ['token', 'list'], expect: 'store' },
  'token revoke': { args: () => ['token', 'revoke', 'no-such-token'], expect: 'store', code: 2 },
  'notify test': {
    args: (plan) => ['notify', 'test', plan, '--channel', 'nowhere'],
    expect: 'store',
    code: 1,
  },
  verify: { args: (plan) => ['verify', plan, '--workload', 'shop'], expect: 'store', code: 2 },
  monitor: { args: (plan) => ['monitor', plan], expect: 'store-while-running' },
  serve: { args: (plan) => ['serve', plan, '--listen', '127.0.0.1:0'], expect: 'store-while-running' },
  drill: { args: (plan) => ['drill', plan, '--scenario', 'east-killed'], expect: 'refused' },
  'drill continue': { args: () => ['drill', 'continue', 'no-such-drill'], expect: 'store', code: 2 },
  'drill note': { args: () => ['drill', 'note', 'no-such-drill', 'a', 'note'], expect: 'store', code: 2 },
  demo: { args: () => ['demo'], expect: 'refused' },
  readiness: { args: (plan) => ['readiness', plan], expect: 'refused' },
  preflight: { args: (plan) => ['preflight', plan], expect: 'store' },
};

/** Commands whose --state default did not read DRCTL_STATE_URL before it came from one place. */
const ENV_CHECKED = ['token', 'verify', 'pir', 'report', 'tabletop', 'compliance', 'monitor', 'status'];

/** Every path under `dir` named `postgres:` (what `resolve('postgres://…')` makes). */
function postgresDirs(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((entry) =>
    entry.split('/').some((part) => part.startsWith('postgres')),
  );
}

let cluster: PgCluster | undefined;
let schemas = 0;

describe.skipIf(!pgAvailable())('every command taking --state, on PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await PgCluster.create({ sites: ['east'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  let admin: PostgresStore | undefined;
  const schemaExists = async (schema: string): Promise<boolean> => {
    admin ??= await PostgresStore.open(cluster!.node('east').url, { schema: 'state_url_admin' });
    const [row] = await admin.sql<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
      `"${schema}".runs`,
    ]);
    return row?.present === true;
  };
  afterAll(async () => {
    await admin?.close();
  });

  it('has a case for every command that takes --state', async () => {
    expect(await commandsTakingState()).toEqual(Object.keys(CASES).sort());
  });

  it('uses the database named by --state or DRCTL_STATE_URL, and never makes a postgres: directory', async () => {
    const failures: string[] = [];
    const trial = async (name: string, spec: Case, how: '--state' | 'DRCTL_STATE_URL'): Promise<void> => {
      const dir = tempDir('drctl-state-url-');
      const plan = writePlan(dir, [{ id: 'declare', run: 'true' }]);
      const schema = `state_url_${process.pid}_${(schemas += 1)}`;
      const url = `${cluster!.node('east').url}?schema=${schema}`;
      const args = [...spec.args(plan, dir), ...(how === '--state' ? ['--state', url] : [])];
      const env = {
        DRCTL_STATE_DIR: join(dir, 'local'),
        ...(how === '--state' ? {} : { DRCTL_STATE_URL: url }),
      };
      const label = `${name} (${how})`;
      let stderr: string;
      if (spec.expect === 'store-while-running') {
        const running = startCli(args, { cwd: dir, env });
        const since = Date.now();
        while (
          !(await schemaExists(schema)) &&
          Date.now() - since < 30_000 &&
          running.child.exitCode === null
        )
          await sleep(100);
        running.child.kill('SIGTERM');
        stderr = (await running.exit).stderr;
        if (!(await schemaExists(schema))) failures.push(`${label}: the database was not used; ${stderr}`);
      } else {
        const result = await cli(args, { cwd: dir, env });
        stderr = result.stderr;
        if (spec.expect === 'refused') {
          if (how === '--state' && (result.code !== 2 || !stderr.includes('DRCTL_STORE_UNSUPPORTED')))
            failures.push(`${label}: not refused (${result.code}): ${stderr}`);
        } else {
          if (result.code !== (spec.code ?? 0)) failures.push(`${label}: exit ${result.code}: ${stderr}`);
          if (!(await schemaExists(schema))) failures.push(`${label}: the database was not used`);
          if (existsSync(join(dir, '.drctl', 'state.db'))) failures.push(`${label}: wrote ./.drctl`);
        }
      }
      if (stderr.includes(cluster!.password)) failures.push(`${label}: printed the password`);
      const strays = postgresDirs(dir);
      if (strays.length > 0) failures.push(`${label}: made ${strays.join(', ')}`);
    };
    // every command with --state; with DRCTL_STATE_URL alone, those whose default once ignored it
    const trials = Object.entries(CASES).flatMap(([name, spec]) =>
      (ENV_CHECKED.some((prefix) => name.startsWith(prefix))
        ? (['--state', 'DRCTL_STATE_URL'] as const)
        : (['--state'] as const)
      ).map((how) => () => trial(name, spec, how)),
    );
    // a few at a time: each is mostly a CLI process starting
    const next = async (): Promise<void> => {
      for (let run = trials.shift(); run !== undefined; run = trials.shift()) await run();
    };
    await Promise.all([next(), next(), next()]);
    expect(failures).toEqual([]);
  }, 300_000);

  it('creates, lists and revokes a token in the database the server reads', async () => {
    const dir = tempDir('drctl-state-url-token-');
    const url = `${cluster!.node('east').url}?schema=state_url_tokens_${process.pid}`;
    const created = await cli(['token', 'create', 'alice', '--role', 'operator', '--json', '--state', url], {
      cwd: dir,
    });
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string };
    const listed = await cli(['token', 'list', '--json'], { cwd: dir, env: { DRCTL_STATE_URL: url } });
    expect((JSON.parse(listed.stdout) as { tokens: { id: string }[] }).tokens.map((t) => t.id)).toEqual([
      token.id,
    ]);
    const { verifyToken } = await import('../../src/server/auth.ts');
    const store = await PostgresStore.open(url);
    try {
      expect(await verifyToken(store, token.token)).toMatchObject({ name: 'alice', role: 'operator' });
      const revoked = await cli(['token', 'revoke', token.id, '--state', url], { cwd: dir });
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await verifyToken(store, token.token)).toBeUndefined();
    } finally {
      await store.close();
    }
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);
});
