import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retentionFor } from '../../src/backup/resolve.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { writeFiles } from '../support/tmp.ts';

const component = (id: string, kind: string): string => `
      - id: ${id}
        kind: ${kind}
        placement: { east: { path: data/${id} } }
        backups: [{ every: 1d, to: west, path: backups }]`;

const PLAN = `version: 1
sites: { east: { role: primary }, west: { role: backup } }
contacts: [{ id: alice, name: Alice Ng }]
workloads:
  - id: shop
    tier: 2
    strategy: backup-restore
    owner: alice
    components:${component('db', 'postgres')}${component('uploads', 'directory')}${component('share', 'file-share')}${component('worker', 'process')}${component('blobs', 'blob')}${component('jobs', 'queue')}
`;

describe("a backup's default retention", () => {
  it("follows seed 004's row for the kind of data, the same when compiled and when a backup prunes", async () => {
    const plan = await loadPlan(join(writeFiles({ 'plan.yaml': PLAN }), 'plan.yaml'));
    const keep = Object.fromEntries(
      plan.workloads[0]!.components.map((c) => [c.id, c.backups[0]!.keep] as const),
    );
    expect(keep).toEqual({
      db: { daily: 7, weekly: 4, monthly: 12, yearly: 7 },
      // the files provider's kinds are file shares (30 days, 12 weeks, 12 months, 3 years), not databases
      uploads: { daily: 30, weekly: 12, monthly: 12, yearly: 3 },
      share: { daily: 30, weekly: 12, monthly: 12, yearly: 3 },
      blobs: { daily: 30, weekly: 12, monthly: 12, yearly: 3 },
      worker: { daily: 7, weekly: 4, monthly: 6, yearly: 1 },
      // a kind the table does not name keeps the databases row, as docs/plan.md says
      jobs: { daily: 7, weekly: 4, monthly: 12, yearly: 7 },
    });
    for (const c of plan.workloads[0]!.components) {
      const target = { component: { ...c, backups: [] }, policy: undefined } as unknown as Parameters<
        typeof retentionFor
      >[0];
      expect(retentionFor(target, undefined), c.kind).toEqual(keep[c.id]);
    }
  });
});
