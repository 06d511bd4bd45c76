/**
 * Every command's `--json` contract, checked the same way: on a good and on a bad input, stdout holds one
 * JSON document and nothing else, and the exit code is the README's (0 ok, 1 the plan or the run failed,
 * 2 a usage or environment error). A command added to the CLI adds its cases to CASES below.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { tempDir, writeFiles } from '../support/tmp.ts';

const PLAN = `version: 1
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice Ng, backup: bob }
  - { id: bob, name: Bob Park, backup: alice }
workloads:
  - id: shop
    tier: 2
    strategy: cold-standby
    owner: alice
    runbooks:
      failover:
        steps:
          - { id: declare, approval: { by: [alice] }, expected: 1m }
          - { id: switch, needs: [declare], run: echo switched, expected: 1s }
`;

interface Case {
  /** The command as a user types it, for the test name. */
  command: string;
  argv: () => string[];
  /** The exit code the README promises for this input. */
  code: 0 | 1 | 2;
}

let dir: string;
let state: string;
let plan: string;
let empty: string;
let waitingRun: string;

// Long-running commands (router, monitor, serve, demo, and a drill that runs) are left out: they stream
// JSON lines while they run and have their own tests. A drill with a bad scenario is checked here.
const CASES: Case[] = [
  {
    command: 'init',
    argv: () => ['init', join(dir, 'new-plan'), '--tier', '1', '--strategy', 'warm-standby', '--json'],
    code: 0,
  },
  { command: 'init (bad tier)', argv: () => ['init', join(dir, 'bad'), '--tier', '9', '--json'], code: 2 },
  { command: 'validate', argv: () => ['validate', plan, '--json'], code: 0 },
  { command: 'validate (empty plan)', argv: () => ['validate', empty, '--json'], code: 1 },
  { command: 'analyze', argv: () => ['analyze', plan, '--json'], code: 0 },
  { command: 'analyze (empty plan)', argv: () => ['analyze', empty, '--json'], code: 1 },
  { command: 'analyze (bad --now)', argv: () => ['analyze', plan, '--now', 'soon', '--json'], code: 2 },
  { command: 'readiness', argv: () => ['readiness', plan, '--state', state, '--json'], code: 0 },
  {
    command: 'readiness (empty plan)',
    argv: () => ['readiness', empty, '--state', state, '--json'],
    code: 1,
  },
  {
    command: 'render',
    argv: () => ['render', plan, '--out', join(dir, 'r.md'), '-f', 'md', '--json'],
    code: 0,
  },
  { command: 'render (bad format)', argv: () => ['render', plan, '--format', 'doc', '--json'], code: 2 },
  {
    command: 'run --dry-run',
    argv: () => ['run', plan, '--runbook', 'shop/failover', '--dry-run', '--json'],
    code: 0,
  },
  {
    command: 'run (unknown runbook)',
    argv: () => ['run', plan, '--runbook', 'nope', '--state', state, '--json'],
    code: 2,
  },
  { command: 'status', argv: () => ['status', '--state', state, '--json'], code: 0 },
  { command: 'status RUN', argv: () => ['status', waitingRun, '--state', state, '--json'], code: 0 },
  {
    command: 'status (unknown run)',
    argv: () => ['status', 'run-nope', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'approve (unknown run)',
    argv: () => ['approve', 'run-nope', 'declare', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'confirm (unknown run)',
    argv: () => ['confirm', 'run-nope', 'declare', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'resume (unknown run)',
    argv: () => ['resume', 'run-nope', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'cancel (unknown run)',
    argv: () => ['cancel', 'run-nope', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'audit verify',
    argv: () => ['audit', 'verify', waitingRun, '--state', state, '--json'],
    code: 0,
  },
  {
    command: 'audit verify (unknown run)',
    argv: () => ['audit', 'verify', 'run-nope', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'drill (unknown scenario)',
    argv: () => ['drill', plan, '--scenario', 'nope', '--state', state, '--json'],
    code: 2,
  },
  {
    command: 'compliance (empty plan)',
    argv: () => ['compliance', empty, '--state', state, '--json'],
    code: 1,
  },
  {
    command: 'token create',
    argv: () => ['token', 'create', 'ci', '--role', 'viewer', '--state', state, '--json'],
    code: 0,
  },
  {
    command: 'token create (bad role)',
    argv: () => ['token', 'create', 'ci', '--role', 'king', '--state', state, '--json'],
    code: 2,
  },
  { command: 'token list', argv: () => ['token', 'list', '--state', state, '--json'], code: 0 },
  {
    command: 'notify test (unknown channel)',
    argv: () => ['notify', 'test', plan, '--channel', 'chat', '--state', state, '--json'],
    code: 1,
  },
  // the last, since it approves the waiting run
  {
    command: 'approve',
    argv: () => ['approve', waitingRun, 'declare', '--as', 'alice', '--state', state, '--json'],
    code: 0,
  },
];

beforeAll(async () => {
  dir = writeFiles({ 'plan.yaml': PLAN, 'empty.yaml': '' });
  plan = join(dir, 'plan.yaml');
  empty = join(dir, 'empty.yaml');
  state = tempDir();
  const started = await runCli(
    'run',
    plan,
    '--runbook',
    'shop/failover',
    '--no-wait',
    '--state',
    state,
    '--json',
  );
  expect(started.stderr).toBe('');
  waitingRun = (JSON.parse(started.stdout) as { id: string; status: string }).id;
});

describe('every command with --json', () => {
  it.each(CASES.map((c) => [c.command, c] as const))(
    '%s prints one JSON document and nothing else, and exits as the README says',
    async (_name, { argv, code }) => {
      const result = await runCli(...argv());
      expect({ code: result.code, stderr: result.code === code ? '' : result.stderr }).toEqual({
        code,
        stderr: '',
      });
      expect(() => JSON.parse(result.stdout), result.stdout).not.toThrow();
      expect(result.stdout.trim().startsWith('{') || result.stdout.trim().startsWith('[')).toBe(true);
    },
  );
});
