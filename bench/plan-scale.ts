/**
 * Scale benchmark for plan loading and analysis: generates a plan of 5,000 components and 20,000
 * dependency edges (250 workloads of 20 components, each with a failover and a failback runbook),
 * writes it as YAML to a temporary directory, then times loadPlan and analyzePlan.
 * Target: load + analyze under 2 s. Run with `npm run bench:plan` (optionally `-- --runs 5`).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzePlan } from '../src/analysis/index.ts';
import { loadPlan } from '../src/plan/index.ts';
import { readSourceFile } from '../src/plan/source.ts';

export interface ScalePlanOptions {
  /** @default 5000 */
  components?: number;
  /** @default 20000 */
  edges?: number;
  /** @default 20 */
  componentsPerWorkload?: number;
  /** @default 1 */
  seed?: number;
}

/** A small deterministic generator so every run measures the same plan. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
}

/** The YAML text of a plan with the given number of components and dependency edges (acyclic). */
export function scalePlanYaml(options: ScalePlanOptions = {}): string {
  const total = options.components ?? 5_000;
  const edges = options.edges ?? 20_000;
  const perWorkload = options.componentsPerWorkload ?? 20;
  const next = random(options.seed ?? 1);

  // edges only point from a component to one with a lower index, so the graph cannot have a cycle
  const dependsOn: Array<Set<number>> = Array.from({ length: total }, () => new Set());
  let count = 0;
  while (count < edges) {
    const from = 1 + Math.floor(next() * (total - 1));
    const to = Math.floor(next() * from);
    const deps = dependsOn[from] as Set<number>;
    if (deps.has(to)) continue;
    deps.add(to);
    count++;
  }

  const id = (i: number): string => `c${i}`;
  const kinds = ['postgres', 'http-service', 'files', 'process'];
  const strategies = ['hot-standby', 'warm-standby', 'active-active'];
  const out: string[] = [
    'version: 1',
    'name: scale',
    'review: { last: 2026-01-15, by: lead }',
    'sites:',
    '  east: { role: primary }',
    '  west: { role: secondary }',
    'contacts:',
    '  - { id: lead, name: DR Lead, backup: deputy }',
    '  - { id: deputy, name: Deputy Lead, backup: lead }',
    'activation:',
    '  criteria: ["east unreachable for 15 minutes"]',
    '  approvers: [lead, deputy]',
    'workloads:',
  ];
  for (let w = 0; w * perWorkload < total; w++) {
    const strategy = strategies[w % strategies.length];
    out.push(
      `  - id: w${w}`,
      `    tier: 1`,
      `    strategy: ${strategy}`,
      `    owner: lead`,
      `    signoff: { by: lead, at: 2026-01-10 }`,
      `    components:`,
    );
    const first = w * perWorkload;
    const last = Math.min(total, first + perWorkload);
    for (let i = first; i < last; i++) {
      const kind = kinds[i % kinds.length] as string;
      const deps = [...(dependsOn[i] as Set<number>)].map(id).join(', ');
      const data = kind === 'postgres' || kind === 'files';
      out.push(
        `      - id: ${id(i)}`,
        `        kind: ${kind}`,
        `        placement: { east: { url: "http://127.0.0.1:${10_000 + (i % 50_000)}" }, west: { url: "http://127.0.0.1:${20_000 + (i % 40_000)}", standby: true } }`,
      );
      if (deps) out.push(`        depends_on: [${deps}]`);
      if (data) {
        out.push(
          `        replication: { mode: async, max_lag: 10s }`,
          `        backups: [{ every: 1h, to: west, media: object }]`,
        );
      }
    }
    const a = id(first);
    const b = id(Math.min(last - 1, first + 1));
    out.push(
      `    runbooks:`,
      `      failover:`,
      `        steps:`,
      `          - { id: declare, approval: { by: [lead, deputy] }, expected: 5m }`,
      `          - { id: promote, needs: [declare], action: postgres.promote, with: { component: ${a}, site: west }, expected: 1m, contingency: 1m, validate: [{ sql: "select true" }] }`,
      `          - { id: start, needs: [promote], action: process.start, with: { component: ${b}, site: west }, expected: 2m, validate: [{ http: "http://127.0.0.1:8082/health" }] }`,
      `          - { id: route, needs: [start], action: router.switch, with: { site: west }, expected: 30s, validate: [{ http: "http://127.0.0.1:8080/health" }] }`,
      `      failback:`,
      `        steps:`,
      `          - { id: resync, action: postgres.resync, with: { component: ${a}, site: east }, expected: 20m, validate: [{ sql: "select true" }] }`,
      `          - { id: route-home, needs: [resync], action: router.switch, with: { site: east }, expected: 30s, validate: [{ http: "http://127.0.0.1:8080/health" }] }`,
    );
  }
  out.push(
    'drills:',
    '  history:',
    '    - { type: tabletop, at: 2026-02-01, result: passed }',
    '    - { type: partial, at: 2025-12-01, result: passed }',
    '    - { type: full, at: 2025-06-01, result: passed }',
    '    - { type: backup-restore, at: 2026-02-20, result: passed }',
  );
  return `${out.join('\n')}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const runsFlag = process.argv.indexOf('--runs');
  const runs = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 3;
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-'));
  try {
    const file = join(dir, 'plan.yaml');
    const started = performance.now();
    writeFileSync(file, scalePlanYaml());
    const generateMs = performance.now() - started;
    const loads: number[] = [];
    const analyses: number[] = [];
    let summary = '';
    for (let run = 0; run < runs; run++) {
      const t0 = performance.now();
      const plan = await loadPlan(file);
      const t1 = performance.now();
      const analysis = analyzePlan(plan, { now: new Date('2026-03-01T12:00:00Z') });
      const t2 = performance.now();
      loads.push(t1 - t0);
      analyses.push(t2 - t1);
      const components = plan.workloads.reduce((n, w) => n + w.components.length, 0);
      const edges = plan.workloads.reduce(
        (n, w) => n + w.components.reduce((m, c) => m + c.dependsOn.length, 0),
        0,
      );
      summary =
        `${components} components, ${edges} dependency edges, ${plan.workloads.length} workloads, ` +
        `${analysis.runbooks.length} runbooks, ${analysis.findings.length} findings, ` +
        `${analysis.recoveryOrder.length} recovery waves; YAML ${(statSync(file).size / 1_048_576).toFixed(1)} MB`;
    }
    const totals = loads.map((l, i) => l + (analyses[i] ?? 0));
    // the loader parses with a position index; timing the same read and parse alone shows how much of loadPlan it is
    const t0 = performance.now();
    await readSourceFile(file, 'plan.yaml');
    const parseMs = performance.now() - t0;
    const ms = (n: number): string => `${n.toFixed(0)} ms`;
    console.log(summary);
    console.log(`node ${process.version}, ${runs} runs; generate + write ${ms(generateMs)}`);
    console.log(`loadPlan     first ${ms(loads[0] ?? 0)}, median ${ms(median(loads))}`);
    console.log(`  of which reading and parsing YAML with positions (warm) ${ms(parseMs)}`);
    console.log(`analyzePlan  first ${ms(analyses[0] ?? 0)}, median ${ms(median(analyses))}`);
    console.log(`total        first ${ms(totals[0] ?? 0)}, median ${ms(median(totals))} (target < 2000 ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
