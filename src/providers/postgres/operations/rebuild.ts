/** Rebuilding a former primary as a standby of the current primary, here or on its host (ServerFiles). */
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { describe, one, toolConnection, withClient, type Subject } from '../../../pg/client.ts';
import { captureStrandedWrites, type Reconciliation } from '../stranded.ts';
import type { CopyPlace } from '../stranded-copy.ts';
import type { ServerFiles } from '../server-files.ts';
import type { Target } from './target.ts';

export interface RebuildOptions {
  /** The server to rebuild (the former primary): its files here or on its host. */
  files: ServerFiles;
  /** The current primary it will follow. */
  source: Target;
  /** auto: pg_rewind, and a fresh base backup when rewinding is impossible. @default 'auto' */
  method?: 'auto' | 'rewind' | 'basebackup';
  /** Make it the synchronous standby of the source once it streams. @default false */
  synchronous?: boolean;
  /** Replication slot on the source. @default drctl_<site> */
  slot?: string;
  /** @default 60_000 */
  timeoutMs?: number;
  /**
   * Before the former primary is rewound or replaced, save what it committed after the fork (stranded.ts).
   * Without it those writes are discarded unseen.
   */
  stranded?: { oldUrl: string; place: CopyPlace };
  signal?: AbortSignal;
}

export interface RebuildResult {
  method: 'rewind' | 'basebackup';
  rewindError: string | undefined;
  /** The rebuilt server's postmaster pid, where it runs. */
  pid: number | undefined;
  synchronous: boolean;
  /** With `stranded`: the writes found on the former primary after the fork. */
  reconciliation?: Reconciliation;
}

/**
 * Turn a former primary into a standby of the current primary: stop it, pg_rewind it onto the source's
 * timeline (or take a fresh base backup when rewinding is impossible), point it at the source through a
 * replication slot, start it and wait until it streams.
 */
export async function rebuildStandby(subject: Subject, options: RebuildOptions): Promise<RebuildResult> {
  const { files, source } = options;
  const slot = options.slot ?? `drctl_${subject.site.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  const where = describe(subject);
  await withClient(source.subject, source.url, async (client) => {
    const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
    if (row?.in_recovery !== false) {
      throw new DrctlError(
        'DRCTL_PG_NOT_PRIMARY',
        `cannot rebuild ${where} from ${describe(source.subject)}: the source is a standby, not a primary`,
        {
          hint: 'promote the source first, or rebuild from the site that is the primary',
        },
      );
    }
    await client.query(
      'select pg_create_physical_replication_slot($1) where not exists (select 1 from pg_replication_slots where slot_name = $1)',
      [slot],
    );
    // A freshly promoted server records its new timeline in its control file only at the next checkpoint;
    // before that pg_rewind sees one timeline and wrongly concludes that no rewind is needed.
    await client.query('checkpoint');
  });
  await files.stop('fast', 30_000);
  let reconciliation: Reconciliation | undefined;
  if (options.stranded !== undefined) {
    try {
      reconciliation = await captureStrandedWrites(subject, {
        ...options.stranded,
        source,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (cause) {
      throw new DrctlError(
        'DRCTL_PG_STRANDED_CAPTURE_FAILED',
        `cannot tell what ${where} committed after the failover, so it was not rebuilt: ${cause instanceof Error ? cause.message : String(cause)}`,
        {
          hint: 'fix the cause and run the step again (the former primary is untouched), or rebuild with stranded: discard to throw its writes away',
          cause,
        },
      );
    }
  }
  const { conninfo, env } = toolConnection(source.url, {
    application_name: subject.site,
    dbname: 'postgres',
  });
  const method = options.method ?? 'auto';
  let used: RebuildResult['method'] = 'rewind';
  let rewindError: string | undefined;
  let rewindLog: string | undefined;
  if (method !== 'basebackup' && (await files.hasData())) {
    try {
      const rewind = await files.tool(
        'pg_rewind',
        [
          `--target-pgdata=${files.dataDir}`,
          `--source-server=${conninfo}`,
          '--write-recovery-conf',
          '--no-sync',
        ],
        {
          subject: where,
          env,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
      );
      rewindLog = rewind.stdout.trim();
    } catch (error) {
      if (method === 'rewind') throw error;
      rewindError = error instanceof Error ? error.message : String(error);
      used = 'basebackup';
    }
  } else {
    used = 'basebackup';
  }
  if (used === 'basebackup') {
    await files.remove();
    await files.tool(
      'pg_basebackup',
      ['-D', files.dataDir, '-d', conninfo, '-R', '-X', 'stream', '-S', slot, '--checkpoint=fast'],
      {
        subject: where,
        env,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
  }
  await files.makeStandby(slot);
  const server = await files.start(options.signal === undefined ? {} : { signal: options.signal });
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const row = await withClient(source.subject, source.url, (client) =>
      one<{ state: string }>(client, 'select state from pg_stat_replication where application_name = $1', [
        subject.site,
      ]),
    );
    if (row?.state === 'streaming') break;
    if (!(await server.running()) || Date.now() > deadline || options.signal?.aborted === true) {
      await server.stop();
      throw new DrctlError(
        'DRCTL_PG_REBUILD_FAILED',
        `${where} was rebuilt (${used}) but does not stream from ${describe(source.subject)}:\n${rewindLog ?? ''}\n${await files.logTail(30)}`,
        {
          hint: 'the server log above says why; the rebuilt server was stopped',
        },
      );
    }
    await sleep(50);
  }
  if (options.synchronous === true) {
    await withClient(source.subject, source.url, async (client) => {
      await client.query(
        `alter system set synchronous_standby_names = ${client.escapeLiteral(`FIRST 1 ("${subject.site}")`)}`,
      );
      await client.query('select pg_reload_conf()');
    });
  }
  return {
    method: used,
    rewindError,
    pid: server.pid,
    synchronous: options.synchronous === true,
    ...(reconciliation === undefined ? {} : { reconciliation }),
  };
}
