/**
 * Command start-up: the common commands as a user runs them (`node bin/drctl.js ...`, the compiled
 * build), each against a bare `node -e 0` in the same run, interleaved so both see the same machine
 * load. Prints the median wall time of each and the ratio. Target: ≤ 2× `node -e 0` for validate,
 * status and approve.
 *
 *   npm run bench:cli [-- --runs 15] [-- --sources]   (--sources: also time the tsx path of development)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/drctl.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
const SOURCES = process.argv.includes('--sources');

execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

// a run waiting for an approval by a quorum of many, so every timed `approve` records a real approval
const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const approvers = Array.from({ length: RUNS * 2 + 4 }, (_, i) => `p${i}`);
writeFileSync(
  join(dir, 'plan.yaml'),
  stringify({
    version: 1,
    name: 'bench',
    sites: { east: { role: 'primary' }, west: { role: 'secondary' } },
    contacts: approvers.map((id, i) => ({ id, name: id, backup: approvers[(i + 1) % approvers.length] })),
    workloads: [
      {
        id: 'shop',
        tier: 1,
        strategy: 'hot-standby',
        owner: 'p0',
        runbooks: {
          failover: {
            steps: [
              { id: 'declare', approval: { by: approvers, quorum: approvers.length } },
              { id: 'promote', needs: ['declare'], run: 'true' },
            ],
          },
        },
      },
    ],
  }),
);
const state = ['--state', join(dir, 'state')];
const drctl = (args: string[], env: NodeJS.ProcessEnv = {}): { ms: number; code: number | null } => {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, DRCTL_FROM_SOURCES: '', DRCTL_USER: 'p0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { ms: performance.now() - started, code: result.status };
};
const started = drctl(['run', 'plan.yaml', '--runbook', 'failover', '--no-wait', ...state]);
if (started.code !== 0) throw new Error('could not start the run the approvals go to');
const runId = String(
  (
    JSON.parse(
      spawnSync(process.execPath, [BIN, 'status', ...state, '--json'], { cwd: dir }).stdout.toString(),
    ) as { runs: Array<{ id: string }> }
  ).runs[0]?.id,
);

let approver = 1;
const COMMANDS: Array<{ name: string; args: () => string[]; target?: number }> = [
  { name: 'validate', args: () => ['validate', join(ROOT, 'examples/two-site/plan.yaml')], target: 2 },
  { name: 'status', args: () => ['status', runId, ...state], target: 2 },
  {
    name: 'approve',
    args: () => ['approve', runId, 'declare', '--as', `p${approver++}`, ...state],
    target: 2,
  },
  { name: 'analyze', args: () => ['analyze', join(ROOT, 'examples/two-site/plan.yaml')] },
  { name: '--help', args: () => ['--help'] },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function bare(): number {
  const t = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  return performance.now() - t;
}

const loadBefore = loadavg()[0]!;
const rows: string[][] = [];
for (const command of COMMANDS) {
  const node: number[] = [];
  const built: number[] = [];
  const sources: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    node.push(bare());
    const result = drctl(command.args());
    if (result.code !== 0 && result.code !== 1) throw new Error(`${command.name} exited ${result.code}`);
    built.push(result.ms);
    if (SOURCES) sources.push(drctl(command.args(), { DRCTL_FROM_SOURCES: '1' }).ms);
  }
  const base = median(node);
  const ratio = median(built) / base;
  rows.push([
    command.name,
    base.toFixed(0),
    median(built).toFixed(0),
    `${ratio.toFixed(2)}×`,
    ...(SOURCES ? [`${(median(sources) / base).toFixed(2)}×`] : []),
    command.target === undefined
      ? ''
      : ratio <= command.target
        ? `≤ ${command.target}× met`
        : `> ${command.target}×`,
  ]);
}

const header = ['command', 'node -e 0 ms', 'drctl ms', 'ratio', ...(SOURCES ? ['tsx ratio'] : []), 'target'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
console.log(
  `\n${RUNS} runs each, medians, interleaved with node -e 0 (node ${process.version}), load average ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)}`,
);
console.log(line(header));
for (const row of rows) console.log(line(row));
