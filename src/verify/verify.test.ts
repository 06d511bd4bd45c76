import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.ts';
import { PlanInvalidError } from '../errors.ts';
import { checkReadiness } from '../monitor/readiness.ts';
import { resticProvider } from '../providers/restic/index.ts';
import { engineContext, hasBinary, resticPlan } from '../providers/restic/testing.ts';
import { Scheduler } from '../schedule/index.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/store.ts';
import { VERIFICATIONS_COLLECTION, findVerification, runVerification, scheduleJobs } from './index.ts';
import type { VerificationResult } from './index.ts';

describe('restore verifications in a plan', () => {
  it('refuse a scratch PostgreSQL cluster without pgBackRest and a query with nothing to run on', async () => {
    const dir = tempDir('drctl-verify-plan-');
    const error = await resticPlan(dir, {
      workloadExtra: `    verifications:
      - { id: on-postgres, component: docs, restore_to: { postgres: true } }
      - id: counted
        component: docs
        prove: { queries: [{ sql: "select count(*) from documents", expect: 3 }] }
`,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect((error as PlanInvalidError).problems.map((p) => [p.code, p.message, p.location.line])).toEqual([
      [
        'DRCTL_PLAN_VALUE',
        'verification on-postgres: a scratch PostgreSQL cluster is restored from pgBackRest backups; the backup of docs to vault uses restic',
        23,
      ],
      [
        'DRCTL_PLAN_MISSING',
        'verification counted: query "select count(*) from documents" names no database, and there is no scratch PostgreSQL cluster to run it on',
        26,
      ],
    ]);
  });
});

const SERVER = `node -e "require('http').createServer((q,s)=>{try{s.end(require('fs').readFileSync(process.env.RESTORE_DIR+q.url))}catch{s.statusCode=404;s.end()}}).listen(+process.env.PORT,'127.0.0.1')"`;

describe.skipIf(!hasBinary('restic'))('restore verifications', () => {
  let store: RunStore;
  beforeAll(() => {
    process.env.DRCTL_TEST_RESTIC_PASSWORD = 'verify me';
  });
  afterAll(async () => {
    delete process.env.DRCTL_TEST_RESTIC_PASSWORD;
    await store?.close();
  });

  it('runs on its cron, restores to a scratch directory, proves it good, and readiness shows verified good', async () => {
    const dir = tempDir('drctl-verify-');
    const { plan } = await resticPlan(dir, {
      workloadExtra: `    verifications:
      - id: restore-test
        component: docs
        prove:
          files: [contracts/index.txt]
          http: { start: "${SERVER.replace(/"/g, '\\"')}", path: /contracts/index.txt, body_contains: "contract 42" }
        verify_every: 1d
    schedules:
      - { id: verify-often, cron: "*/2 * * * * *", timezone: Europe/Berlin, verify: restore-test }
`,
    });
    writeFileSync(join(dir, 'data', 'placeholder'), '');
    const stateDir = join(dir, 'state');
    const ctx = engineContext(plan, stateDir);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'data', 'contracts'), { recursive: true });
    writeFileSync(join(dir, 'data', 'contracts', 'index.txt'), 'contract 42, signed');
    await resticProvider.actions.backup.run({ component: 'docs' }, ctx);

    store = await openStore(stateDir);
    let now = new Date('2026-06-01T10:00:00.500Z');
    const scheduler = new Scheduler({ store, clock: () => now });
    for (const job of scheduleJobs(plan, { store, stateDir })) scheduler.add(job);
    await scheduler.tick();
    now = new Date('2026-06-01T10:00:02.100Z');
    await scheduler.tick();

    const [doc] = await store.listDocuments(VERIFICATIONS_COLLECTION);
    const result = doc!.data as unknown as VerificationResult;
    expect(result.scheduled).toEqual({ dueAt: '2026-06-01T10:00:02.000Z', late: false });
    expect(result.proofs.map((p) => [p.name, p.ok])).toEqual([
      ['restore', true],
      ['manifest', true],
      ['checksums', true],
      ['file contracts/index.txt', true],
      ['http /contracts/index.txt', true],
    ]);
    expect(result.passed).toBe(true);
    expect(result.target).toContain(join('state', 'verify', 'restore-test'));

    const report = await checkReadiness(plan, { stateDir, store });
    const verified = report.facts.find((f) => f.name === 'verified-good')!;
    expect(verified.ok).toBe(true);
    expect(verified.message).toMatch(
      /^verification restore-test: last verified good [\d.]+(ms|s) ago; required every 1d$/,
    );
    expect(report.facts.find((f) => f.name === 'restore-time')).toMatchObject({ ok: true, limit: 3_600_000 });

    // a proof that fails turns readiness red with the reason
    const failing = { ...findVerification(plan, 'archive', 'restore-test') };
    failing.prove = { ...failing.prove, files: ['contracts/missing.txt'], http: undefined };
    const failed = await runVerification(plan, failing, { store, stateDir });
    expect(failed.passed).toBe(false);
    const red = await checkReadiness(plan, { stateDir, store });
    expect(red.ok).toBe(false);
    expect(red.facts.find((f) => f.name === 'verified-good')?.message).toMatch(
      /^verification restore-test failed [\d.]+(ms|s) ago: file contracts\/missing.txt: contracts\/missing.txt is missing from the restore$/,
    );
  });

  it('refuses a target that holds data unless the plan says clear', async () => {
    const dir = tempDir('drctl-verify-target-');
    const { plan } = await resticPlan(dir, {
      workloadExtra: `    verifications:
      - { id: into-dir, component: docs, restore_to: { path: scratch } }
`,
    });
    writeFileSync(join(dir, 'data', 'a.txt'), 'a');
    const stateDir = join(dir, 'state');
    await resticProvider.actions.backup.run({ component: 'docs' }, engineContext(plan, stateDir));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'scratch'));
    writeFileSync(join(dir, 'scratch', 'keep-me.txt'), 'other data');
    const own = await openStore(stateDir);
    try {
      const result = await runVerification(plan, findVerification(plan, 'archive', 'into-dir'), {
        store: own,
        stateDir,
      });
      expect(result).toMatchObject({ passed: false, code: 'DRCTL_BACKUP_RESTORE_TARGET_NOT_EMPTY' });
    } finally {
      await own.close();
    }
  });
});
