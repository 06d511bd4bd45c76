import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Canary, measureLoss, measureOutage, type CanaryResult } from '../../src/drill/canary.ts';
import { now, sleep } from '../../src/drill/clock.ts';
import { Prober } from '../../src/drill/prober.ts';
import { buildDrillReport } from '../../src/drill/report.ts';
import { startOrderService } from '../support/order-service.ts';
import { tempDir } from '../support/tmp.ts';

const dir = tempDir('drctl-canary-');

function idsIn(dbPath: string): (ids: string[]) => string[] {
  return (ids) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const present = new Set(
        (db.prepare('SELECT id FROM orders').all() as { id: string }[]).map((r) => r.id),
      );
      return ids.filter((id) => present.has(id));
    } finally {
      db.close();
    }
  };
}

describe('canary writer against a real order service', () => {
  it('measures zero loss and no outage when nothing fails', async () => {
    const dbPath = join(dir, 'steady.db');
    const service = await startOrderService({ DB_PATH: dbPath });
    let result: CanaryResult;
    try {
      const canary = Canary.start({ url: service.url, intervalMs: 10 });
      await canary.waitForAcks(80);
      result = await canary.stop();
    } finally {
      await service.kill();
    }
    expect(result.failures).toEqual([]);
    expect(result.acks.length).toBe(result.sent);
    expect(result.acks.every((a) => a.ackAt >= a.sentAt && a.status === 201)).toBe(true);
    const loss = await measureLoss(result.acks, idsIn(dbPath));
    expect(loss).toMatchObject({ acknowledged: result.acks.length, count: 0, spanMs: 0 });
    expect(measureOutage(result, result.startedAt)).toMatchObject({
      impacted: false,
      outageMs: 0,
      failedWrites: 0,
    });
  });

  it('counts exactly the acknowledged orders missing from the surviving database', async () => {
    const dbPath = join(dir, 'lossy.db');
    const service = await startOrderService({ DB_PATH: dbPath });
    let result: CanaryResult;
    try {
      const canary = Canary.start({ url: service.url, intervalMs: 10 });
      await canary.waitForAcks(60);
      result = await canary.stop();
    } finally {
      await service.kill();
    }
    // Lose a contiguous run and one stray order, as a failover to a stale copy would.
    const doomed = [...result.acks.slice(20, 30), result.acks[45]].filter((a) => a !== undefined);
    const db = new Database(dbPath);
    const remove = db.prepare('DELETE FROM orders WHERE id = ?');
    for (const ack of doomed) remove.run(ack.id);
    db.close();

    const loss = await measureLoss(result.acks, idsIn(dbPath));
    expect(loss.count).toBe(11);
    expect(loss.lost.map((a) => a.id)).toEqual(doomed.map((a) => a.id));
    const ackTimes = doomed.map((a) => a.ackAt);
    expect(loss.spanMs).toBeCloseTo(Math.max(...ackTimes) - Math.min(...ackTimes), 6);
    expect(loss.spanMs).toBeGreaterThan(0);
  });

  it('measures an outage at least as long as the service was stopped', async () => {
    const dbPath = join(dir, 'outage.db');
    const downMs = 400;
    let service = await startOrderService({ DB_PATH: dbPath });
    const port = service.port;
    const canary = Canary.start({ url: service.url, intervalMs: 10, timeoutMs: 500 });
    const prober = Prober.start({ url: `${service.url}/catalog`, intervalMs: 20, timeoutMs: 500 });
    let result: CanaryResult;
    try {
      await canary.waitForAcks(30);
      await service.kill('SIGKILL');
      // The fault has taken effect once the process is seen gone; nothing sent after this can reach it.
      const faultAt = now();
      await sleep(downMs);
      service = await startOrderService({ DB_PATH: dbPath, PORT: String(port) });
      await canary.waitForAcks(30);
      result = await canary.stop();
      const reads = await prober.stop();

      const outage = measureOutage(result, faultAt);
      expect(outage.impacted).toBe(true);
      expect(outage.firstSuccess).toBeDefined();
      // The service was unreachable for downMs at least. The client can only see the outage from its first
      // write after the fault, so the outage it saw is at least downMs minus that delay.
      expect(outage.rtoMs).toBeGreaterThanOrEqual(downMs);
      const seenFrom = Math.max(0, (outage.firstFailure?.sentAt ?? faultAt) - faultAt);
      expect(outage.outageMs).toBeGreaterThanOrEqual(downMs - seenFrom);
      expect(outage.failedWrites).toBeGreaterThan(0);
      expect(outage.firstFailure?.reason).toMatch(
        /ECONNREFUSED|ECONNRESET|UND_ERR|other side closed|timeout/,
      );

      expect(reads.availability).toBeLessThan(1);
      expect(reads.unavailable.length).toBeGreaterThan(0);

      // SQLite with synchronous=FULL survives SIGKILL: nothing acknowledged is lost.
      const loss = await measureLoss(result.acks, idsIn(dbPath));
      expect(loss.count).toBe(0);

      const report = buildDrillReport({
        scenario: {
          id: 'east-app-killed',
          description: undefined,
          disaster: 'application-failure',
          type: 'partial',
          workload: 'shop',
          runbook: 'failover',
          faults: [],
          expect: { rtoMs: 60_000, rpoMs: 0, failover: undefined },
        },
        startedAt: result.startedAt,
        finishedAt: result.stoppedAt,
        faultAt,
        canary: result,
        loss,
        prober: reads,
      });
      expect(report.verdicts.map((v) => [v.target, v.pass])).toEqual([
        ['rto', true],
        ['rpo', true],
      ]);
      expect(report.measured.rtoMs).toBeGreaterThanOrEqual(downMs - 0.1);
      expect(report.timeline.map((t) => t.kind)).toEqual(
        expect.arrayContaining([
          'drill-started',
          'fault-injected',
          'first-failure',
          'first-success',
          'drill-finished',
        ]),
      );
    } finally {
      await canary.stop();
      await prober.stop();
      await service.kill();
    }
  });
});

describe('outage measurement', () => {
  const ack = (seq: number, sentAt: number, ackAt: number) => ({
    seq,
    id: `c-${seq}`,
    sentAt,
    ackAt,
    status: 201,
  });
  const fail = (seq: number, sentAt: number, at: number) => ({
    seq,
    id: `c-${seq}`,
    sentAt,
    at,
    reason: 'ECONNREFUSED',
  });

  it('does not end the outage with an answer to a write started before the first failure', () => {
    const result = {
      acks: [ack(1, 0, 5), ack(2, 10, 130), ack(5, 40, 45)],
      failures: [fail(3, 20, 21), fail(4, 30, 31)],
    };
    const outage = measureOutage(result, 15);
    expect(outage.firstFailure?.seq).toBe(3);
    expect(outage.firstSuccess?.seq).toBe(5);
    expect(outage.outageMs).toBe(25);
    expect(outage.rtoMs).toBe(30);
    expect(outage.failedWrites).toBe(2);
  });

  it('does not count a write answered before the fault as recovery when a slower earlier write fails after it', () => {
    // Write 1 hangs across the fault; write 2 was answered by the healthy site before the fault.
    const result = {
      acks: [ack(2, 10, 12), ack(4, 300, 305)],
      failures: [fail(1, 0, 120), fail(3, 110, 111)],
    };
    const outage = measureOutage(result, 100);
    expect(outage.firstFailure?.seq).toBe(1);
    expect(outage.firstSuccess?.seq).toBe(4);
    expect(outage.rtoMs).toBe(205);
    expect(outage.outageMs).toBe(205);
  });

  it('reports no recovery when no write succeeds after the first failure', () => {
    const outage = measureOutage({ acks: [ack(1, 0, 5)], failures: [fail(2, 10, 11)] }, 8);
    expect(outage).toMatchObject({ impacted: true, outageMs: undefined, rtoMs: undefined });
  });

  it('counts writes that fail after the service came back as flapping', () => {
    const outage = measureOutage({ acks: [ack(2, 10, 12)], failures: [fail(1, 0, 1), fail(3, 20, 21)] }, 0);
    expect(outage.failuresAfterRecovery).toBe(1);
  });
});
