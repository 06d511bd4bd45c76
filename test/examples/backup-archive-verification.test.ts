/**
 * examples/backup-archive's restore verification, run by `drctl serve` on its schedule: the example is
 * copied with two changes (the verification's cron fires every two seconds, and the cloud bucket is a
 * local directory), restic backs up a small archive, and readiness shows "verified good" with its age. A
 * later backup of a catalogue without contracts fails the verification's query, and readiness turns red
 * with the reason. The run missed while drctl was stopped is run once on restart (as `drctl monitor`, which
 * runs a probe-less plan's schedules alone) and reported late.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/index.ts';
import { resticProvider } from '../../src/providers/restic/index.ts';
import { engineContext, hasBinary } from '../../src/providers/restic/testing.ts';
import { openStore } from '../../src/store/index.ts';
import { VERIFICATIONS_COLLECTION } from '../../src/verify/index.ts';
import type { VerificationResult } from '../../src/verify/index.ts';
import { runCli } from '../support/cli.ts';
import { freePort } from '../../src/system/ports.ts';
import { tempDir } from '../support/tmp.ts';
import { startCli, stopAll } from '../engine/cli-process.ts';
import type { CliProcess } from '../engine/cli-process.ts';

const PASSWORD_ENV = 'DRCTL_ARCHIVE_RESTIC_PASSWORD';
const EXAMPLE = 'examples/backup-archive';

/** The example with a fast verification cron and the bucket as a local directory; nothing else changes. */
function copyExample(dir: string): string {
  const original = readFileSync(join(EXAMPLE, 'plan.yaml'), 'utf8');
  const fast = original.replace(
    'cron: "0 4 * * 0", timezone: America/New_York, verify: weekly-restore',
    'cron: "*/2 * * * * *", timezone: America/New_York, verify: weekly-restore',
  );
  const local = fast.replace('"s3:s3.amazonaws.com/archive-lock/documents"', 'cloud-repo');
  // the replacements must hit, or the test would silently run the weekly cron against a bucket
  expect(local).not.toBe(fast);
  expect(fast).not.toBe(original);
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, local);
  copyFileSync(join(EXAMPLE, 'README.md'), join(dir, 'README.md'));
  return file;
}

/** A small archive share: two folders and the scanner's catalogue with `contracts` rows of kind contract. */
function writeArchive(root: string, contracts: number): void {
  mkdirSync(join(root, 'contracts'), { recursive: true });
  mkdirSync(join(root, 'board-minutes'), { recursive: true });
  writeFileSync(join(root, 'contracts', '2026-001-lease.txt'), 'Lease of the head office, signed 2026-01-12');
  writeFileSync(join(root, 'board-minutes', '2026-10.txt'), 'Minutes of the October board meeting');
  const db = new Database(join(root, 'catalogue.sqlite'));
  try {
    db.exec('DROP TABLE IF EXISTS documents; CREATE TABLE documents (kind TEXT, path TEXT)');
    const insert = db.prepare('INSERT INTO documents VALUES (?, ?)');
    for (let i = 0; i < contracts; i += 1) insert.run('contract', 'contracts/2026-001-lease.txt');
    insert.run('minutes', 'board-minutes/2026-10.txt');
  } finally {
    db.close();
  }
}

async function results(stateDir: string): Promise<VerificationResult[]> {
  const store = await openStore(stateDir);
  try {
    const docs = await store.listDocuments(VERIFICATIONS_COLLECTION, { limit: 500 });
    return docs
      .map((d) => d.data as unknown as VerificationResult)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  } finally {
    await store.close();
  }
}

async function until<T>(what: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function serve(file: string, stateDir: string, cwd: string): Promise<CliProcess> {
  const listen = `127.0.0.1:${await freePort()}`;
  return startCli(['serve', file, '--state', stateDir, '--listen', listen], { cwd });
}

/** The plan has no probe aimed at a site, so `drctl monitor` watches its schedules alone. */
function monitor(file: string, stateDir: string, cwd: string): CliProcess {
  return startCli(['monitor', file, '--state', stateDir], { cwd });
}

/** The codes of the errors in pino lines (level 50 and up). */
function errorCodes(log: string): string[] {
  return log
    .split('\n')
    .filter((line) => /^\{"level":[56]0/.test(line))
    .map((line) => (JSON.parse(line) as { err?: { code?: string } }).err?.code ?? line);
}

/** Stops the process and returns what it printed and the codes of the errors it logged to stderr. */
async function stop(server: CliProcess): Promise<{ stdout: string; errors: string[] }> {
  server.child.kill('SIGTERM');
  const { code, stdout, stderr } = await server.exit;
  expect(code).toBe(0);
  return { stdout, errors: errorCodes(stderr) };
}

describe.skipIf(!hasBinary('restic'))('examples/backup-archive scheduled restore verification', () => {
  beforeAll(() => {
    process.env[PASSWORD_ENV] = 'archive test password';
  });
  afterAll(() => {
    delete process.env[PASSWORD_ENV];
  });
  afterEach(() => stopAll());

  it('runs on its cron under drctl serve and drctl monitor, readiness shows verified good with its age, and a failing query turns it red with the reason', async () => {
    const dir = tempDir('drctl-archive-verify-');
    const file = copyExample(dir);
    const plan = await loadPlan(file);
    const stateDir = join(dir, 'state');
    const share = join(dir, 'share');
    writeArchive(share, 3);
    const ctx = engineContext(plan, stateDir);
    for (const to of ['vault', 'cloud'])
      await resticProvider.actions.backup.run({ component: 'documents', to, source: share }, ctx);
    await resticProvider.actions.check.run({ component: 'documents', to: 'cloud' }, ctx);

    const server = await serve(file, stateDir, dir);
    const [first] = await until(async () => {
      const found = await results(stateDir);
      return found.length > 0 ? found : undefined;
    }, 30_000);
    expect((await stop(server)).errors).toEqual([]);

    expect(first!.passed).toBe(true);
    expect(first!.scheduled?.dueAt).toMatch(/:\d[02468]\.000Z$/);
    expect(first!.target).toContain(join('state', 'verify', 'weekly-restore'));
    expect(first!.proofs.map((p) => [p.name, p.ok])).toEqual([
      ['restore', true],
      ['manifest', true],
      ['checksums', true],
      ['file contracts', true],
      ['file board-minutes', true],
      ['file catalogue.sqlite', true],
      ["query SELECT count(*) > 0 FROM documents WHERE kind = 'contract'", true],
    ]);

    const green = await runCli('readiness', file, '--state', stateDir, '--json');
    const report = JSON.parse(green.stdout) as {
      ok: boolean;
      facts: Array<{ name: string; ok: boolean; message: string; value?: number }>;
    };
    const verified = report.facts.find((f) => f.name === 'verified-good')!;
    expect(verified).toMatchObject({ ok: true });
    expect(verified.message).toMatch(
      /^verification weekly-restore: last verified good [\d.]+(ms|s) ago; required every 8d$/,
    );
    expect(verified.value).toBeGreaterThanOrEqual(0);
    expect(report.facts.filter((f) => !f.ok)).toEqual([]);
    expect(green.code).toBe(0);

    // the scanner lost its contract rows; the nightly backup takes the damaged catalogue
    writeArchive(share, 0);
    await resticProvider.actions.backup.run({ component: 'documents', to: 'vault', source: share }, ctx);
    // two due times (every 2 s) pass after the last one claimed, so the first run on restart is late
    await new Promise((r) => setTimeout(r, 4_500));

    // the restart is `drctl monitor`, which runs the same schedules where no server is wanted
    const restarted = monitor(file, stateDir, dir);
    const failed = await until(async () => {
      const found = await results(stateDir);
      return found.find((r) => !r.passed);
    }, 30_000);
    const { stdout } = await stop(restarted);
    expect(stdout).toMatch(
      /no probe is aimed at a site; running its 6 schedules only \(.*archive\.weekly-restore-test/,
    );
    // a failed verification fails its scheduled job, which the monitor logs as such, and nothing else
    const log = readFileSync(join(stateDir, 'logs', 'monitor.log'), 'utf8');
    expect(new Set(errorCodes(log))).toEqual(new Set(['DRCTL_VERIFY_FAILED']));

    expect(failed.scheduled?.late).toBe(true);
    expect(failed.reason).toBe(
      "query SELECT count(*) > 0 FROM documents WHERE kind = 'contract': answered 0, expected 1",
    );
    const red = await runCli('readiness', file, '--state', stateDir);
    expect(red.code).not.toBe(0);
    expect(red.stdout).toMatch(
      /verification weekly-restore failed [\d.]+(ms|s) ago: query SELECT count\(\*\) > 0 FROM documents WHERE kind = 'contract': answered 0, expected 1/,
    );
  }, 120_000);
});
