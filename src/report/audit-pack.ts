/**
 * The auditor pack (ISO 22301, SOC 2): for a period, one document with the plan's version history, every
 * test with its evidence, measured figures against targets, approvals with who and when, findings and
 * their resolution, and `audit verify` of every run; beside it the JSON evidence and journal exports it
 * was made from, and a manifest of their SHA-256 hashes that `verifyAuditPack` re-checks.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { complianceOf } from '../compliance/index.ts';
import { collectOccurrences } from '../compliance/occurrences.ts';
import { RECORD, exportRun, runView, verifyRun } from '../engine/index.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Plan } from '../plan/model.ts';
import { siteOfRun } from '../plan/site.ts';
import { findChromium, htmlToPdf } from '../render/index.ts';
import type { DrillReportRecord, RunRecord, RunStore } from '../store/store.ts';
import { TABLETOP_COLLECTION, type TabletopRecord } from '../tabletop/record.ts';
import { IncidentBook, PROMISE_TEXT, communicationPromises, type Incident } from '../status/index.ts';
import { writeReportHtml, type ReportDocument, type ReportSection } from './document.ts';

export const AUDIT_PACK_FORMAT = 'drctl.audit-pack/1';
export const MANIFEST_FILE = 'manifest.json';

/** The chapters every pack has, in order. */
export const AUDIT_CHAPTERS = [
  { id: 'plan-versions', title: 'Plan version history' },
  { id: 'tests', title: 'Tests in the period' },
  { id: 'measured', title: 'Measured figures against targets' },
  { id: 'approvals', title: 'Approvals and decisions' },
  { id: 'findings', title: 'Findings and their resolution' },
  { id: 'communications', title: 'Communication promises' },
  { id: 'audit-verify', title: 'Audit log verification' },
  { id: 'compliance', title: 'Compliance with the test schedule' },
] as const;

export interface AuditPackOptions {
  plan: Plan;
  store: RunStore;
  since: Date;
  /** @default now */
  until?: Date;
  out: string;
  /** Print a PDF too when Chromium is present. @default true */
  pdf?: boolean;
}

export interface AuditPackResult {
  dir: string;
  html: string;
  pdf: string | undefined;
  files: { path: string; sha256: string; bytes: number }[];
}

const day = (d: Date | string): string => new Date(d).toISOString().slice(0, 10);
const ms = (v: unknown): string => (typeof v === 'number' ? formatDuration(v) : '—');
const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The plan files' git history, when they are in a git repository; empty otherwise. */
function gitHistory(plan: Plan): string[][] {
  try {
    const out = execFileSync(
      'git',
      ['log', '--format=%H%x09%aI%x09%an%x09%s', '--', ...plan.files.map((f) => relative(plan.baseDir, f))],
      { cwd: plan.baseDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [hash = '', at = '', who = '', subject = ''] = l.split('\t');
        return [hash.slice(0, 12), day(at), who, subject];
      });
  } catch {
    return [];
  }
}

/** What the chapters of an auditor pack share: the period, its records, and the files kept for the pack. */
interface Pack {
  readonly plan: Plan;
  readonly store: RunStore;
  readonly since: Date;
  readonly until: Date;
  /** Drill reports, runs and tabletops of the period, oldest first. */
  readonly drills: DrillReportRecord[];
  readonly runs: RunRecord[];
  readonly tabletops: TabletopRecord[];
  readonly occurrences: Awaited<ReturnType<typeof collectOccurrences>>;
  inPeriod(d: Date | string): boolean;
  /** A file of the pack, listed in its manifest in the order kept. */
  keep(path: string, data: string | Uint8Array): void;
}

export async function writeAuditPack(options: AuditPackOptions): Promise<AuditPackResult> {
  const { plan, store, since, out } = options;
  const until = options.until ?? new Date();
  const inPeriod = (d: Date | string): boolean => {
    const t = new Date(d).getTime();
    return t >= since.getTime() && t <= until.getTime();
  };
  const written: { path: string; data: string | Uint8Array }[] = [];
  const pack: Pack = {
    ...{ plan, store, since, until, inPeriod },
    drills: (await store.listDrillReports({ limit: 10_000 })).filter((d) => inPeriod(d.startedAt)).reverse(),
    tabletops: (await store.listDocuments(TABLETOP_COLLECTION, { limit: 10_000 }))
      .map((d) => d.data as unknown as TabletopRecord)
      .filter((t) => inPeriod(t.finishedAt)),
    runs: (await store.listRuns({ limit: 10_000 })).filter((r) => inPeriod(r.createdAt)).reverse(),
    occurrences: (await collectOccurrences(plan, store)).filter((o) => inPeriod(o.at)),
    keep: (path, data) => void written.push({ path, data }),
  };
  const { drills, tabletops, runs, occurrences, keep } = pack;
  for (const d of drills) keep(`evidence/drills/${d.id}.json`, `${JSON.stringify(d.report, null, 2)}\n`);
  for (const t of tabletops) keep(`evidence/tabletops/${t.id}.json`, `${JSON.stringify(t, null, 2)}\n`);
  const ran = await runEvidence(pack);
  const sections: ReportSection[] = [
    planVersions(pack),
    testsChapter(pack),
    measuredChapter(pack, ran.siteRows),
    approvalsChapter(ran.approvals),
    findingsChapter(pack),
    await communicationsChapter(pack),
    verifyChapter(ran.verified),
    await complianceChapter(pack),
  ];
  const document: ReportDocument = {
    title: `Auditor pack: ${plan.name}`,
    meta: [
      `Period ${day(since)} to ${day(until)} · plan version ${plan.hash.slice(0, 16)}`,
      `${occurrences.length} tests, ${drills.length} drill reports, ${runs.length} runs, ${tabletops.length} tabletop exercises. Every file named here is listed with its SHA-256 in ${MANIFEST_FILE}.`,
    ],
    sections,
    footer: `drctl auditor pack · format ${AUDIT_PACK_FORMAT} · made ${until.toISOString()}`,
  };
  const html = writeReportHtml(document);
  keep('audit-pack.html', html);
  let pdf: string | undefined;
  if (options.pdf !== false && findChromium() !== undefined) {
    keep(
      'audit-pack.pdf',
      await htmlToPdf(html, { footer: `${plan.name} · auditor pack ${day(since)} – ${day(until)}` }),
    );
    pdf = join(out, 'audit-pack.pdf');
  }

  const files: AuditPackResult['files'] = [];
  for (const file of written) {
    await mkdir(dirname(join(out, file.path)), { recursive: true });
    await writeFile(join(out, file.path), file.data);
    files.push({ path: file.path, sha256: sha256(file.data), bytes: Buffer.byteLength(file.data) });
  }
  const manifest = {
    format: AUDIT_PACK_FORMAT,
    plan: { name: plan.name, hash: plan.hash },
    since: since.toISOString(),
    until: until.toISOString(),
    files,
  };
  await writeFile(join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir: out, html: join(out, 'audit-pack.html'), pdf, files };
}

/** Each run's journal and site evidence kept; its approvals, its site's workloads and its hash chain, as rows. */
async function runEvidence(
  pack: Pack,
): Promise<{ approvals: string[][]; verified: string[][]; siteRows: string[][] }> {
  const { store, runs, keep } = pack;
  const approvals: string[][] = [];
  const verified: string[][] = [];
  // site recoveries: each workload and tier against its RTO, measured by the run's journal
  const siteRows: string[][] = [];
  for (const run of runs) {
    const lines: string[] = [];
    for await (const line of exportRun(store, run.id)) lines.push(line);
    keep(`journals/${run.id}.jsonl`, `${lines.join('\n')}\n`);
    for (const record of await store.readJournal(run.id))
      if (
        [
          RECORD.approvalGranted,
          RECORD.approvalRejected,
          RECORD.stepConfirmed,
          RECORD.decision,
          RECORD.cancelRequested,
        ].includes(record.type as never)
      )
        approvals.push([
          run.id,
          `${run.workload}/${run.runbook}`,
          record.step ?? '',
          record.type,
          record.actor,
          record.at.toISOString(),
        ]);
    const site =
      siteOfRun(run.workload) === undefined ? undefined : runView(await store.readJournal(run.id)).site;
    if (site !== undefined) {
      keep(`evidence/site-runs/${run.id}.json`, `${JSON.stringify(site, null, 2)}\n`);
      for (const child of site.children)
        siteRows.push([
          run.id,
          site.site,
          child.workload,
          `tier ${child.tier}`,
          ms(child.recoveredAfterMs),
          ms(child.rtoMs),
          child.fits === undefined ? child.status : child.fits ? 'met' : 'missed',
        ]);
      siteRows.push([run.id, site.site, 'whole site', '', ms(site.recoveredAfterMs), '', run.status]);
    }
    const check = await verifyRun(store, run.id);
    verified.push([
      run.id,
      run.startedBy,
      run.status,
      String(check.records),
      check.ok ? 'intact' : 'broken',
      check.ok
        ? check.headHash.slice(0, 16)
        : `record ${check.problem?.seq ?? '?'}: ${check.problem?.reason ?? ''}`,
    ]);
  }

  return { approvals, verified, siteRows };
}

function planVersions(pack: Pack): ReportSection {
  const { plan, runs, drills } = pack;
  const hashes = new Map<string, { first: string; last: string; uses: number }>();
  const seen = (hash: string | undefined, at: Date): void => {
    if (hash === undefined) return;
    const entry = hashes.get(hash) ?? { first: at.toISOString(), last: at.toISOString(), uses: 0 };
    if (at.toISOString() < entry.first) entry.first = at.toISOString();
    if (at.toISOString() > entry.last) entry.last = at.toISOString();
    entry.uses += 1;
    hashes.set(hash, entry);
  };
  for (const r of runs) seen(r.planHash, r.createdAt);
  for (const d of drills) seen(d.planHash, d.startedAt);
  const git = gitHistory(plan);
  return {
    id: 'plan-versions',
    title: AUDIT_CHAPTERS[0].title,
    blocks: [
      {
        kind: 'p',
        text: `Current version ${plan.hash} of ${plan.files.length} file(s): ${plan.files.map((f) => relative(plan.baseDir, f)).join(', ')}.`,
      },
      {
        kind: 'table',
        head: ['Plan version (SHA-256)', 'First used', 'Last used', 'Runs and drills'],
        rows: [...hashes].map(([h, e]) => [h.slice(0, 16), day(e.first), day(e.last), String(e.uses)]),
      },
      git.length === 0
        ? {
            kind: 'p',
            text: 'The plan is not in a git repository: its content hashes are the version history.',
          }
        : { kind: 'table', head: ['Git commit', 'Date', 'Author', 'Change'], rows: git },
    ],
  };
}

function testsChapter(pack: Pack): ReportSection {
  const { occurrences, tabletops } = pack;
  return {
    id: 'tests',
    title: AUDIT_CHAPTERS[1].title,
    blocks: [
      {
        kind: 'table',
        head: ['Date', 'Workload', 'Test', 'Scenario', 'Source', 'Evidence', 'Result'],
        rows: occurrences.map((o) => [
          day(o.at),
          o.workload ?? 'all',
          o.kind,
          o.scenario ?? '',
          o.source,
          o.source === 'drill'
            ? `evidence/drills/${o.ref}.json`
            : o.source === 'tabletop'
              ? `evidence/tabletops/${o.ref}.json`
              : o.source === 'run'
                ? `journals/${o.ref}.jsonl`
                : o.ref,
          o.result ?? '—',
        ]),
      },
      ...tabletops.map((t) => ({
        kind: 'p' as const,
        text: `Tabletop ${t.id}: ${t.workload}/${t.runbook} led by ${t.facilitator} with ${t.attendees.join(', ')}; ${t.steps.length} steps walked, ${t.status}.`,
      })),
    ],
  };
}

function measuredChapter(pack: Pack, siteRows: string[][]): ReportSection {
  const { drills } = pack;
  return {
    id: 'measured',
    title: AUDIT_CHAPTERS[2].title,
    blocks: [
      {
        kind: 'table',
        head: [
          'Drill',
          'Workload',
          'Date',
          'Detection',
          'RTO measured',
          'RTO target',
          'Writes lost',
          'RPO measured',
          'RPO target',
          'Result',
        ],
        rows: drills.map((d) => {
          const r = d.report as {
            targets?: { rtoMs?: number; rpoMs?: number };
            measured?: { lostWrites?: { spanMs?: number } };
          };
          return [
            d.id,
            d.workload,
            day(d.startedAt),
            ms(d.detectionMs),
            ms(d.rtoMs),
            ms(r.targets?.rtoMs),
            String(d.lostWrites),
            ms(r.measured?.lostWrites?.spanMs),
            ms(r.targets?.rpoMs),
            d.passed ? 'passed' : 'failed',
          ];
        }),
      },
      ...(siteRows.length === 0
        ? []
        : [
            {
              kind: 'table' as const,
              head: ['Site run', 'Site', 'Workload', 'Tier', 'Back after', 'RTO target', 'Result'],
              rows: siteRows,
            },
          ]),
    ],
  };
}

function approvalsChapter(approvals: string[][]): ReportSection {
  return {
    id: 'approvals',
    title: AUDIT_CHAPTERS[3].title,
    blocks: [
      approvals.length === 0
        ? { kind: 'p', text: 'No approval or decision was recorded in the period.' }
        : { kind: 'table', head: ['Run', 'Runbook', 'Step', 'What', 'Who', 'When (UTC)'], rows: approvals },
    ],
  };
}

function findingsChapter(pack: Pack): ReportSection {
  const { drills, tabletops } = pack;
  // a drill finding is resolved once a later drill of the same scenario no longer reports its code
  const findingRows: string[][] = [];
  for (const [i, d] of drills.entries()) {
    const found = (d.report as { findings?: { code: string; message: string }[] }).findings ?? [];
    for (const f of found) {
      const later = drills.slice(i + 1).find((x) => x.scenario === d.scenario && x.workload === d.workload);
      const still =
        later !== undefined &&
        ((later.report as { findings?: { code: string }[] }).findings ?? []).some((x) => x.code === f.code);
      findingRows.push([
        day(d.startedAt),
        `drill ${d.id}`,
        f.code,
        f.message,
        later === undefined || still ? 'open' : 'resolved',
        later === undefined || still ? '' : `by drill ${later.id}`,
      ]);
    }
  }
  for (const t of tabletops)
    for (const f of t.findings)
      findingRows.push([day(t.finishedAt), `tabletop ${t.id}`, f.code, f.message, f.status, '']);
  return {
    id: 'findings',
    title: AUDIT_CHAPTERS[4].title,
    blocks: [
      findingRows.length === 0
        ? { kind: 'p', text: 'No test in the period reported a finding.' }
        : {
            kind: 'table',
            head: ['Date', 'From', 'Code', 'Finding', 'Status', 'Resolution'],
            rows: findingRows,
          },
    ],
  };
}

async function communicationsChapter(pack: Pack): Promise<ReportSection> {
  const { plan, store, until, inPeriod, keep } = pack;
  // seed 004's promises, judged on every incident of the plan opened in the period (its run's workload, or
  // its components)
  const components = new Set(plan.workloads.flatMap((w) => w.components.map((c) => c.id)));
  const ofPlan = (i: Incident): boolean =>
    i.run !== undefined
      ? plan.workloads.some((w) => w.id === i.run!.workload)
      : i.components.some((c) => components.has(c));
  const incidents = (await new IncidentBook(store).list({ limit: 10_000 }))
    .filter((i) => i.kind === 'incident' && inPeriod(i.openedAt) && ofPlan(i))
    .reverse();
  const promiseRows: string[][] = [];
  for (const incident of incidents) {
    keep(`evidence/incidents/${incident.id}.json`, `${JSON.stringify(incident, null, 2)}\n`);
    for (const p of communicationPromises(incident, plan.communications, until))
      promiseRows.push([
        incident.id,
        incident.title,
        day(incident.openedAt),
        PROMISE_TEXT[p.promise],
        ms(p.limitMs),
        p.observedMs === undefined ? 'not yet' : ms(p.observedMs),
        p.status,
      ]);
  }
  return {
    id: 'communications',
    title: AUDIT_CHAPTERS[5].title,
    blocks: [
      promiseRows.length === 0
        ? { kind: 'p', text: 'No incident of the plan was opened on the status page in the period.' }
        : {
            kind: 'table',
            className: 'promises',
            head: ['Incident', 'Title', 'Opened', 'Promise (seed 004)', 'Limit', 'Seen', 'Kept'],
            rows: promiseRows,
          },
    ],
  };
}

function verifyChapter(verified: string[][]): ReportSection {
  return {
    id: 'audit-verify',
    title: AUDIT_CHAPTERS[6].title,
    blocks: [
      {
        kind: 'table',
        className: 'audit-verify',
        head: ['Run', 'Started by', 'Status', 'Records', 'Hash chain', 'Head or first bad record'],
        rows: verified,
      },
    ],
  };
}

async function complianceChapter(pack: Pack): Promise<ReportSection> {
  const { plan, store, until } = pack;
  const compliance = await complianceOf(plan, store, until);
  return {
    id: 'compliance',
    title: AUDIT_CHAPTERS[7].title,
    blocks: [
      {
        kind: 'table',
        head: ['Workload', 'Test', 'Schedule', 'Last', 'Next due', 'Status'],
        rows: compliance.workloads.flatMap((w) =>
          w.tests.map((t) => [
            w.id,
            t.id,
            t.schedule,
            t.last ? day(t.last.at) : 'never',
            t.nextDueAt ? day(t.nextDueAt) : 'now',
            t.status,
          ]),
        ),
      },
      ...compliance.issues.map((i) => ({ kind: 'p' as const, text: `${i.code}: ${i.message}` })),
      ...((compliance.training ?? []).length === 0
        ? []
        : [
            {
              kind: 'table' as const,
              className: 'training',
              head: ['DR executor', 'Last drill or tabletop', 'Date', 'Counts until', 'Training'],
              rows: (compliance.training ?? []).map((t) => [
                t.name,
                t.last?.what ?? 'none',
                t.last ? day(t.last.at) : '—',
                t.expiresAt ? day(t.expiresAt) : '—',
                t.status,
              ]),
            },
          ]),
    ],
  };
}

/** Every file of the manifest, re-hashed: the ones missing or changed since the pack was made. */
export async function verifyAuditPack(
  dir: string,
): Promise<{ ok: boolean; files: number; problems: string[] }> {
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as {
    files: { path: string; sha256: string }[];
  };
  const problems: string[] = [];
  for (const file of manifest.files) {
    const data = await readFile(join(dir, file.path)).catch(() => undefined);
    if (data === undefined) problems.push(`${file.path}: missing`);
    else if (sha256(data) !== file.sha256) problems.push(`${file.path}: changed (SHA-256 differs)`);
  }
  return { ok: problems.length === 0, files: manifest.files.length, problems };
}
