/**
 * The files provider: backs up a component's directory to a repository at another site, restores it,
 * verifies it by re-hashing every file, and applies grandfather-father-son retention. The repository
 * format and its crash-safety live in `src/backup/`; the SQLite provider writes to the same format.
 */
import { z } from 'zod';
import { defineAction } from '../provider.ts';
import type { Provider } from '../provider.ts';
import { dataPath, resolveTarget, targetParams } from '../../backup/resolve.ts';
import {
  backupEvidence,
  backupReadiness,
  freshCheck,
  listAction,
  pruneAction,
  repositoryHostNeeds,
  restorePreflight,
  verificationError,
} from './shared.ts';
import type { VerifyReport } from '../../backup/index.ts';

const KIND = 'files';

export const filesProvider = {
  name: 'files',
  description:
    'Directory backups to another site: chunked, content-addressed, incremental, compressed, checksummed, with retention.',
  kinds: ['files', 'file-share', 'directory'],
  backup: {
    actions: { backup: 'backup', prune: 'prune', check: 'verify', restore: 'restore' },
    snapshotParam: 'backup',
  },
  actions: {
    backup: defineAction({
      description:
        "Back up the component's directory at a site to its backup site; only chunks of content new to the repository are stored.",
      params: z.strictObject({
        ...targetParams,
        source: z.string().optional().describe('Directory to back up, overriding the placement path.'),
        rehash: z
          .boolean()
          .optional()
          .describe('Read every file even when size and times say it is unchanged. @default false'),
      }),
      idempotent: true,
      evidence: ['backup'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const source = dataPath(ctx.plan, target, params.source);
        const manifest = await target.repository.backupDirectory(source, {
          kind: KIND,
          site: target.site,
          rehash: params.rehash === true,
          compression: target.policy?.compression ?? 'auto',
          signal: ctx.signal,
          from: target.data,
        });
        const evidence = backupEvidence(manifest, target.repository.where);
        ctx.evidence('backup', evidence);
        ctx.log.info(evidence, 'backup complete');
        return {
          summary: `backed up ${manifest.stats.files} files (${manifest.stats.bytes} bytes) of ${target.component.id}@${target.site} to ${target.backupSite} as ${manifest.id}; ${manifest.stats.copiedFiles} files had new content (${manifest.stats.copiedBytes} bytes, ${manifest.stats.storedBytes ?? manifest.stats.copiedBytes} stored)`,
          output: evidence,
        };
      },
    }),
    restore: defineAction({
      description:
        'Restore a backup (the newest by default) to the placement path at a site, or to an explicit path. Refuses a target holding other data unless force.',
      params: z.strictObject({
        ...targetParams,
        backup: z.string().optional().describe('Backup id. @default the newest'),
        target: z.string().optional().describe('Directory to restore into, overriding the placement path.'),
        force: z.boolean().optional().describe('Replace what the target holds. @default false'),
      }),
      // A restore into a target that already holds exactly this backup succeeds without writing.
      idempotent: true,
      evidence: ['restore'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const path = dataPath(ctx.plan, target, params.target);
        const result = await target.repository.restoreTree(params.backup, path, {
          site: target.site,
          force: params.force === true,
          signal: ctx.signal,
          to: target.data,
        });
        ctx.evidence('restore', result);
        const summary = result.alreadyRestored
          ? `${path} already holds backup ${result.backup}; nothing written`
          : `restored backup ${result.backup} (${result.files} files, ${result.bytes} bytes) of ${target.component.id} to ${path} at ${target.site}${target.data.host === undefined ? '' : ` (${target.data.where})`}`;
        return { summary, output: { ...result } };
      },
    }),
    verify: defineAction({
      description:
        'Re-hash every file of a backup (the newest by default, or all) against its manifest; fails naming the first damaged file.',
      params: z.strictObject({
        ...targetParams,
        backup: z.string().optional().describe('Backup id. @default the newest'),
        all: z.boolean().optional().describe('Verify every backup. @default false'),
      }),
      idempotent: true,
      evidence: ['verification'],
      async run(params, ctx) {
        const target = resolveTarget(ctx.plan, params);
        const { repository } = target;
        const ids =
          params.all === true
            ? [...(await repository.list()).map((m) => m.id), ...repository.damaged]
            : [params.backup];
        const reports: VerifyReport[] = [];
        for (const id of ids) reports.push(await repository.verify(id, { signal: ctx.signal }));
        ctx.evidence('verification', { repository: repository.where, reports });
        const failed = reports.find((report) => !report.ok);
        if (failed !== undefined)
          throw verificationError(failed, target.component.id, target.backupSite, repository.where);
        const files = reports.reduce((sum, report) => sum + report.files, 0);
        const bytes = reports.reduce((sum, report) => sum + report.bytes, 0);
        return {
          summary: `verified ${reports.length} backup(s) of ${target.component.id} at ${target.backupSite}: ${files} files, ${bytes} bytes, all match`,
          output: { reports },
        };
      },
    }),
    prune: pruneAction('files'),
    list: listAction('files'),
  },
  checks: {
    'backup-fresh': freshCheck('files', KIND),
  },
  readiness: (component, ctx) => backupReadiness(component, ctx, KIND),
  hostNeeds: repositoryHostNeeds(['tar']),
  preflight: { restore: restorePreflight },
} satisfies Provider;
