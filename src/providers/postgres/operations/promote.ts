/**
 * Promoting a standby and confirming it accepts writes: over SQL (`pg_promote()`), or with `pg_ctl promote`
 * on the database's host when its files are there. A promotion is marked for the run and step asking before
 * it is requested, so a resumed step that finds the server already a primary knows it promoted it itself
 * and succeeds without promoting again; a primary nobody here promoted is still refused.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { describe, one, withClient } from '../../../pg/client.ts';
import { promoteOnHost, type HostServer } from '../server-files.ts';
import type { Target } from './target.ts';

export interface PromoteOptions {
  /** @default 60_000 */
  timeoutMs?: number;
  /**
   * Keep synchronous_standby_names on the promoted server. Off by default: the standby it named is usually
   * the site that was just lost, and commits would wait for it for ever. @default false
   */
  keepSynchronous?: boolean;
  /** The server's host and files: promote there with `pg_ctl promote -w` instead of SQL. */
  host?: HostServer | undefined;
  /**
   * The run and step asking. The promotion is marked for them before it is requested (on the host, or with
   * SQL in `markerFile` on this machine), so running the step again after a crash does not fail on the
   * primary it already made.
   */
  once?: { run: string; step: string; markerFile: string } | undefined;
  signal?: AbortSignal;
}

export interface PromoteResult {
  promotedInMs: number;
  clearedSynchronousStandbys: string | undefined;
  /**
   * The commit time of the last transaction the standby replayed before it was promoted: what its data is
   * current to (ISO 8601); undefined when it replayed none since it started.
   */
  dataAsOf: string | undefined;
  /** How it was asked: `pg_ctl promote` on its host, or `pg_promote()` over SQL. */
  how: 'pg_ctl' | 'sql';
  /** When an earlier attempt of the same step asked for the promotion (ISO 8601): it was not asked again. */
  promotedBefore?: string;
}

export async function promote(target: Target, options: PromoteOptions = {}): Promise<PromoteResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  let promotedBefore: string | undefined;
  if (options.host !== undefined) {
    const outcome = await promoteOnHost(options.host, {
      timeoutMs,
      ...(options.once === undefined ? {} : { once: options.once }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (outcome.state === 'primary') throw alreadyPrimary(target);
    promotedBefore = outcome.state === 'promoted-before' ? outcome.at : undefined;
  } else {
    promotedBefore = await promoteOverSql(target, { ...options, timeoutMs, started });
  }
  const confirmed = await confirmWritable(target, { ...options, deadline: started + timeoutMs });
  return {
    promotedInMs: Date.now() - started,
    ...confirmed,
    how: options.host === undefined ? 'sql' : 'pg_ctl',
    ...(promotedBefore === undefined ? {} : { promotedBefore }),
  };
}

function alreadyPrimary(target: Target): DrctlError {
  return new DrctlError(
    'DRCTL_PG_ALREADY_PRIMARY',
    `cannot promote ${describe(target.subject)}: it is not a standby (it already accepts writes)`,
    { hint: 'check which site is the primary with postgres.status; promote the standby site' },
  );
}

/** Asks for the promotion with pg_promote() and waits until recovery ended; says when an earlier attempt asked. */
async function promoteOverSql(
  target: Target,
  options: PromoteOptions & { timeoutMs: number; started: number },
): Promise<string | undefined> {
  const { timeoutMs, started } = options;
  const marker = options.once?.markerFile;
  return withClient(
    target.subject,
    target.url,
    async (client) => {
      const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
      if (row?.in_recovery !== true) {
        if (marker !== undefined && existsSync(marker)) return readFileSync(marker, 'utf8').trim();
        throw alreadyPrimary(target);
      }
      if (marker !== undefined) {
        mkdirSync(dirname(marker), { recursive: true });
        writeFileSync(marker, `${new Date().toISOString()}\n`);
      }
      // pg_promote(true) looks for the end of recovery every 100 ms; a promotion takes tens of ms and is
      // on the failover's critical path, so ask without waiting and look every 10 ms here
      const signalled = await one<{ ok: boolean }>(client, 'select pg_promote(false) as ok');
      let promoted = signalled?.ok === true;
      for (let lastSignal = Date.now(); promoted;) {
        const row = await one<{ in_recovery: boolean }>(client, 'select pg_is_in_recovery() as in_recovery');
        if (row?.in_recovery === false) break;
        if (Date.now() > started + timeoutMs || options.signal?.aborted === true) {
          promoted = false;
          break;
        }
        // A request that reaches the startup process just as its WAL stream breaks can be taken and then
        // slept through for wal_retrieve_retry_interval (5 s by default, seen with PostgreSQL 15 when the
        // fence kills the primary just before): asking again wakes it.
        if (Date.now() - lastSignal >= 100) {
          lastSignal = Date.now();
          await client.query('select pg_promote(false)').catch(() => undefined);
        }
        await sleep(10);
      }
      if (!promoted) {
        throw new DrctlError(
          'DRCTL_PG_PROMOTE_FAILED',
          `${describe(target.subject)} did not finish promotion within ${timeoutMs} ms`,
          { hint: 'check the server log of the standby' },
        );
      }
      return undefined;
    },
    { statementTimeoutMs: timeoutMs + 5_000 },
  );
}

/**
 * Recovery has ended; confirm with a real write in a fresh session, after clearing what would block
 * writes (a synchronous standby that is gone, a fence carried over from the former primary's settings).
 */
async function confirmWritable(
  target: Target,
  options: PromoteOptions & { deadline: number },
): Promise<Pick<PromoteResult, 'clearedSynchronousStandbys' | 'dataAsOf'>> {
  let cleared: string | undefined;
  let dataAsOf: string | undefined;
  const { deadline } = options;
  for (;;) {
    const writable = await withClient(target.subject, target.url, async (client) => {
      // once recovery has ended, pg_last_xact_replay_timestamp() stays at the last transaction it applied
      const state = await one<{
        in_recovery: boolean;
        sync_names: string;
        read_only: string;
        replayed_at: Date | null;
      }>(
        client,
        "select pg_is_in_recovery() as in_recovery, current_setting('synchronous_standby_names') as sync_names, current_setting('default_transaction_read_only') as read_only, pg_last_xact_replay_timestamp() as replayed_at",
      );
      if (state === undefined || state.in_recovery) return false;
      dataAsOf = state.replayed_at?.toISOString();
      if (state.sync_names !== '' && options.keepSynchronous !== true) {
        cleared = state.sync_names;
        await client.query("alter system set synchronous_standby_names = ''");
      }
      if (state.read_only === 'on') await client.query('alter system reset default_transaction_read_only');
      if (cleared !== undefined || state.read_only === 'on') {
        await client.query('select pg_reload_conf()');
        return false;
      }
      await client.query('begin read write');
      await client.query('create temp table drctl_promote_probe (x int)');
      await client.query('rollback');
      return true;
    });
    if (writable) break;
    if (Date.now() > deadline || options.signal?.aborted === true) {
      throw new DrctlError(
        'DRCTL_PG_PROMOTE_FAILED',
        `${describe(target.subject)} was promoted but does not accept writes yet`,
        {
          hint: 'check default_transaction_read_only and the server log',
        },
      );
    }
    await sleep(20);
  }
  return { clearedSynchronousStandbys: cleared, dataAsOf };
}
