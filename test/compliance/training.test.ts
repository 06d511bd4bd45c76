// Seed 003's training currency: each DR executor's last drill or tabletop, against the review interval,
// from the tabletops in the store and the drills of the plan's history that name them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openStore } from '../../src/store/index.ts';
import { TABLETOP_COLLECTION, TABLETOP_FORMAT, type TabletopRecord } from '../../src/tabletop/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

function planYaml(participants: string[]): string {
  return stringify({
    version: 1,
    name: 'training',
    review: { interval: '365d', last: '2026-11-01', by: 'alice' },
    sites: { east: { role: 'primary' } },
    contacts: [
      { id: 'alice', name: 'Alice Ng', backup: 'tom' },
      { id: 'tom', name: 'Tom Becker', backup: 'una', executor: true },
      { id: 'una', name: 'Una Kowalski', backup: 'tom', executor: true },
      { id: 'vic', name: 'Vic Sato', backup: 'tom', executor: true },
    ],
    workloads: [
      {
        id: 'shop',
        tier: 3,
        strategy: 'backup-restore',
        owner: 'alice',
        components: [{ id: 'api', kind: 'service', placement: { east: {} } }],
      },
    ],
    drills: {
      history: [{ type: 'full', at: '2025-10-01', workload: 'shop', result: 'passed', participants }],
    },
  });
}

describe('training currency in compliance', () => {
  it("shows each executor's last drill or tabletop, stale after the review interval, and never for nobody's", async () => {
    const dir = tempDir();
    const plan = join(dir, 'plan.yaml');
    writeFileSync(plan, planYaml(['una', 'tom']));
    const state = join(dir, 'state');
    const store = await openStore(state);
    const tabletop: TabletopRecord = {
      format: TABLETOP_FORMAT,
      id: 'tt-1',
      plan: { name: 'training', hash: 'x' },
      workload: 'shop',
      runbook: 'restore',
      facilitator: 'Alice Ng',
      // as typed in the room: a name in another case
      attendees: ['tom becker'],
      startedAt: '2026-11-20T09:00:00.000Z',
      finishedAt: '2026-11-20T10:00:00.000Z',
      status: 'completed',
      steps: [],
      findings: [],
    };
    await store.putDocument(TABLETOP_COLLECTION, tabletop.id, tabletop as unknown as Record<string, unknown>);
    await store.close();

    const json = await runCli('compliance', plan, '--state', state, '--now', '2026-12-01', '--json');
    const report = JSON.parse(json.stdout) as { training: unknown[] };
    expect(report.training).toEqual([
      {
        contact: 'tom',
        name: 'Tom Becker',
        last: { at: '2026-11-20T10:00:00.000Z', what: 'tabletop tt-1 (shop/restore)' },
        expiresAt: '2027-11-20T10:00:00.000Z',
        status: 'current',
      },
      {
        contact: 'una',
        name: 'Una Kowalski',
        last: { at: '2025-10-01T00:00:00.000Z', what: 'full drill of shop (plan history)' },
        expiresAt: '2026-10-01T00:00:00.000Z',
        status: 'stale',
      },
      { contact: 'vic', name: 'Vic Sato', last: null, expiresAt: null, status: 'never' },
    ]);
    const text = await runCli('compliance', plan, '--state', state, '--now', '2026-12-01');
    expect(text.stdout).toContain(
      'Training of DR executors (last drill or tabletop; each counts for the review interval)\n' +
        '  tom  current  Tom Becker: tabletop tt-1 (shop/restore) on 2026-11-20, counts until 2027-11-20\n' +
        '  una  STALE    Una Kowalski: full drill of shop (plan history) on 2025-10-01, counts until 2026-10-01\n' +
        '  vic  NEVER    Vic Sato: took part in no drill or tabletop\n',
    );
  });

  it('refuses a drill participant who is not a contact, at its position', async () => {
    const dir = tempDir();
    const plan = join(dir, 'plan.yaml');
    writeFileSync(plan, planYaml(['una', 'nobody']));
    const result = await runCli('validate', plan, '--json');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/nobody/);
    expect(result.stdout).toMatch(/participant of a drill record/);
  });
});
