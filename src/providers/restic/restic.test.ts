import {
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  mkdirSync,
  rmSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.ts';
import { DrctlError } from '../../errors.ts';
import { checkReadiness } from '../../monitor/readiness.ts';
import type { Plan } from '../../plan/model.ts';
import { resticProvider } from './index.ts';
import { engineContext, hasBinary, resticPlan } from './testing.ts';

const actions = resticProvider.actions;
const PASSWORD = 'correct horse battery staple';

async function expectCode(promise: Promise<unknown>, code: string): Promise<DrctlError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DrctlError);
  expect((error as DrctlError).code).toBe(code);
  return error as DrctlError;
}

function readTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(root.length + 1)] = readFileSync(path, 'utf8');
  }
  return out;
}

describe.skipIf(!hasBinary('restic'))('restic provider', () => {
  let dir: string;
  let plan: Plan;
  beforeAll(async () => {
    process.env.DRCTL_TEST_RESTIC_PASSWORD = PASSWORD;
    dir = tempDir('drctl-restic-');
    ({ plan } = await resticPlan(dir));
  });
  afterAll(() => {
    delete process.env.DRCTL_TEST_RESTIC_PASSWORD;
  });

  it('backs up, backs up again after a change, and restores either snapshot to a target exactly', async () => {
    const data = join(dir, 'data');
    writeFileSync(join(data, 'contract.txt'), 'signed 2026-01-05');
    mkdirSync(join(data, 'minutes'), { recursive: true });
    writeFileSync(join(data, 'minutes', 'board.txt'), 'quorum reached');
    const ctx = engineContext(plan, join(dir, 'state'));
    const first = await actions.backup.run({ component: 'docs' }, ctx);
    expect(first.output).toMatchObject({ createdRepository: true, total_files_processed: 2, files_new: 2 });
    const before = readTree(data);

    writeFileSync(join(data, 'contract.txt'), 'signed 2026-01-05, amended 2026-02-01');
    writeFileSync(join(data, 'minutes', 'audit.txt'), 'no findings');
    const second = await actions.backup.run({ component: 'docs' }, ctx);
    expect(second.output).toMatchObject({ files_new: 1, files_changed: 1, files_unmodified: 1 });
    const after = readTree(data);

    const newest = await actions.restore.run(
      { component: 'docs', target: join(dir, 'restored-newest') },
      ctx,
    );
    expect(readTree(join(dir, 'restored-newest'))).toEqual(after);
    expect(newest.output).toMatchObject({ files: 3, verified: true });

    const listed = await actions.snapshots.run({ component: 'docs' }, ctx);
    const snapshots = listed.output?.snapshots as { id: string }[];
    expect(snapshots).toHaveLength(2);
    await actions.restore.run(
      { component: 'docs', snapshot: snapshots[0]!.id.slice(0, 8), target: join(dir, 'restored-first') },
      ctx,
    );
    expect(readTree(join(dir, 'restored-first'))).toEqual(before);
    // the password reached restic through its environment only
    expect(JSON.stringify(ctx.recorded)).not.toContain(PASSWORD);
  });

  it('refuses to restore into a target that holds data unless told to replace it', async () => {
    const ctx = engineContext(plan, join(dir, 'state'));
    const target = join(dir, 'restored-newest');
    await expectCode(
      actions.restore.run({ component: 'docs', target }, ctx),
      'DRCTL_BACKUP_RESTORE_TARGET_NOT_EMPTY',
    );
    writeFileSync(join(target, 'stray.txt'), 'not from the backup');
    await actions.restore.run({ component: 'docs', target, force: true }, ctx);
    expect(Object.keys(readTree(target)).sort()).toEqual([
      'contract.txt',
      'minutes/audit.txt',
      'minutes/board.txt',
    ]);
  });

  it("keeps exactly the snapshots the plan's retention names on a calendar of backups", async () => {
    const calDir = tempDir('drctl-restic-calendar-');
    const { plan: calPlan } = await resticPlan(calDir, {
      keep: '{ daily: 3, weekly: 2, monthly: 3, yearly: 1 }',
    });
    writeFileSync(join(calDir, 'data', 'ledger.txt'), 'entries');
    const ctx = engineContext(calPlan, join(calDir, 'state'));
    const calendar = [
      '2025-12-20T12:00:00Z',
      '2026-01-31T12:00:00Z',
      '2026-02-14T12:00:00Z',
      '2026-02-27T12:00:00Z',
      '2026-03-04T12:00:00Z',
      '2026-03-08T12:00:00Z',
      '2026-03-09T12:00:00Z',
      '2026-03-10T08:00:00Z',
      '2026-03-10T18:00:00Z',
    ];
    for (const time of calendar) await actions.backup.run({ component: 'docs', time }, ctx);
    const result = await actions.forget.run({ component: 'docs' }, ctx);
    const keptTimes = (result.output?.kept as { time: string }[])
      .map((s) => new Date(s.time).toISOString())
      .sort();
    // daily 3: 03-10 (the later one), 03-09, 03-08; weekly 2: 03-10, 03-08; monthly 3: 03-10, 02-27, 01-31; yearly 1: 03-10
    expect(keptTimes).toEqual([
      '2026-01-31T12:00:00.000Z',
      '2026-02-27T12:00:00.000Z',
      '2026-03-08T12:00:00.000Z',
      '2026-03-09T12:00:00.000Z',
      '2026-03-10T18:00:00.000Z',
    ]);
    const left = (await actions.snapshots.run({ component: 'docs' }, ctx)).output?.snapshots as {
      time: string;
    }[];
    expect(left.map((s) => new Date(s.time).toISOString()).sort()).toEqual(keptTimes);
  });

  it('finds a damaged pack with check and turns readiness red with the reason', async () => {
    const ctx = engineContext(plan, join(dir, 'state'));
    await actions.check.run({ component: 'docs', read_data_subset: '100%' }, ctx);
    let report = await checkReadiness(plan, { stateDir: join(dir, 'state') });
    expect(report.facts.filter((f) => f.component === 'docs').map((f) => [f.name, f.ok])).toEqual([
      ['backup-age', true],
      ['backup-checked', true],
    ]);

    const packs = join(dir, 'repo', 'data');
    const pack = readdirSync(packs, { recursive: true, withFileTypes: true }).find(
      (e) => e.isFile() && statSync(join(e.parentPath, e.name)).size > 64,
    )!;
    const fd = openSync(join(pack.parentPath, pack.name), 'r+');
    writeSync(fd, Buffer.from('drctl was here, damaging this pack'), 0, undefined, 16);
    closeSync(fd);
    const error = await expectCode(
      actions.check.run({ component: 'docs', read_data_subset: '100%' }, ctx),
      'DRCTL_RESTIC_CHECK_FAILED',
    );
    expect(error.message).toContain('failed its check');
    report = await checkReadiness(plan, { stateDir: join(dir, 'state') });
    const checked = report.facts.find((f) => f.name === 'backup-checked')!;
    expect(report.ok).toBe(false);
    expect(checked).toMatchObject({ ok: false });
    expect(checked.message).toMatch(/^the last restic check failed: /);
  });

  it('names a wrong password, a missing one, an unreachable repository and a missing restic by code', async () => {
    const ctx = engineContext(plan, join(dir, 'state'));
    process.env.DRCTL_TEST_RESTIC_PASSWORD = 'not the password';
    try {
      await expectCode(actions.snapshots.run({ component: 'docs' }, ctx), 'DRCTL_RESTIC_WRONG_PASSWORD');
      delete process.env.DRCTL_TEST_RESTIC_PASSWORD;
      await expectCode(actions.snapshots.run({ component: 'docs' }, ctx), 'DRCTL_RESTIC_PASSWORD_MISSING');
    } finally {
      process.env.DRCTL_TEST_RESTIC_PASSWORD = PASSWORD;
    }
    rmSync(join(dir, 'gone'), { recursive: true, force: true });
    const { plan: gonePlan } = await resticPlan(join(dir, 'gone'));
    const goneCtx = engineContext(gonePlan, join(dir, 'state'));
    await expectCode(
      actions.snapshots.run({ component: 'docs' }, goneCtx),
      'DRCTL_RESTIC_REPOSITORY_UNREACHABLE',
    );
    const readiness = await checkReadiness(gonePlan, { stateDir: join(dir, 'state') });
    expect(readiness.facts.find((f) => f.name === 'backup-age')?.message).toMatch(
      /^DRCTL_RESTIC_REPOSITORY_UNREACHABLE: /,
    );

    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-binaries-here');
    try {
      const missing = await expectCode(
        actions.snapshots.run({ component: 'docs' }, ctx),
        'DRCTL_RESTIC_MISSING',
      );
      expect(missing.hint).toContain('apt-get install restic');
    } finally {
      process.env.PATH = path;
    }
  });

  it('preflight: restic installed, the repository opens with its password; a wrong one, a gone repository and no restic are found', async () => {
    const ctx = engineContext(plan, join(dir, 'state'));
    const [installed, opens] = resticProvider.preflight.restore;
    expect(await installed!.run({ component: 'docs' }, ctx)).toMatchObject({
      ok: true,
      message: expect.stringMatching(/^restic \d+\.\d+/),
    });
    expect(await opens!.run({ component: 'docs' }, ctx)).toMatchObject({ ok: true });
    process.env.DRCTL_TEST_RESTIC_PASSWORD = 'not the password';
    try {
      expect(await opens!.run({ component: 'docs' }, ctx)).toMatchObject({
        ok: false,
        observed: { code: 'DRCTL_RESTIC_WRONG_PASSWORD' },
      });
    } finally {
      process.env.DRCTL_TEST_RESTIC_PASSWORD = PASSWORD;
    }
    // a repository that is not there: the first backup would create it, a restore has nothing to read
    rmSync(join(dir, 'gone'), { recursive: true, force: true });
    const { plan: gonePlan } = await resticPlan(join(dir, 'gone'));
    const goneCtx = engineContext(gonePlan, join(dir, 'state'));
    expect(await opens!.run({ component: 'docs' }, goneCtx)).toMatchObject({
      ok: false,
      observed: { code: 'DRCTL_RESTIC_REPOSITORY_UNREACHABLE' },
    });
    const [, backupOpens] = resticProvider.preflight.backup;
    expect(await backupOpens!.run({ component: 'docs' }, goneCtx)).toMatchObject({
      ok: true,
      message: expect.stringContaining('the first backup creates it'),
    });
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-binaries-here');
    try {
      expect(await installed!.run({ component: 'docs' }, ctx)).toMatchObject({
        ok: false,
        observed: { code: 'DRCTL_RESTIC_MISSING' },
      });
      expect(await opens!.run({ component: 'docs' }, ctx)).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
  });
});
