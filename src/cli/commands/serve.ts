/**
 * `drctl serve PLAN... --state DIR|URL --listen 127.0.0.1:7070`: the API, the console and the metrics,
 * and the engine for runs started through them. SIGTERM or Ctrl-C stops it cleanly: steps in flight are
 * journaled, leases released; started again, it resumes the runs it was driving. With a `postgres://`
 * state several instances share one store, and each takes over the runs of one that died.
 */
import { stateFlag } from '../state-options.ts';
import { parseDuration } from '../../plan/duration.ts';
import { redactCredentials } from '../../plan/secrets.ts';
import { DEFAULT_LISTEN } from '../../server/defaults.ts';
import type { RegisterCommand } from '../context.ts';

interface ServeOptions {
  state: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureListen?: boolean;
  pollMs: string;
  readinessEvery: string;
  preflightEvery: string;
  stopGrace: string;
  leaseTtl: string;
  monitor?: boolean;
  exportDir?: string;
  statusListen?: string;
}

export const registerServe: RegisterCommand = (program, context) => {
  program
    .command('serve')
    .description('serve the API, the web console and metrics; drive the runs started through them')
    .argument('<plans...>', 'plan files (YAML)')
    .option(...stateFlag('state directory (SQLite) or postgres:// URL (several instances)'))
    .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
    .option(
      '--status-listen <host:port>',
      'also serve the public status page, and nothing else, on this address (it may face the internet)',
    )
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--insecure-listen', 'allow plain HTTP on an address other than loopback (behind a TLS proxy)')
    .option('--poll-ms <ms>', 'how often the store is read for changes made by other processes', '250')
    .option('--readiness-every <ms>', 'how often readiness is checked in the background', '30000')
    .option(
      '--preflight-every <duration>',
      'how often every plan is preflighted (docs/preflight.md); 0 turns it off',
      '30m',
    )
    .option('--stop-grace <ms>', 'on SIGTERM, how long steps in flight may take to finish', '10000')
    .option(
      '--lease-ttl <ms>',
      "how long a run's lease lasts unrenewed: another instance takes over within about this long",
      '5000',
    )
    .option(
      '--export-dir <dir>',
      "keep rendered runbooks and every run's journal export here, readable with everything down",
    )
    .option(
      '--monitor',
      "watch the plans' workloads and fail over by themselves where allowed; one instance leads each workload",
    )
    .action(async (plans: string[], options: ServeOptions) => {
      const { createServer } = await import('../../server/index.ts');
      const server = await createServer({
        plans,
        state: options.state,
        leaseTtlMs: positive(options.leaseTtl, 5_000),
        ...(options.monitor ? { monitor: true } : {}),
        ...(options.exportDir === undefined ? {} : { exportDir: options.exportDir }),
        listen: options.listen,
        pollMs: positive(options.pollMs, 250),
        readinessEveryMs: positive(options.readinessEvery, 30_000),
        preflightEveryMs:
          options.preflightEvery === '0' ? 0 : (parseDuration(options.preflightEvery) ?? 30 * 60_000),
        debug: context.debug,
        ...(options.tlsCert === undefined ? {} : { tlsCert: options.tlsCert }),
        ...(options.tlsKey === undefined ? {} : { tlsKey: options.tlsKey }),
        ...(options.insecureListen ? { insecureListen: true } : {}),
        ...(options.statusListen === undefined ? {} : { statusListen: options.statusListen }),
      });
      let stopped!: () => void;
      const stop = new Promise<void>((resolveStop) => (stopped = resolveStop));
      process.once('SIGTERM', () => stopped());
      process.once('SIGINT', () => stopped());
      try {
        const { url, resumed } = await server.listen();
        context.err.write(
          `drctl serve listening on ${url} (${server.ctx.plans
            .list()
            .map((plan) => plan.name)
            .join(', ')}; state ${redactCredentials(server.ctx.options.stateStore)})\n`,
        );
        if (server.ctx.statusAddress !== undefined)
          context.err.write(`status page on http://${server.ctx.statusAddress}/status\n`);
        if (resumed.length > 0)
          context.err.write(`resumed ${resumed.length} run(s): ${resumed.join(', ')}\n`);
        await stop;
        context.err.write('stopping: steps in flight are journaled, runs resume on the next start\n');
      } finally {
        await server.close({ graceMs: positive(options.stopGrace, 10_000) });
      }
    });
};

function positive(text: string, fallback: number): number {
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
