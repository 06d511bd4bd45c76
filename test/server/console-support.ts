/**
 * A real drctl server for the console tests and the screenshots: a plan with a manual step and a
 * four-eyes approval, tokens for an operator and two approvers, drill reports built by the drill
 * report code from canary measurements, listening on a free loopback port.
 */
import { join } from 'node:path';
import pino from 'pino';
import type { CanaryAck, CanaryFailure, CanaryResult } from '../../src/drill/canary.ts';
import { measureLoss } from '../../src/drill/canary.ts';
import { buildDrillReport } from '../../src/drill/index.ts';
import { createServer, createToken } from '../../src/server/index.ts';
import type { DrctlServer } from '../../src/server/index.ts';
import type { RunStore } from '../../src/store/index.ts';
import { writePlan } from '../engine/fixtures.ts';
import { tempDir } from '../support/tmp.ts';

/** The runbook the browser test drives: automated, manual with evidence, four-eyes approval, automated. */
export const FAILOVER_STEPS = [
  { id: 'check-east', name: 'Confirm east is down', run: 'echo east does not answer', expected: '5s' },
  {
    id: 'restore-db',
    name: 'Restore the newest snapshot at west',
    needs: ['check-east'],
    manual:
      'On the west database host, restore the newest snapshot from the backup share and note its id and row count.',
    evidence: ['snapshot id', 'row count'],
    expected: '10m',
    contingency: '5m',
    escalate_to: 'bob',
  },
  {
    id: 'approve-cutover',
    name: 'Approve the cut-over to west',
    needs: ['restore-db'],
    approval: { by: ['alice', 'bob'], four_eyes: true },
    expected: '5m',
  },
  {
    id: 'cutover',
    name: 'Send traffic to west',
    needs: ['approve-cutover'],
    run: 'echo router now sends traffic to west',
    expected: '30s',
  },
  { id: 'smoke', name: 'Smoke-test the shop at west', needs: ['approve-cutover'], run: 'echo 200 OK' },
];

export interface ConsoleBench {
  server: DrctlServer;
  url: string;
  store: RunStore;
  tokens: { aliceOperator: string; aliceApprover: string; bobApprover: string; viewer: string };
  close(): Promise<void>;
}

const DAY = 86_400_000;

/** `dir`: where the plan and state go (the screenshots script passes its own; tests get a temp dir). */
export async function consoleServer(options: { drills?: boolean; dir?: string } = {}): Promise<ConsoleBench> {
  const dir = options.dir ?? tempDir('drctl-console-');
  const planFile = writePlan(dir, [], {
    workloads: [
      {
        id: 'shop',
        name: 'Shop',
        tier: 1,
        strategy: 'warm-standby',
        owner: 'alice',
        rto: '15m',
        rpo: '5m',
        runbooks: { failover: { steps: FAILOVER_STEPS } },
      },
      {
        id: 'reports',
        name: 'Reporting',
        tier: 3,
        strategy: 'backup-restore',
        owner: 'dave',
        runbooks: {
          restore: { steps: [{ id: 'restore', name: 'Restore last night', run: 'echo restored' }] },
        },
      },
    ],
  });
  const server = await createServer({
    plans: [planFile],
    state: join(dir, '.drctl'),
    listen: '127.0.0.1:0',
    logger: pino({ level: 'silent' }),
    pollMs: 50,
    engine: { pollMs: 20 },
  });
  const store = server.ctx.store;
  const token = async (name: string, role: string): Promise<string> =>
    (await createToken(store, { name, role, createdBy: 'test' })).token;
  const tokens = {
    aliceOperator: await token('alice', 'operator'),
    aliceApprover: await token('alice', 'approver'),
    bobApprover: await token('bob', 'approver'),
    viewer: await token('erin', 'viewer'),
  };
  if (options.drills !== false) await saveDrills(store, Date.now());
  const { url } = await server.listen();
  await server.ctx.readiness.refresh();
  return { server, url, store, tokens, close: () => server.close({ graceMs: 1000 }) };
}

/**
 * Four drills of `shop` over the past weeks, each measured from a canary whose writes fail for a while
 * after the fault, with the newest writes before the fault missing at west; the last one misses its RTO.
 */
async function saveDrills(store: RunStore, now: number): Promise<void> {
  const outages = [
    { daysAgo: 84, downMs: 2600, lostMs: 300 },
    { daysAgo: 56, downMs: 1900, lostMs: 120 },
    { daysAgo: 28, downMs: 1400, lostMs: 0 },
    { daysAgo: 3, downMs: 4200, lostMs: 60 },
  ];
  for (const outage of outages) {
    const t0 = now - outage.daysAgo * DAY;
    const faultAt = t0 + 2000;
    const canary = canaryRun(t0, faultAt, outage.downMs);
    const survived = canary.acks
      .filter((ack) => ack.sentAt < faultAt - outage.lostMs || ack.sentAt >= faultAt)
      .map((ack) => ack.id);
    const report = buildDrillReport({
      plan: { name: 'engine test', hash: 'f'.repeat(64) },
      scenario: {
        id: 'east-killed',
        description: 'Site east is lost: its processes are killed',
        disaster: 'site-loss',
        type: 'full',
        workload: 'shop',
        runbook: 'failover',
        faults: [],
        expect: { rtoMs: 3000, rpoMs: 200, failover: undefined },
      },
      workload: { id: 'shop', name: 'Shop', tier: 1, strategy: 'warm-standby' },
      startedAt: t0,
      finishedAt: t0 + 8000,
      faultAt,
      detectedAt: faultAt + 300,
      canary,
      loss: await measureLoss(canary.acks, survived),
    });
    await store.saveDrillReport({
      id: report.id,
      workload: 'shop',
      scenario: 'east-killed',
      planHash: undefined,
      startedAt: new Date(report.startedAt),
      passed: report.passed,
      detectionMs: report.measured.detectionMs,
      rtoMs: report.measured.rtoMs,
      lostWrites: report.measured.lostWrites.count,
      report: report as unknown as Record<string, unknown>,
    });
  }
}

/** Writes every 20 ms for 8 s; those sent in [faultAt, faultAt + downMs) fail. */
function canaryRun(t0: number, faultAt: number, downMs: number): CanaryResult {
  const acks: CanaryAck[] = [];
  const failures: CanaryFailure[] = [];
  for (let seq = 1; seq <= 400; seq++) {
    const sentAt = t0 + (seq - 1) * 20;
    const id = `c-${seq}`;
    if (sentAt >= faultAt && sentAt < faultAt + downMs)
      failures.push({ seq, id, sentAt, at: sentAt + 1, reason: 'ECONNREFUSED' });
    else
      acks.push({
        seq,
        id,
        sentAt,
        ackAt: sentAt + 3,
        status: 201,
        site: sentAt < faultAt ? 'east' : 'west',
      });
  }
  return {
    url: 'http://127.0.0.1:1/orders',
    intervalMs: 20,
    timeoutMs: 1000,
    idPrefix: 'c',
    startedAt: t0,
    stoppedAt: t0 + 8000,
    sent: 400,
    skipped: 0,
    acks,
    failures,
  };
}
