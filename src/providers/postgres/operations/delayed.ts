/** Recovering a delayed standby (recovery_min_apply_delay) to before damage it has not applied yet. */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { describe, one, withClient } from '../../../pg/client.ts';
import { logTail, stopDataDir, type PgServer } from '../../../pg/server.ts';
import { recoveryTarget } from './restore.ts';
import { startLocal, type LocalServer, type Target } from './target.ts';

export interface DelayedRecoveryOptions {
  /** The delayed standby, on this machine. */
  local: LocalServer;
  /** Stop before this transaction (not inclusive), or at this moment. */
  target: { targetTime: Date; beforeXid?: string };
  /** @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DelayedRecoveryResult {
  server: PgServer;
  recoveredInMs: number;
  /** The apply delay it had (ms). */
  delayMs: number;
  /** The last transaction it replayed before stopping, and when it had committed. */
  lastReplayedAt: string | null;
}

/**
 * Recover a delayed standby (recovery_min_apply_delay) to a point before damage it has received but not
 * yet applied: restart it with a recovery target and no delay, let it replay up to the target, promote it.
 * WAL it holds is replayed only up to the target, so a bad transaction still waiting out the delay never
 * lands.
 */
export async function recoverDelayedStandby(
  target: Target,
  options: DelayedRecoveryOptions,
): Promise<DelayedRecoveryResult> {
  const where = describe(target.subject);
  const started = Date.now();
  const state = await withClient(target.subject, target.url, (client) =>
    one<{ in_recovery: boolean; delay: string }>(
      client,
      "select pg_is_in_recovery() as in_recovery, current_setting('recovery_min_apply_delay') as delay",
    ),
  );
  if (state?.in_recovery !== true) {
    throw new DrctlError(
      'DRCTL_PG_NOT_STANDBY',
      `${where} is not a standby: there is no delay to recover from`,
      {
        hint: 'name the delayed standby site',
      },
    );
  }
  const delayMs = pgDurationMs(state.delay);
  await stopDataDir(options.local.dataDir);
  appendFileSync(
    join(options.local.dataDir, 'postgresql.auto.conf'),
    [
      '# drctl: recover the delayed standby to before the damage',
      ...recoveryTarget(options.target),
      "recovery_target_action = 'promote'",
      "recovery_min_apply_delay = '0'",
      '',
    ].join('\n'),
  );
  const server = await startLocal(options.local, {
    noWait: true,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const deadline = started + (options.timeoutMs ?? 120_000);
  let lastReplayedAt: string | null = null;
  for (;;) {
    const row = await withClient(
      target.subject,
      target.url,
      (client) =>
        one<{ r: boolean; last: Date | null }>(
          client,
          'select pg_is_in_recovery() as r, pg_last_xact_replay_timestamp() as last',
        ),
      { timeoutMs: 1_000 },
    ).catch(() => undefined);
    if (row?.r === false) {
      lastReplayedAt = row.last === null ? null : new Date(row.last).toISOString();
      break;
    }
    if (!server.running || Date.now() > deadline || options.signal?.aborted === true) {
      throw new DrctlError(
        'DRCTL_PG_RESTORE_FAILED',
        `recovering the delayed standby ${where} did not finish:\n${logTail(options.local.logFile)}`,
        {
          hint: 'the server log above says why; a target the standby has not received yet cannot be reached',
        },
      );
    }
    await sleep(50);
  }
  return { server, recoveredInMs: Date.now() - started, delayMs, lastReplayedAt };
}

/** A duration setting as PostgreSQL shows it (`500ms`, `30s`, `1min`, `1h`, `1d`, `0`), in ms. */
export function pgDurationMs(text: string): number {
  const match = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(text.trim());
  if (match === null) return 0;
  const factor = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * factor;
}
