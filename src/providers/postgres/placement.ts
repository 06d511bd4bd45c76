/**
 * From a step's parameters to what the operations act on: the component and its placement at a site, the
 * server's URL (secrets from the environment), its files here or on its host, and its backup location.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { executorOn } from '../../exec/index.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import { withClient, type Subject } from '../../pg/client.ts';
import { expandEnv, findComponent as findPlanComponent } from '../../plan/lookup.ts';
import type { Component, Placement, Plan } from '../../plan/model.ts';
import type { ActionContext } from '../provider.ts';
import { hostBackupFiles, localBackupFiles, type BackupFiles } from './backup-location.ts';
import {
  hostServerFiles,
  localServerFiles,
  type HostPrograms,
  type HostServer,
  type ServerFiles,
} from './server-files.ts';
import { hostCopyPlace, localCopyPlace, type CopyPlace } from './stranded-copy.ts';
import type { LocalServer, Target } from './operations/target.ts';

export const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i);
export const ComponentSite = z.strictObject({ component: Id, site: Id });

export function findComponent(plan: Plan, id: string): Component {
  const component = findPlanComponent(plan, id);
  if (component !== undefined) return component;
  throw new DrctlError('DRCTL_PG_UNKNOWN_COMPONENT', `the plan has no component ${id}`, {
    hint: 'check the component id in the step parameters',
  });
}

export function findPlacement(component: Component, site: string): Placement {
  const placement = component.placement.find((candidate) => candidate.site === site);
  if (placement === undefined) {
    throw new DrctlError(
      'DRCTL_PG_NO_PLACEMENT',
      `component ${component.id} has no placement at site ${site}`,
      {
        hint: `add placement.${site} to component ${component.id}, or use one of its sites: ${component.placement.map((p) => p.site).join(', ')}`,
        location: component.at,
      },
    );
  }
  return placement;
}

/** `${NAME}` in a URL comes from the environment, so passwords stay out of plan files. */
export function expandUrl(text: string, subject: Subject): string {
  return expandEnv(
    text,
    (name) =>
      new DrctlError(
        'DRCTL_PG_SECRET_MISSING',
        `the url of component ${subject.component} at site ${subject.site} uses \${${name}}, which is not set`,
        { hint: `export ${name} before running drctl` },
      ),
  );
}

export interface Resolved extends Target {
  component: Component;
  placement: Placement;
}

export function resolve(plan: Plan, componentId: string, site: string): Resolved {
  const component = findComponent(plan, componentId);
  const placement = findPlacement(component, site);
  const subject = { component: component.id, site };
  if (placement.url === undefined) {
    throw new DrctlError('DRCTL_PG_NO_PLACEMENT', `component ${component.id} at site ${site} has no url`, {
      hint: 'give the placement a url: postgres://user:${PASSWORD}@host:port/database',
      location: placement.at,
    });
  }
  return { component, placement, subject, url: expandUrl(placement.url, subject) };
}

export function stringField(placement: Placement, name: string): string | undefined {
  const value = placement.fields[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function pathField(plan: Plan, placement: Placement, name: string): string | undefined {
  const value = stringField(placement, name);
  if (value === undefined) return undefined;
  return isAbsolute(value) ? value : join(plan.baseDir, value);
}

export function noDataDir(resolved: Resolved): DrctlError {
  return new DrctlError(
    'DRCTL_PG_NO_DATA_DIR',
    `${resolved.subject.component} at site ${resolved.subject.site} has no data_dir; this action works on the server's files`,
    {
      hint: 'add data_dir (the PostgreSQL data directory, on the placement host when it names one) to the placement',
      location: resolved.placement.at,
    },
  );
}

/** The server on this machine behind a placement, for actions that need its files. */
export function localServer(
  plan: Plan,
  resolved: Resolved,
  ctx: ActionContext,
  dataDirOverride?: string,
): LocalServer {
  const dataDir = dataDirOverride ?? pathField(plan, resolved.placement, 'data_dir');
  if (dataDir === undefined) throw noDataDir(resolved);
  return {
    binaries: findPgBinaries(pathField(plan, resolved.placement, 'bin_dir')),
    dataDir,
    host: new URL(resolved.url).hostname,
    port: listenPort(resolved),
    logFile:
      pathField(plan, resolved.placement, 'log_file') ??
      join(ctx.stateDir, `postgres-${resolved.subject.component}-${resolved.subject.site}.log`),
    socketDir: pathField(plan, resolved.placement, 'socket_dir') ?? '',
    persistent: true,
  };
}

/** Where a read-only copy of the server's stopped data directory is made, to read its stranded writes. */
export function copyPlace(plan: Plan, resolved: Resolved, ctx: ActionContext): CopyPlace {
  const host = resolved.placement.host;
  if (host === undefined) {
    const local = localServer(plan, resolved, ctx);
    return localCopyPlace(local.binaries, local.dataDir);
  }
  const dataDir = stringField(resolved.placement, 'data_dir');
  if (dataDir === undefined) throw noDataDir(resolved);
  return hostCopyPlace({
    executor: executorOn(plan, host),
    dataDir,
    listenAddress: new URL(resolved.url).hostname,
    binDir: stringField(resolved.placement, 'bin_dir'),
  });
}

/** The port the server listens on: clients may reach it through a proxy on the url's port, it listens behind it. */
function listenPort(resolved: Resolved): number {
  const port = Number(resolved.placement.fields.listen_port);
  if (Number.isInteger(port) && port > 0) return port;
  const url = new URL(resolved.url);
  return url.port === '' ? 5432 : Number(url.port);
}

/**
 * The server on the placement's host (`host:`, paths as written there); undefined for a placement without
 * a host or a data_dir.
 */
export function hostServer(
  plan: Plan,
  resolved: Resolved,
  instance: { dataDir: string; port: number } | undefined = undefined,
): HostServer | undefined {
  const host = resolved.placement.host;
  const dataDir = instance?.dataDir ?? stringField(resolved.placement, 'data_dir');
  if (host === undefined || dataDir === undefined) return undefined;
  return {
    ...hostPrograms(plan, resolved, host),
    address: {
      dataDir,
      host: new URL(resolved.url).hostname,
      port: instance?.port ?? listenPort(resolved),
      // another instance (a restore) logs beside its own data directory
      logFile:
        (instance === undefined ? stringField(resolved.placement, 'log_file') : undefined) ??
        `${dataDir}.log`,
      socketDir: stringField(resolved.placement, 'socket_dir') ?? '',
    },
  };
}

function hostPrograms(plan: Plan, resolved: Resolved, host: string): HostPrograms {
  return { executor: executorOn(plan, host), binDir: stringField(resolved.placement, 'bin_dir') };
}

/** Where the placement's base backups are taken and read: on its host (pg_basebackup there) or here. */
export function backupFiles(plan: Plan, resolved: Resolved): BackupFiles {
  const host = resolved.placement.host;
  return host === undefined
    ? localBackupFiles(findPgBinaries(pathField(plan, resolved.placement, 'bin_dir')))
    : hostBackupFiles(hostPrograms(plan, resolved, host));
}

/**
 * The files of a new instance for the placement (a point-in-time restore): on its host, or on this machine
 * with its log in the state directory.
 */
export function instanceFiles(
  plan: Plan,
  resolved: Resolved,
  ctx: ActionContext,
  instance: { dataDir: string; port: number },
): ServerFiles {
  const host = hostServer(plan, resolved, instance);
  if (host !== undefined) return hostServerFiles(host);
  const local = localServer(plan, resolved, ctx, instance.dataDir);
  return localServerFiles(
    {
      ...local,
      port: instance.port,
      socketDir: local.socketDir ?? '',
      logFile: join(ctx.stateDir, `postgres-${resolved.subject.component}-restore-${instance.port}.log`),
    },
    local.binaries,
  );
}

/**
 * A path a person wrote for the placement: as written on its host (which has no plan directory, so it must
 * be absolute there), else relative to the plan's directory.
 */
export function placementPath(plan: Plan, resolved: Resolved, path: string, what: string): string {
  if (isAbsolute(path)) return path;
  if (resolved.placement.host === undefined) return join(plan.baseDir, path);
  throw new DrctlError(
    'DRCTL_PG_HOST_PATH',
    `${what} ${path} of ${resolved.subject.component} at site ${resolved.subject.site} is relative, but it is a path on host ${resolved.placement.host}`,
    { hint: 'write the absolute path on the database host', location: resolved.placement.at },
  );
}

/**
 * The server's files behind a placement, where they are: on its host or on this machine. Undefined without
 * a data_dir.
 */
export function serverFiles(plan: Plan, resolved: Resolved, ctx: ActionContext): ServerFiles | undefined {
  if (resolved.placement.host !== undefined) {
    const host = hostServer(plan, resolved);
    return host === undefined ? undefined : hostServerFiles(host);
  }
  if (stringField(resolved.placement, 'data_dir') === undefined) return undefined;
  const local = localServer(plan, resolved, ctx);
  return localServerFiles({ ...local, socketDir: local.socketDir ?? '' }, local.binaries);
}

export function requireServerFiles(plan: Plan, resolved: Resolved, ctx: ActionContext): ServerFiles {
  const files = serverFiles(plan, resolved, ctx);
  if (files === undefined) throw noDataDir(resolved);
  return files;
}

/** A component's backup location on this machine: the backup policy's path (or the state directory) plus the component id. */
export function localBackupLocation(
  plan: Plan,
  component: Component,
  ctx: ActionContext,
  override?: string,
  to?: string,
): string {
  if (override !== undefined) return isAbsolute(override) ? override : join(plan.baseDir, override);
  const policy = backupPolicy(component, to);
  const root =
    policy?.path === undefined
      ? join(ctx.stateDir, 'backups', policy?.to ?? 'local')
      : isAbsolute(policy.path)
        ? policy.path
        : join(plan.baseDir, policy.path);
  return join(root, component.id);
}

/** The backup location of a placement's backups: on its host a path there (the policy's, absolute), else here. */
export function backupLocation(
  plan: Plan,
  resolved: Resolved,
  ctx: ActionContext,
  override?: string,
): string {
  const host = resolved.placement.host;
  if (host === undefined) return localBackupLocation(plan, resolved.component, ctx, override);
  const path = override ?? backupPolicy(resolved.component)?.path;
  if (path === undefined)
    throw new DrctlError(
      'DRCTL_PG_HOST_PATH',
      `${resolved.subject.component} at site ${resolved.subject.site} is on host ${host}, and no backup location on that host is given`,
      {
        hint: 'give the backup policy a path (absolute, on the database host), or the step to:/from:',
        location: resolved.placement.at,
      },
    );
  return override === undefined
    ? join(placementPath(plan, resolved, path, 'the backup location'), resolved.component.id)
    : placementPath(plan, resolved, path, 'the backup location');
}

function backupPolicy(component: Component, to?: string): Component['backups'][number] | undefined {
  return (
    component.backups.find((candidate) => to === undefined || candidate.to === to) ?? component.backups[0]
  );
}

export function targets(plan: Plan, component: Component): Target[] {
  return component.placement
    .filter((placement) => placement.url !== undefined)
    .map((placement) => {
      const subject = { component: component.id, site: placement.site };
      return { subject, url: expandUrl(placement.url ?? '', subject) };
    });
}

/** Rows as arrays of column values, for `sql:` checks and postgres.query. */
export async function runQuery(
  plan: Plan,
  componentId: string,
  site: string,
  sql: string,
): Promise<unknown[][]> {
  const resolved = resolve(plan, componentId, site);
  return withClient(resolved.subject, resolved.url, async (client) => {
    const result = await client.query<unknown[]>({ text: sql, rowMode: 'array' });
    return result.rows;
  });
}
