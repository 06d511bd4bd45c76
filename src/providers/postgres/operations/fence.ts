/** Fencing a (former) primary: read-only with its write sessions cut, or shut down where its files are. */
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../../errors.ts';
import { HostError } from '../../../exec/index.ts';
import { describe, one, withClient } from '../../../pg/client.ts';
import type { StopOutcome } from '../../../pg/server.ts';
import type { ServerFiles } from '../server-files.ts';
import type { Target } from './target.ts';

export interface FenceOptions {
  /** read-only: the server refuses writes in every new transaction and its write sessions are cut; stop: it is shut down. */
  how: 'read-only' | 'stop';
  /** Needed for how=stop: the server's data directory, here or on its host. */
  files?: ServerFiles | undefined;
  /** skip: report an unreachable server as not fenced instead of failing. */
  ifUnreachable: 'fail' | 'skip';
}

export interface FenceResult {
  fenced: boolean;
  reachable: boolean;
  how: FenceOptions['how'];
  terminatedSessions: number;
  /** With how=stop: an immediate shutdown, or SIGKILL because the server was frozen or too slow to stop. */
  stopped?: StopOutcome;
}

export async function fence(target: Target, options: FenceOptions): Promise<FenceResult> {
  const base = { how: options.how, terminatedSessions: 0 };
  if (options.how === 'stop') {
    const files = options.files;
    if (files === undefined) {
      throw new DrctlError(
        'DRCTL_PG_NO_DATA_DIR',
        `cannot stop ${describe(target.subject)}: its placement has no data_dir`,
        {
          hint: 'add data_dir to the placement, or fence with how: read-only',
        },
      );
    }
    // A fence is on the failover's critical path and only has to end the writes: an immediate shutdown
    // does not wait for a standby the lost site may no longer reach, and what is left is rewound later.
    let stopped: StopOutcome;
    try {
      stopped = await files.stop('immediate', 5_000);
    } catch (error) {
      // the database's host cannot be reached: the same as a server that cannot be reached
      if (
        error instanceof HostError &&
        error.code === 'DRCTL_HOST_UNREACHABLE' &&
        options.ifUnreachable === 'skip'
      )
        return { ...base, fenced: false, reachable: false };
      throw error;
    }
    if (stopped === 'not-running' && options.ifUnreachable === 'fail' && !(await files.hasData())) {
      throw new DrctlError(
        'DRCTL_PG_NO_DATA_DIR',
        `cannot stop ${describe(target.subject)}: ${files.dataDir} on ${files.where} is not a PostgreSQL data directory`,
      );
    }
    return { ...base, fenced: true, reachable: stopped !== 'not-running', stopped };
  }
  try {
    const terminated = await withClient(target.subject, target.url, async (client) => {
      await client.query('alter system set default_transaction_read_only = on');
      await client.query('select pg_reload_conf()');
      const killed = await client.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
      );
      return killed.rowCount ?? 0;
    });
    // The reload is asynchronous: wait until a new session sees the setting before calling it fenced.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const readOnly = await withClient(target.subject, target.url, async (client) =>
        one<{ value: string }>(client, "select current_setting('default_transaction_read_only') as value"),
      );
      if (readOnly?.value === 'on') break;
      if (Date.now() > deadline) {
        throw new DrctlError(
          'DRCTL_PG_FENCE_FAILED',
          `${describe(target.subject)} did not become read-only after the reload`,
          {
            hint: 'check the server log; fence with how: stop instead',
          },
        );
      }
      await sleep(20);
    }
    return { ...base, fenced: true, reachable: true, terminatedSessions: terminated };
  } catch (error) {
    if (
      error instanceof DrctlError &&
      error.code === 'DRCTL_PG_UNREACHABLE' &&
      options.ifUnreachable === 'skip'
    ) {
      return { ...base, fenced: false, reachable: false };
    }
    throw error;
  }
}

/** Undo a read-only fence. */
export async function unfence(target: Target): Promise<void> {
  await withClient(target.subject, target.url, async (client) => {
    await client.query('alter system reset default_transaction_read_only');
    await client.query('select pg_reload_conf()');
  });
}
