/**
 * The judgements a repository makes the same way wherever it is: what a verification must read and how
 * its findings become a report, and which backups and chunks a retention policy keeps.
 */
import { DrctlError } from '../errors.ts';
import type { Retention } from '../plan/model.ts';
import { BACKUP_ERRORS } from './errors.ts';
import { sha256Of } from './io.ts';
import type { ChunkRef, Manifest, ManifestEntry, VerifyProblem, VerifyReport } from './manifest.ts';
import { applyRetention } from './retention.ts';
import type { RetentionDecision } from './retention.ts';

/** What verifying a backup reads: each file's chunks, and format 1 files (whole blobs). */
export interface VerifyPlan {
  problems: VerifyProblem[];
  chunked: { entry: ManifestEntry; chunks: ChunkRef[] }[];
  legacy: ManifestEntry[];
  /** Every chunk once, however many files (or places in one file) share it. */
  unique: ChunkRef[];
}

export function verifyPlan(manifest: Manifest): VerifyPlan {
  const plan: VerifyPlan = { problems: [], chunked: [], legacy: [], unique: [] };
  for (const entry of manifest.entries) {
    if (entry.type === 'symlink') {
      if (entry.sha256 !== undefined && sha256Of(entry.target ?? '') !== entry.sha256)
        plan.problems.push({ path: entry.path, reason: 'link target does not match its hash' });
    } else if (entry.chunks === undefined) plan.legacy.push(entry);
    else {
      const total = entry.chunks.reduce((sum, [, size]) => sum + size, 0);
      if (total === entry.size) plan.chunked.push({ entry, chunks: entry.chunks });
      else
        plan.problems.push({
          path: entry.path,
          reason: `chunks hold ${total} bytes, manifest says ${entry.size}`,
        });
    }
  }
  const unique = new Map(plan.chunked.flatMap(({ chunks }) => chunks.map((ref) => [ref[0], ref] as const)));
  plan.unique = [...unique.values()];
  return plan;
}

/** The report: each file with a damaged chunk named by its first one, problems in manifest order. */
export function verifyReport(
  manifest: Manifest,
  plan: VerifyPlan,
  checked: { problems: ReadonlyMap<string, string>; bytes: number },
  at: string,
): VerifyReport {
  const problems = [...plan.problems];
  for (const { entry, chunks } of plan.chunked) {
    const reason = chunks.map(([sha256]) => checked.problems.get(sha256)).find((r) => r !== undefined);
    if (reason !== undefined) problems.push({ path: entry.path, reason });
  }
  // Workers finish out of order; report problems in manifest order so "the first bad file" is stable.
  const order = new Map(manifest.entries.map((entry, index) => [entry.path, index]));
  problems.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
  return {
    backup: manifest.id,
    ok: problems.length === 0,
    at,
    files: manifest.entries.length,
    bytes: checked.bytes,
    problems,
  };
}

/** How a repository verifies, wherever it is: finds a backup, reads its chunks, records the report. */
export interface Verifier {
  resolve(id: string | undefined): Promise<Manifest>;
  /** Each damaged chunk's problem by SHA-256, and the bytes read; format 1 files add theirs to the plan. */
  check(
    manifest: Manifest,
    plan: VerifyPlan,
  ): Promise<{ problems: ReadonlyMap<string, string>; bytes: number }>;
  recordVerification(report: VerifyReport): Promise<boolean>;
}

/**
 * Verify a backup (the newest without an id) and record the report unless told not to. A backup whose
 * manifest cannot be read fails its verification naming the manifest.
 */
export async function verifyBackup(
  verifier: Verifier,
  id: string | undefined,
  at: string,
  record: boolean,
): Promise<VerifyReport> {
  let report: VerifyReport;
  try {
    const manifest = await verifier.resolve(id);
    const plan = verifyPlan(manifest);
    report = verifyReport(manifest, plan, await verifier.check(manifest, plan), at);
  } catch (error) {
    if (!(error instanceof DrctlError) || error.code !== BACKUP_ERRORS.MANIFEST_INVALID || id === undefined)
      throw error;
    report = {
      backup: id,
      ok: false,
      at,
      files: 0,
      bytes: 0,
      problems: [{ path: 'manifest.json', reason: error.message }],
    };
  }
  if (record) await verifier.recordVerification(report);
  return report;
}

export interface RetentionPlan {
  decisions: RetentionDecision[];
  kept: string[];
  pruned: string[];
  /** Chunks and format 1 blobs a kept backup names. */
  referenced: Set<string>;
  referencedBlobs: Set<string>;
}

export function retentionPlan(manifests: readonly Manifest[], policy: Retention): RetentionPlan {
  const decisions = applyRetention(
    manifests.map((manifest) => ({ id: manifest.id, time: new Date(manifest.startedAt) })),
    policy,
  );
  const kept = new Set(decisions.filter((d) => d.keep).map((d) => d.id));
  const referenced = new Set<string>();
  const referencedBlobs = new Set<string>();
  for (const manifest of manifests) {
    if (!kept.has(manifest.id)) continue;
    for (const entry of manifest.entries) {
      if (entry.type !== 'file') continue;
      for (const [sha256] of entry.chunks ?? []) referenced.add(sha256);
      if (entry.sha256 !== undefined) referencedBlobs.add(entry.sha256);
    }
  }
  return {
    decisions,
    kept: [...kept],
    pruned: decisions.filter((d) => !d.keep).map((d) => d.id),
    referenced,
    referencedBlobs,
  };
}

/** The newest passed verification among the recorded ones (each a `verifications/<id>.json` text). */
export function newestPassed(texts: readonly string[]): VerifyReport | undefined {
  let newest: VerifyReport | undefined;
  for (const text of texts) {
    const report = JSON.parse(text) as VerifyReport;
    if (report.ok && (newest === undefined || report.at > newest.at)) newest = report;
  }
  return newest;
}
