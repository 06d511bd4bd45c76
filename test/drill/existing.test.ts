/**
 * Drills on an environment drctl did not bring up: the two-site shop on a bed of hosts (network
 * namespaces with sshd, PostgreSQL with a synchronous standby, the order service, drctl's router as the
 * front door), started by the test before any drill. The drill only acts on it, over SSH: a guard that fails
 * aborts it and every fault is gone; drctl SIGKILLed mid-drill leaves faults that undo themselves on their
 * host and that `drctl drill cleanup` removes; the reference disaster (east's database and service killed)
 * is failed over by the plan's runbook and measured.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../src/drill/index.ts';
import { closeExecutors } from '../../src/exec/index.ts';
import { pgAvailable } from '../../src/pg/index.ts';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/model.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { BedShop } from '../../src/testbed/shop.ts';
import { drctl, waitFor } from './support.ts';

const unavailable = NetnsBed.unavailable() ?? (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`drills on an existing environment skipped: ${unavailable}`);

function scenarios(trip: string): string {
  const radius =
    'blast_radius: { sites: [east, west], hosts: [db-east, app-east, app-west], components: [db, orders] }';
  return `
drills:
  scenarios:
    - id: east-slow-guarded
      disaster: network-outage
      workload: shop
      environment: existing
      max_duration: 1m
      ${radius}
      guards:
        - { name: no-trip-file, probe: { run: "test ! -e ${trip}", interval: 50ms, timeout: 1s, failures: 1 } }
      faults:
        - { kind: bandwidth, target: orders@east, bandwidth: 8mbps, duration: 30s }
      expect: { failover: false }
    - id: two-slow-sites
      disaster: network-outage
      workload: shop
      environment: existing
      max_duration: 1m
      ${radius}
      faults:
        - { kind: bandwidth, target: orders@east, bandwidth: 8mbps, duration: 3s }
        - { kind: bandwidth, target: orders@west, bandwidth: 8mbps }
      expect: { failover: false }
    - id: east-lost
      disaster: site-loss
      workload: shop
      environment: existing
      max_duration: 1m
      ${radius}
      faults:
        - { kind: kill, target: db@east }
        - { kind: kill, target: orders@east }
`;
}

describe.skipIf(unavailable !== undefined)('drills on an environment that already runs', () => {
  let bed: NetnsBed;
  let shop: BedShop;
  let plan: Plan;
  let planFile: string;
  let dir: string;
  let state: string;
  let trip: string;
  /** Whether drctl's traffic-control qdisc is on a host of the bed. */
  const shaped = async (host: string): Promise<boolean> =>
    /qdisc htb 7d1: dev \S+ root/.test(await bed.inside(host, 'tc qdisc show'));
  const recorded = (): string[] =>
    readdirSync(join(state, 'drill-faults')).filter((f) => f.endsWith('.json'));

  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
    dir = mkdtempSync(join(tmpdir(), 'drctl-existing-'));
    chmodSync(dir, 0o755);
    // the environment is the test's, up before any drill: drctl only acts on it
    shop = await BedShop.create({ bed, dir });
    state = join(dir, 'state');
    trip = join(dir, 'trip');
    planFile = join(dir, 'drill-plan.yaml');
    writeFileSync(planFile, readFileSync(shop.planFile, 'utf8') + scenarios(trip));
    plan = await loadPlan(planFile);
  }, 60_000);
  afterAll(async () => {
    await closeExecutors();
    await shop?.close();
    await bed?.close();
    // made in beforeAll, where a temporary directory's own clean-up cannot be registered
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a guard that fails aborts the drill: every fault undone within a second, the canary stopped', async () => {
    let shapedDuringFault: boolean | undefined;
    const outcome = await runDrill({
      plan,
      scenario: 'east-slow-guarded',
      stateDir: state,
      onProgress: (line) => {
        if (line.startsWith('fault: '))
          setTimeout(() => {
            void shaped('east').then((on) => (shapedDuringFault = on));
            writeFileSync(trip, 'now');
          }, 300);
      },
    });
    expect(shapedDuringFault).toBe(true);
    const { report } = outcome;
    expect(report.passed).toBe(false);
    expect(report.safety?.aborted).toMatchObject({ by: 'guard' });
    expect(report.safety?.aborted?.reason).toMatch(/^guard no-trip-file failed 1 time/);
    expect(report.safety?.aborted?.undoneMs).toBeLessThanOrEqual(1_000);
    expect(report.findings.map((f) => f.code)).toContain('DRCTL_DRILL_ABORTED');
    expect(report.safety?.guards[0]).toMatchObject({ name: 'no-trip-file', tripped: true });
    // the canary stopped with the drill, long before the fault's 30 s
    const finished = report.timeline.find((e) => e.kind === 'drill-finished')!.at;
    expect(finished - report.safety!.aborted!.atMs).toBeLessThan(5_000);
    expect(await shaped('east')).toBe(false);
    expect(recorded()).toEqual([]);
    console.log(
      `guard abort: faults undone ${report.safety?.aborted?.undoneMs} ms after the guard failed; preflight: ${report.safety?.preflight.join(', ')}`,
    );
  }, 60_000);

  it('drctl SIGKILLed mid-drill: a fault undoes itself on its host, and drctl drill cleanup removes the rest', async () => {
    const cli = drctl(['drill', planFile, '--scenario', 'two-slow-sites', '--state', state], dir);
    try {
      await waitFor(() => cli.stderr().includes('fault: bandwidth orders@west'), 30_000);
      cli.kill('SIGKILL');
      await cli.exit;
    } finally {
      cli.kill('SIGKILL');
    }
    // both faults outlive drctl
    expect(await shaped('east'), cli.stderr()).toBe(true);
    expect(await shaped('west')).toBe(true);
    expect(recorded()).toHaveLength(2);
    // east's fault had 3 s: its timer on the host undoes it with nobody left to ask
    const deadline = Date.now() + 6_000;
    while ((await shaped('east')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await shaped('east')).toBe(false);
    expect(await shaped('west')).toBe(true);

    const cleanup = drctl(['drill', 'cleanup', planFile, '--state', state, '--json'], dir);
    const { code } = await cleanup.exit;
    expect(cleanup.stderr()).toBe('');
    expect(code).toBe(0);
    const listed = JSON.parse(cleanup.stdout()) as {
      found: { target: string; leftOver: boolean }[];
      removed: unknown[];
    };
    expect(listed.found.map((f) => [f.target, f.leftOver]).sort()).toEqual([
      ['orders@east', true],
      ['orders@west', true],
    ]);
    expect(listed.removed).toHaveLength(2);
    expect(await shaped('west')).toBe(false);
    expect(recorded()).toEqual([]);
  }, 60_000);

  it('the reference disaster on the running shop: east killed, the plan fails over over SSH, RTO and RPO measured', async () => {
    const { report } = await runDrill({ plan, scenario: 'east-lost', stateDir: state });
    console.log(
      `east lost (existing environment): detection ${report.measured.detectionMs} ms, client RTO ${report.measured.rtoMs} ms, ${report.measured.lostWrites.count} of ${report.measured.writes.acknowledged} acknowledged writes lost`,
    );
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.measured.rtoMs).toBeGreaterThan(0);
    expect(report.measured.lostWrites.count).toBe(0);
    expect(report.verdicts.map((v) => [v.target, v.pass])).toEqual([
      ['rto', true],
      ['rpo', true],
      ['failover', true],
    ]);
    expect(report.passed).toBe(true);
    expect(report.safety?.environment).toBe('existing');
    expect(report.evidence.find((e) => e.name === 'surviving database')?.value).toEqual({
      component: 'db',
      site: 'west',
    });
    expect(recorded()).toEqual([]);
  }, 90_000);
});
