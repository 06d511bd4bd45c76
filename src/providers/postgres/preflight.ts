/** What `drctl preflight` checks before a postgres step runs. */
import { join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import { executorOn } from '../../exec/index.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import { withClient } from '../../pg/client.ts';
import { freeBytes, portFree } from '../../system/probes.ts';
import type { PreflightCheck } from '../provider.ts';
import { listBackups } from './operations/backup.ts';
import { nodeStatus } from './operations/status.ts';
import {
  findComponent,
  findPlacement,
  localBackupLocation,
  pathField,
  resolve,
  stringField,
} from './placement.ts';
import { hostTool } from './server-files.ts';

/** The placement's server answers with the credentials of its url (reachable and credentials at once). */
export const connects: PreflightCheck = {
  name: 'server answers with its credentials',
  kind: 'credentials',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const resolved = resolve(ctx.plan, component, site);
    try {
      const version = await withClient(
        resolved.subject,
        resolved.url,
        async (client) => (await client.query<{ v: string }>('show server_version')).rows[0]?.v,
        { timeoutMs: 5_000 },
      );
      return {
        ok: true,
        message: `${component} at ${site} answers (PostgreSQL ${version ?? '?'}) as ${new URL(resolved.url).username || 'the default user'}`,
      };
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
      const what = error.code === 'DRCTL_PG_AUTH' ? 'refuses the credentials' : 'does not answer';
      return {
        ok: false,
        message: `${component} at ${site} ${what}: ${error.message}`,
        observed: { code: error.code },
      };
    }
  },
};

/** postgres.promote: the site's server is a standby, in recovery and streaming from a primary. */
export const standbyStreaming: PreflightCheck = {
  name: 'standby in recovery and streaming',
  kind: 'capacity',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const status = await nodeStatus(resolve(ctx.plan, component, site)).catch((error: unknown) => {
      if (error instanceof DrctlError && error.code === 'DRCTL_PG_AUTH') return undefined;
      throw error;
    });
    // a server that does not answer or refuses the credentials is said by the connection check
    if (status === undefined || !status.reachable) return undefined;
    if (status.role !== 'standby')
      return {
        ok: false,
        message: `${component} at ${site} is a ${status.role}, not a standby: there is nothing to promote`,
      };
    return status.streaming === true
      ? { ok: true, message: `${component} at ${site} is a standby streaming from its primary` }
      : {
          ok: false,
          message: `${component} at ${site} is in recovery but not streaming: promoting it may lose what it has not received`,
        };
  },
};

/**
 * The server programs an action runs (initdb, pg_ctl, pg_basebackup, pg_rewind): on the placement's host
 * when it names one, else on this machine.
 */
export const serverPrograms: PreflightCheck = {
  name: 'PostgreSQL server programs',
  kind: 'tool',
  async run(params, ctx) {
    const { component, site } = params as { component: string; site: string };
    const placement = findPlacement(findComponent(ctx.plan, component), site);
    try {
      if (placement.host !== undefined) {
        const host = {
          executor: executorOn(ctx.plan, placement.host),
          binDir: stringField(placement, 'bin_dir'),
        };
        const version = (await hostTool(host, 'pg_ctl', ['--version'], {})).stdout.trim();
        return { ok: true, message: `${version} on ${host.executor.where}` };
      }
      const found = findPgBinaries(pathField(ctx.plan, placement, 'bin_dir'));
      return { ok: true, message: `${found.version} in ${found.dir}`, observed: found };
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
      return { ok: false, message: error.message };
    }
  },
};

/** postgres.restore-pitr: the new data directory's disk holds the newest base backup, and the port is free. */
export const restoreCapacity: PreflightCheck[] = [
  {
    name: 'free disk for the newest backup',
    kind: 'capacity',
    async run(params, ctx) {
      const {
        component,
        site,
        from,
        data_dir: dataDir,
      } = params as { component: string; site: string; from?: string; data_dir: string };
      // on a host, the location and the disk are there: not measured from here
      if (findPlacement(findComponent(ctx.plan, component), site).host !== undefined) return undefined;
      const location = localBackupLocation(ctx.plan, findComponent(ctx.plan, component), ctx, from);
      const newest = listBackups(location)
        .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))
        .at(-1);
      if (newest === undefined)
        return { ok: false, message: `no base backup of ${component} in ${location} to restore` };
      const target = dataDir.startsWith('/') ? dataDir : join(ctx.plan.baseDir, dataDir);
      const free = freeBytes(target);
      return free >= newest.bytes
        ? {
            ok: true,
            message: `${free} bytes free at ${target} for backup ${newest.id} (${newest.bytes} bytes)`,
          }
        : {
            ok: false,
            message: `only ${free} bytes free at ${target}; backup ${newest.id} needs ${newest.bytes}`,
            observed: { free, needed: newest.bytes },
          };
    },
  },
  {
    name: 'port free',
    kind: 'capacity',
    async run(params, ctx) {
      const { component, site, port } = params as { component: string; site: string; port: number };
      if (findPlacement(findComponent(ctx.plan, component), site).host !== undefined) return undefined;
      return (await portFree(port))
        ? { ok: true, message: `port ${port} free for the restored instance` }
        : { ok: false, message: `port ${port} is already in use: the restored instance could not listen` };
    },
  },
];
