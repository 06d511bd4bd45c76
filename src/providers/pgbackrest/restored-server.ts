/**
 * The data directory a pgBackRest restore writes, and the server started on it to prove the restore: on
 * the database's host (pg_ctl there, as the server's OS user) or on this machine (drctl's own server
 * handling). Either way the server is reached over TCP at the placement's address on the port asked for.
 */
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../../errors.ts';
import { emptyDirectory, runChecked, shellQuote } from '../../exec/index.ts';
import type { Executor } from '../../exec/index.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import { one, withClient } from '../../pg/client.ts';
import { PgServer } from '../../pg/server.ts';
import type { ActionContext } from '../provider.ts';
import { PGBACKREST_ERRORS, asServerUser, giveToServer, prepare } from './pgbackrest.ts';
import type { PgbackrestTarget } from './pgbackrest.ts';

/** An empty data directory the server's user owns with the mode PostgreSQL insists on. */
export async function prepareDataDir(
  executor: Executor,
  dir: string,
  force: boolean,
  component: string,
): Promise<void> {
  await emptyDirectory(executor, dir, {
    force,
    notEmpty: (entries) =>
      new DrctlError(
        PGBACKREST_ERRORS.TARGET_NOT_EMPTY,
        `restore target ${dir} of "${component}" is not empty (${entries} entries)${executor.host === undefined ? '' : ` on ${executor.where}`}`,
        {
          hint: 'restore into an empty directory, or say force: true to empty it first',
          details: { target: dir },
        },
      ),
  });
  const path = shellQuote(dir);
  await runChecked(executor, `chmod 700 ${path} && ${giveToServer(path)}`, {
    what: `handing the restore target ${dir} to the server's user`,
  });
}

/**
 * Bytes free where the executor runs, on the disk of `path` or of its nearest existing parent (a restore
 * creates its data directory, on the disk of its parent).
 */
export async function freeDisk(executor: Executor, path: string): Promise<{ path: string; free: number }> {
  const { stdout } = await runChecked(
    executor,
    `d=${shellQuote(path)}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; printf '%s\\n' "$d"; df -Pk "$d" | tail -1 | awk '{print $4}'`,
    { what: `measuring the free disk at ${path}` },
  );
  const [dir = path, kib = '0'] = stdout.trim().split('\n');
  return { path: dir, free: Number(kib) * 1024 };
}

/** A server started on a restored directory: its pid, and how to stop it when recovery fails. */
interface Started {
  pid: number | undefined;
  running(): Promise<boolean>;
  kill(): Promise<void>;
}

/**
 * Starts PostgreSQL on a restored directory and waits until recovery has ended and it takes writes; the
 * server keeps running (a verification's proofs query it, then stop it).
 */
export async function startRestored(
  t: PgbackrestTarget,
  dataDir: string,
  port: number,
  url: string,
  ctx: ActionContext,
): Promise<{ pid: number | undefined }> {
  const logFile = join(dirname((await prepare(t)).configFile), `restore-${port}.log`);
  const server =
    t.executor.host === undefined
      ? await startHere(t, dataDir, port, logFile, ctx)
      : await startOnHost(t, dataDir, port, logFile);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const row = await withClient({ component: t.component.id, site: t.site }, url, (client) =>
      one<{ recovering: boolean }>(client, 'select pg_is_in_recovery() as recovering'),
    ).catch(() => undefined);
    if (row?.recovering === false) return { pid: server.pid };
    if (!(await server.running()) || Date.now() > deadline || ctx.signal.aborted) {
      await server.kill();
      throw new DrctlError(
        PGBACKREST_ERRORS.FAILED,
        `the server restored from pgBackRest stanza ${t.stanza} did not finish recovery`,
        { hint: `see ${logFile}${t.executor.host === undefined ? '' : ` on ${t.executor.where}`}` },
      );
    }
    await sleep(100);
  }
}

/** The restore's cipher pass for the server's restore_command (archive-get), when the repository is encrypted. */
function cipherEnv(t: PgbackrestTarget): Record<string, string> {
  const pass = t.env.PGBACKREST_REPO1_CIPHER_PASS;
  return pass === undefined ? {} : { PGBACKREST_REPO1_CIPHER_PASS: pass };
}

async function startHere(
  t: PgbackrestTarget,
  dataDir: string,
  port: number,
  logFile: string,
  ctx: ActionContext,
): Promise<Started> {
  const binDir = t.placement.fields.bin_dir;
  const server = await PgServer.start({
    binaries: findPgBinaries(typeof binDir === 'string' && binDir !== '' ? binDir : undefined),
    dataDir,
    port,
    // the production socket directory is not this server's; TCP only
    socketDir: '',
    logFile,
    persistent: true,
    env: cipherEnv(t),
    signal: ctx.signal,
  });
  return { pid: server.pid, running: async () => server.running, kill: () => server.kill() };
}

/**
 * pg_ctl on the host, as the server's OS user, listening on the placement's address: the server is a
 * session of its own there (pg_ctl makes it one), so it outlives the command that started it.
 */
async function startOnHost(
  t: PgbackrestTarget,
  dataDir: string,
  port: number,
  logFile: string,
): Promise<Started> {
  const binDir = t.placement.fields.bin_dir;
  const address = new URL(t.placement.url ?? 'postgres://localhost').hostname || '*';
  const pgCtl = [
    typeof binDir === 'string' && binDir !== '' ? `b=${shellQuote(binDir)}` : 'b=',
    // the placement's bin_dir, else pg_ctl on the PATH, else the newest of Debian's installed versions
    '[ -n "$b" ] || { p=$(command -v pg_ctl) && b=$(dirname "$p"); } || b=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)',
  ].join('\n');
  const data = shellQuote(dataDir);
  const options = shellQuote(`-c listen_addresses=${address} -c port=${port} -c unix_socket_directories=''`);
  await runChecked(
    t.executor,
    `${pgCtl}\n${asServerUser(`"$b/pg_ctl" -D ${data} -l ${shellQuote(logFile)} -o ${options} start`)}`,
    { env: cipherEnv(t), what: `starting PostgreSQL on the restored ${dataDir}` },
  );
  const pid = Number(
    (await t.executor.run(`head -1 ${shellQuote(join(dataDir, 'postmaster.pid'))}`)).stdout.trim(),
  );
  return {
    pid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
    running: async () => (await t.executor.run(`kill -0 ${pid}`)).exitCode === 0,
    kill: async () => {
      await t.executor.run(`${pgCtl}\n${asServerUser(`"$b/pg_ctl" -D ${data} stop -m immediate`)}`);
    },
  };
}
