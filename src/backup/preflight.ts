/**
 * Preflight of a restore from drctl's own repository (files and SQLite share it): the disk that will hold
 * the restored data has room for the backup the step restores (the newest unless it names one).
 */
import { runChecked, shellQuote } from '../exec/index.ts';
import type { Executor } from '../exec/index.ts';
import type { Plan } from '../plan/model.ts';
import { freeBytes } from '../system/probes.ts';
import { dataPath, resolveTarget, type TargetInput } from './resolve.ts';

export async function restoreFits(
  plan: Plan,
  params: TargetInput & { backup?: string | undefined; target?: string | undefined },
): Promise<{ ok: boolean; message: string; observed?: unknown }> {
  const target = resolveTarget(plan, params);
  const path = dataPath(plan, target, params.target);
  const backups = await target.repository.list();
  const backup =
    params.backup === undefined ? backups.at(-1) : backups.find((manifest) => manifest.id === params.backup);
  if (backup === undefined) {
    return {
      ok: false,
      message: `no backup${params.backup === undefined ? '' : ` ${params.backup}`} of ${target.component.id} at ${target.backupSite} to restore`,
    };
  }
  const free = target.data.host === undefined ? freeBytes(path) : await freeBytesOn(target.data, path);
  const needed = backup.stats.bytes;
  return free >= needed
    ? { ok: true, message: `${free} bytes free at ${path} for backup ${backup.id} (${needed} bytes)` }
    : {
        ok: false,
        message: `only ${free} bytes free at ${path}; backup ${backup.id} needs ${needed}`,
        observed: { free, needed },
      };
}

/** Free bytes on a host's disk holding `path` (or its nearest existing parent), as `df` there says. */
async function freeBytesOn(executor: Executor, path: string): Promise<number> {
  const result = await runChecked(
    executor,
    `d=${shellQuote(path)}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -1 | awk '{print $4}'`,
    { what: `measuring the free disk at ${path}` },
  );
  return Number(result.stdout.trim()) * 1024;
}
