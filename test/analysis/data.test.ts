import { describe, expect, it } from 'vitest';
import { recoveryPoint } from '../../src/analysis/index.ts';
import { baseline, codes, componentOf, findings, workloadOf } from './baseline.ts';

const m = 60_000;

describe('RPO feasibility', () => {
  it('takes sync replication as losing nothing, async as its lag, snapshots and backups as their interval', async () => {
    const db = componentOf(await baseline(), 'db');
    expect(recoveryPoint(db)).toMatchObject({ ms: 0 });
    expect(
      recoveryPoint({ ...db, replication: { ...db.replication!, mode: 'async', maxLagMs: 10_000 } }).ms,
    ).toBe(10_000);
    expect(
      recoveryPoint({ ...db, replication: { ...db.replication!, mode: 'snapshot', everyMs: 5 * m } }).ms,
    ).toBe(5 * m);
    expect(recoveryPoint({ ...db, replication: undefined }).ms).toBe(60 * m);
  });

  it('reports DRCTL_RPO_EXCEEDED when the best copy is older than the workload RPO', async () => {
    const plan = await baseline();
    componentOf(plan, 'db').replication = undefined; // backups every hour remain; RPO is 15m
    const [found] = findings(plan, 'DRCTL_RPO_EXCEEDED');
    expect(found).toMatchObject({ severity: 'error', subject: { component: 'db', workload: 'shop' } });
    expect(found?.message).toContain('1h');
  });

  it('does not report DRCTL_RPO_EXCEEDED when backups are frequent enough', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.replication = undefined;
    db.backups[0]!.everyMs = 15 * m;
    expect(codes(plan)).not.toContain('DRCTL_RPO_EXCEEDED');
  });

  it('reports DRCTL_RPO_ASSUMED when async replication states no max_lag, and not when it does', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.replication = { ...db.replication!, mode: 'async', maxLagMs: undefined };
    expect(findings(plan, 'DRCTL_RPO_ASSUMED')).toHaveLength(1);
    db.replication.maxLagMs = 5_000;
    expect(codes(plan)).not.toContain('DRCTL_RPO_ASSUMED');
  });

  it('reports DRCTL_DATA_UNPROTECTED for a database with neither replication nor backups', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.replication = undefined;
    db.backups = [];
    expect(findings(plan, 'DRCTL_DATA_UNPROTECTED').map((f) => f.subject.component)).toEqual(['db']);
  });

  it('does not call a stateless service unprotected', async () => {
    expect(codes(await baseline())).not.toContain('DRCTL_DATA_UNPROTECTED');
  });
});

describe('3-2-1 backup rule', () => {
  it('reports DRCTL_BACKUP_321 naming what is missing when the only backup stays on site and on disk', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.replication = undefined;
    db.backups = [{ ...db.backups[0]!, to: 'east', media: 'disk' }];
    const [found] = findings(plan, 'DRCTL_BACKUP_321');
    expect(found?.message).toContain('2 of 3 copies');
    expect(found?.message).toContain('1 of 2 media');
    expect(found?.message).toContain('no off-site backup');
  });

  it('accepts the live copy, a replica and an off-site object backup', async () => {
    expect(codes(await baseline())).not.toContain('DRCTL_BACKUP_321');
  });
});

describe('cross-store consistency', () => {
  async function withBlobs(blobBackupEveryMs: number | undefined) {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.references = ['blobs'];
    workloadOf(plan).components.push({
      ...db,
      id: 'blobs',
      kind: 'storage',
      references: [],
      backups: blobBackupEveryMs === undefined ? [] : [{ ...db.backups[0]!, everyMs: blobBackupEveryMs }],
    });
    return plan;
  }

  it('reports DRCTL_CROSS_STORE_INCONSISTENT when a referenced store is not backed up', async () => {
    const [found] = findings(await withBlobs(undefined), 'DRCTL_CROSS_STORE_INCONSISTENT');
    expect(found?.message).toContain('blobs is not backed up');
  });

  it('reports DRCTL_CROSS_STORE_INCONSISTENT when the two stores are backed up on different schedules', async () => {
    const found = findings(await withBlobs(24 * 60 * m), 'DRCTL_CROSS_STORE_INCONSISTENT');
    expect(found).toHaveLength(1);
    // the hint names both schedules and the one to align on
    expect(found[0]?.hint).toMatch(
      /^align the backup schedules of \S+ \(every 1h\) and blobs \(every 1d\): back both up every 1h/,
    );
  });

  it('accepts stores that reference each other and are backed up on the same schedule', async () => {
    expect(codes(await withBlobs(60 * m))).not.toContain('DRCTL_CROSS_STORE_INCONSISTENT');
  });
});
