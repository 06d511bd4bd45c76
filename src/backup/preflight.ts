/**
 * Preflight of a restore from drctl's own repository (files and SQLite share it): the disk that will hold
 * the restored data has room for the backup the step restores (the newest unless it names one).
 */
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
  const free = freeBytes(path);
  const needed = backup.stats.bytes;
  return free >= needed
    ? { ok: true, message: `${free} bytes free at ${path} for backup ${backup.id} (${needed} bytes)` }
    : {
        ok: false,
        message: `only ${free} bytes free at ${path}; backup ${backup.id} needs ${needed}`,
        observed: { free, needed },
      };
}
