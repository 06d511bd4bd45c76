/**
 * Output through a pipe arrives whole. Into a pipe Node writes what the pipe holds (64 KiB) at once and
 * queues the rest; a CLI that exits as soon as its command returns cut `drctl schema | wc -c` at 65,536
 * bytes with exit code 0. Each case runs bin/drctl.js as a person would, behind a reader that waits a
 * second before it reads, so the pipe is full while the command finishes: the command must wait for its
 * output before it exits.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { writeFiles } from '../support/tmp.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/drctl.js');

/** A plan whose `analyze --json` answer is well past 64 KiB: sixty workloads, each with findings. */
function manyWorkloads(count: number): string {
  const workloads = Array.from(
    { length: count },
    (_, i) => `  - id: w${i}
    tier: 1
    strategy: cold-standby
    owner: alice
    runbooks:
      failover:
        steps:
          - { id: s${i}, run: echo ok, expected: 1s }
`,
  );
  return `version: 1
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice Ng }
workloads:
${workloads.join('')}`;
}

/** Runs `drctl ARGS | (sleep 1; cat)` and returns what came out of the pipe and drctl's exit code. */
function throughSlowPipe(args: string[]): Promise<{ bytes: Buffer; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'bash',
      ['-c', 'set -o pipefail; "$0" "$1" "${@:2}" | { sleep 1; cat; }', process.execPath, BIN, ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ bytes: Buffer.concat(chunks), code: code ?? -1 }));
  });
}

// each case starts the CLI from its sources twice (in process and through bin/drctl.js), slow on a busy machine
describe('piped output', { timeout: 120_000 }, () => {
  it.concurrent('drctl schema arrives whole and parses', async () => {
    const expected = (await runCli('schema')).stdout;
    const { bytes, code } = await throughSlowPipe(['schema']);
    expect(code).toBe(0);
    expect(Buffer.byteLength(expected)).toBeGreaterThan(65_536);
    expect(bytes.length).toBe(Buffer.byteLength(expected));
    expect(JSON.parse(bytes.toString())).toHaveProperty('$schema');
  });

  it.concurrent('a rendered HTML runbook on stdout arrives whole', async () => {
    const args = ['render', 'examples/web-commerce/plan.yaml', '--format', 'html', '--out', '-'];
    const expected = (await runCli(...args)).stdout; // the tests run from the checkout's root
    const { bytes, code } = await throughSlowPipe(args);
    expect(code).toBe(0);
    expect(Buffer.byteLength(expected)).toBeGreaterThan(65_536);
    expect(bytes.length).toBe(Buffer.byteLength(expected));
    expect(bytes.toString().trimEnd()).toMatch(/<\/html>$/);
  });

  it.concurrent('a large analyze --json answer is one whole JSON document', async () => {
    const plan = join(writeFiles({ 'plan.yaml': manyWorkloads(60) }), 'plan.yaml');
    const { bytes } = await throughSlowPipe(['analyze', plan, '--json']);
    expect(bytes.length).toBeGreaterThan(65_536);
    const answer = JSON.parse(bytes.toString()) as { findings: unknown[] };
    expect(answer.findings.length).toBeGreaterThan(60);
  });
});
