import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { tempDir } from '../../test/support/tmp.ts';
import { loadPlan } from '../plan/index.ts';
import type { Plan } from '../plan/model.ts';
import { processProvider } from '../providers/process/index.ts';
import { supervisorFor } from '../supervise/index.ts';
import { SERVER_SCRIPT, alive } from '../supervise/test-helpers.ts';
import { freePort } from '../system/ports.ts';
import type { ActionContext, Provider } from '../providers/provider.ts';
import { checkReadiness, formatReadiness } from './readiness.ts';

let dir: string;
let stateDir: string;
let planPath: string;
let plan: Plan;

function context(): ActionContext {
  return {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    plan,
    stateDir,
    evidence: () => undefined,
  };
}

const { start, stop, kill } = processProvider.actions as Required<typeof processProvider.actions>;
const running = processProvider.checks.running;

beforeAll(async () => {
  dir = tempDir('drctl-readiness-');
  stateDir = join(dir, 'state');
  writeFileSync(join(dir, 'server.mjs'), SERVER_SCRIPT);
  // a port list, not port + i: a neighbouring port may be taken by anything else on the machine
  const [east, east2, west] = [await freePort(), await freePort(), await freePort()];
  planPath = join(dir, 'plan.yaml');
  writeFileSync(
    planPath,
    `version: 1
name: two-site
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice, backup: bob }
  - { id: bob, name: Bob, backup: alice }
workloads:
  - id: shop
    tier: 1
    strategy: warm-standby
    owner: alice
    components:
      - id: api
        kind: process
        placement:
          east: { command: "exec node server.mjs", ports: [${east}, ${east2}], env: { PORT: "{{port}}" }, ready: "http://127.0.0.1:{{port}}/health" }
          west: { command: "exec node server.mjs", port: ${west}, env: { PORT: "{{port}}" }, standby: true }
        probe: { url: "http://127.0.0.1:{{port}}/health", timeout: 2s }
`,
  );
  plan = await loadPlan(planPath);
  const ctx = context();
  await start.run(start.params.parse({ component: 'api', site: 'east' }), ctx);
  await start.run(start.params.parse({ component: 'api', site: 'west' }), ctx);
});

afterAll(async () => {
  await supervisorFor(stateDir).close({ graceMs: 1_000 });
});

describe('drctl readiness', () => {
  it('exits 0 with every fact ok while both sites run and answer their probes', async () => {
    const result = await runCli('readiness', planPath, '--state', stateDir, '--json');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      facts: { component: string; site: string | null; name: string; ok: boolean; value: unknown }[];
    };
    expect(report.ok).toBe(true);
    expect(report.facts.map((f) => [f.component, f.site, f.name, f.ok, f.value])).toEqual([
      ['api', 'east', 'running', true, 1],
      ['api', 'west', 'running', true, 1],
      ['api', 'east', 'probe', true, 200],
      ['api', 'west', 'probe', true, 200],
    ]);
  });

  it('prints a table with one row per fact', async () => {
    const result = await runCli('readiness', planPath, '--state', stateDir);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^COMPONENT\s+SITE\s+FACT\s+VALUE\s+LIMIT\s+OK\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^api\s+east\s+running\s+1\s+≥ 1\s+ok\s+1 instance running$/);
    expect(lines.at(-3)).toBe('all 4 facts hold');
    // the state directory holds no passed preflight nor drill of this plan: it is not proven yet
    expect(lines.at(-2)).toBe(
      'shop: needs verification (no passed preflight and drill of this plan version)',
    );
  });

  it('exits 1 naming the site when the warm standby is killed and its probe fails', async () => {
    const ctx = context();
    const [pid] = (await kill.run(kill.params.parse({ component: 'api', site: 'west' }), ctx)).output
      ?.pids as number[];
    expect(alive(pid ?? -1)).toBe(false);
    expect((await running.run(running.params.parse({ component: 'api', site: 'west' }), ctx)).ok).toBe(false);

    const result = await runCli('readiness', planPath, '--state', stateDir);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/api\s+west\s+running\s+0\s+≥ 1\s+BROKEN/);
    expect(result.stdout).toMatch(
      /api\s+west\s+probe\s+no answer\s+200\s+BROKEN\s+GET http:\/\/127\.0\.0\.1:\d+\/health: (connection refused|other side closed)/,
    );
    expect(result.stdout).toContain('2 of 4 facts broken');
  });

  it('turns a provider that throws into a broken fact naming the component, and keeps the other facts', async () => {
    const failing: Provider = {
      name: 'broken',
      description: 'a provider whose readiness fails',
      kinds: ['process'],
      actions: {},
      checks: {},
      readiness: () => Promise.reject(new Error('credentials rejected')),
    };
    const report = await checkReadiness(plan, { stateDir, providers: [failing] });
    expect(report.ok).toBe(false);
    expect(report.facts[0]).toEqual({
      component: 'api',
      site: undefined,
      name: 'provider',
      ok: false,
      value: 'error',
      message: 'broken could not report on api (sites: east, west): credentials rejected',
    });
    expect(report.facts.filter((f) => f.name === 'probe')).toHaveLength(2);
    expect(formatReadiness(report)).toContain('BROKEN');
  });

  it('lets a cold standby be down without breaking readiness', async () => {
    const cold: Plan = {
      ...plan,
      workloads: plan.workloads.map((w) => ({
        ...w,
        components: w.components.map((c) => ({ ...c, strategy: 'cold-standby' as const })),
      })),
    };
    const report = await checkReadiness(cold, { stateDir });
    expect(report.ok).toBe(true);
    expect(report.facts.find((f) => f.site === 'west' && f.name === 'probe')?.message).toContain(
      'a cold-standby standby may be down',
    );
  });

  it('runs tcp and command probes, and aims a path probe at each placement url', async () => {
    const base = plan.workloads[0]!.components[0]!;
    const withProbe = (probe: Partial<NonNullable<typeof base.probe>>, kind = 'other'): Plan => ({
      ...plan,
      workloads: plan.workloads.map((w) => ({
        ...w,
        components: [
          {
            ...base,
            kind,
            probe: {
              url: undefined,
              tcp: undefined,
              run: undefined,
              expectStatus: 200,
              intervalMs: 1_000,
              timeoutMs: 2_000,
              failures: 3,
              successes: 2,
              ...probe,
            },
          },
        ],
      })),
    });
    // east still runs; west was killed by the test before
    const tcp = await checkReadiness(withProbe({ tcp: '127.0.0.1:{{port}}' }), { stateDir });
    expect(tcp.facts.map((f) => [f.site, f.value])).toEqual([
      ['east', 'open'],
      ['west', 'closed'],
    ]);
    const run = await checkReadiness(withProbe({ run: 'exit 3' }), { stateDir });
    expect(run.facts).toMatchObject([
      { site: undefined, name: 'probe', ok: false, value: 3, limit: 0, message: 'exit 3: exit 3' },
    ]);

    const { probeTargets } = await import('./readiness.ts');
    const placed = {
      ...base,
      placement: base.placement.map((p, i) => ({ ...p, url: `http://127.0.0.1:900${i}` })),
    };
    const targets = probeTargets(placed, {
      ...withProbe({}).workloads[0]!.components[0]!.probe!,
      url: '/health',
    });
    expect(targets.map((t) => [t.site, t.url])).toEqual(
      placed.placement.map((p, i) => [p.site, `http://127.0.0.1:900${i}/health`]),
    );
  });

  it('stops a site through process.stop, and process.scale starts a site that is not running from its placement', async () => {
    const ctx = context();
    const stopped = await stop.run(stop.params.parse({ component: 'api', site: 'east', grace: '2s' }), ctx);
    expect(stopped.summary).toBe('api@east: stopped 1 instance');

    const scale = processProvider.actions.scale;
    const scaled = await scale.run(scale.params.parse({ component: 'api', site: 'east', instances: 2 }), ctx);
    expect(scaled.summary).toBe('api@east: 2 instances running');
    const ports = scaled.output?.ports as number[];
    const answers = await Promise.all(
      ports.map((port) => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status)),
    );
    expect(answers).toEqual([200, 200]);
    await stop.run(stop.params.parse({ component: 'api', site: 'east' }), ctx);
    expect((await running.run(running.params.parse({ component: 'api', site: 'east' }), ctx)).message).toBe(
      'api@east: 0 of 0 instances running, 1 wanted',
    );
  });
});
