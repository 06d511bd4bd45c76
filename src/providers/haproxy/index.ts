/**
 * The haproxy provider: runbook steps that move traffic through a team's own HAProxy, over its runtime
 * API (the stats socket, unix or TCP): `haproxy.ready`, `haproxy.drain`, `haproxy.maint` and
 * `haproxy.weight` on `{ socket, backend, server }`, the check `haproxy.server` reading a server's state
 * and health from `show stat`, and readiness facts for components of kind `haproxy`. Nothing is rewritten
 * or reloaded: the runtime API changes the running process. Every action keeps the server's line of
 * `show stat` before and after as evidence.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Component } from '../../plan/model.ts';
import { DurationParam } from '../params.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type {
  ActionContext,
  ActionResult,
  FrontDoorOptions,
  Provider,
  ReadinessFact,
  RunningFrontDoor,
} from '../provider.ts';
import { findServer, runtimeChange, serverStat, showStat } from './runtime.ts';
import type { ServerStat } from './runtime.ts';

export { parseSocket, runtimeCommand, showStat, serverStat } from './runtime.ts';
export type { ServerStat } from './runtime.ts';

const Target = {
  socket: z
    .string()
    .min(1)
    .describe(
      "HAProxy's stats socket (`stats socket ... level admin`): a path, or host:port for a TCP socket.",
    ),
  backend: z.string().min(1).describe('The backend, as haproxy.cfg names it.'),
  server: z.string().min(1).describe('The server of that backend, as haproxy.cfg names it.'),
  timeout: DurationParam.optional().describe('How long to wait for the runtime API. @default 5s'),
};
const ServerParams = z.strictObject(Target);
const WeightParams = z.strictObject({
  ...Target,
  weight: z
    .union([z.number().int().min(0).max(256), z.string().regex(/^\d{1,3}%$/, 'a weight like 50%')])
    .describe('The new weight (0–256), or a percentage of the weight in haproxy.cfg ("50%").'),
});
const StateParams = z.strictObject({
  ...Target,
  status: z
    .string()
    .optional()
    .describe(
      'The `show stat` status to expect: UP, DOWN, DRAIN, MAINT, ... ("UP 1/2", going down, still counts as UP). @default UP',
    ),
});

type ServerTarget = z.output<typeof ServerParams>;

/** A state change of `set server`, and the words it puts in the summary. */
function stateAction(state: 'ready' | 'drain' | 'maint', description: string, undo?: string) {
  return defineAction({
    description,
    params: ServerParams,
    idempotent: true,
    ...(undo === undefined ? {} : { undo }),
    evidence: ['state-before', 'state-after'],
    run: (params, ctx) => change(params, ctx, `set server ${params.backend}/${params.server} state ${state}`),
  });
}

export const haproxyProvider = {
  name: 'haproxy',
  description: "Moves traffic through a team's HAProxy over its runtime API (the stats socket).",
  kinds: ['haproxy'],
  actions: {
    ready: stateAction('ready', 'Put a server back into rotation: out of drain or maintenance.'),
    drain: stateAction(
      'drain',
      'Send no new sessions to a server (persistent ones still reach it); health checks go on.',
      'ready',
    ),
    maint: stateAction(
      'maint',
      'Take a server out of rotation: no traffic, no health checks, its sessions redispatched.',
      'ready',
    ),
    weight: defineAction({
      description: 'Set the weight of a server (0 sends it nothing new, without marking it down).',
      params: WeightParams,
      idempotent: true,
      evidence: ['state-before', 'state-after'],
      run: (params, ctx) =>
        change(params, ctx, `set weight ${params.backend}/${params.server} ${String(params.weight)}`),
    }),
  },
  checks: {
    server: defineCheck({
      description:
        "Passes when the server's `show stat` status is the one expected (UP by default); observes its health check.",
      params: StateParams,
      async run(params, ctx) {
        const stat = await serverStat(params.socket, params.backend, params.server, options(params, ctx));
        const expected = (params.status ?? 'UP').toUpperCase();
        // "UP 1/2" is still up (a check failed, not yet enough to take it out); "DOWN 1/2" still down
        const ok =
          stat.status.toUpperCase() === expected || stat.status.split(' ')[0]?.toUpperCase() === expected;
        return {
          ok,
          message: `${params.backend}/${params.server} is ${describe(stat)}${ok ? '' : `, not ${expected}`}`,
          observed: stat,
        };
      },
    }),
  },
  /**
   * A drill's front door: Debian's haproxy with one server per site (the standby ones `backup`), health
   * checks from the plan's probe settings (or `front_door.check` as written), and its runtime API on
   * `front_door.admin` (TCP), where the runbook's haproxy.* steps reach it. HAProxy alone moves traffic to
   * a backup server once every active one fails its checks; a runbook moves it at once with haproxy.maint.
   */
  async frontDoor(options: FrontDoorOptions): Promise<RunningFrontDoor> {
    const backend = 'site';
    const config = join(options.workDir, 'haproxy.cfg');
    const admin = `${options.admin.host}:${options.admin.port}`;
    const check =
      typeof options.fields.check === 'string'
        ? options.fields.check
        : `check inter ${options.probe.intervalMs}ms fall ${options.probe.failures} rise ${options.probe.successes}`;
    writeFileSync(
      config,
      [
        'global',
        `  stats socket ipv4@${admin} level admin`,
        'defaults',
        '  mode http',
        '  timeout connect 1s',
        '  timeout client 30s',
        '  timeout server 30s',
        `  timeout check ${options.probe.timeoutMs}ms`,
        'frontend clients',
        `  bind ${options.host}:${options.port}`,
        `  default_backend ${backend}`,
        `backend ${backend}`,
        `  option httpchk GET ${options.probe.path}`,
        ...options.endpoints.map(
          (e) => `  server ${e.site} ${e.host}:${e.port} ${check}${e.standby ? ' backup' : ''}`,
        ),
        '',
      ].join('\n'),
    );
    await options.startProcess({
      name: 'front-door@haproxy',
      command: `exec ${haproxyCommand()} -db -f '${config.replace(/'/g, "'\\''")}'`,
      ready: { tcp: `${options.host}:${options.port}` },
      readyTimeoutMs: 10_000,
    });
    const servers = async (): Promise<ServerStat[]> =>
      (await showStat(admin, { timeoutMs: 2_000 })).filter((stat) => stat.backend === backend);
    return {
      url: `http://${options.host}:${options.port}`,
      env: {},
      secretEnv: [],
      async activeSite() {
        const up = (await servers()).filter((stat) => /^UP\b/.test(stat.status));
        return (up.find((stat) => !stat.backup) ?? up[0])?.server;
      },
      evidence: async () => [{ name: 'haproxy servers', value: await servers() }],
      // the execution layer stops the process with the drill
      close: async () => undefined,
    };
  },
  /**
   * A `haproxy` component's placement names, per site, the server that sends to that site:
   * `{ socket, backend, server }`. Facts: the runtime API answers, the backend's servers are up, and the
   * standby placement's server is ready to take traffic.
   */
  async readiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
    const facts: ReadinessFact[] = [];
    const targets = component.placement.flatMap((placement) => {
      const { socket, backend, server } = placement.fields;
      return typeof socket === 'string' && typeof backend === 'string' && typeof server === 'string'
        ? [{ site: placement.site, standby: placement.standby, socket, backend, server }]
        : [];
    });
    const bySocket = new Map<string, ServerStat[] | Error>();
    for (const target of targets) {
      if (bySocket.has(target.socket)) continue;
      try {
        bySocket.set(target.socket, await showStat(target.socket, { signal: ctx.signal }));
      } catch (error) {
        bySocket.set(target.socket, error instanceof Error ? error : new Error(String(error)));
      }
    }
    for (const [socket, stats] of bySocket) {
      facts.push({
        component: component.id,
        site: undefined,
        name: 'reachable',
        ok: !(stats instanceof Error),
        value: !(stats instanceof Error),
        message: stats instanceof Error ? stats.message : `HAProxy's runtime API at ${socket} answers`,
      });
    }
    const backends = new Set(targets.map((target) => `${target.socket} ${target.backend}`));
    for (const key of backends) {
      const [socket = '', backend = ''] = key.split(' ');
      const stats = bySocket.get(socket);
      if (stats === undefined || stats instanceof Error) continue;
      const servers = stats.filter((stat) => stat.backend === backend);
      const up = servers.filter((stat) => isUp(stat));
      facts.push({
        component: component.id,
        site: undefined,
        name: 'servers-up',
        ok: up.length > 0,
        value: up.length,
        limit: servers.length,
        message: `${up.length} of ${servers.length} servers of ${backend} up: ${servers.map((s) => `${s.server} ${describe(s)}`).join(', ') || 'none'}`,
      });
    }
    for (const target of targets.filter((t) => t.standby)) {
      const stats = bySocket.get(target.socket);
      if (stats === undefined || stats instanceof Error) continue;
      let fact: ReadinessFact;
      try {
        const stat = findServer(stats, target.socket, target.backend, target.server);
        fact = {
          component: component.id,
          site: target.site,
          name: 'standby-ready',
          ok: isUp(stat),
          value: stat.status,
          message: `standby server ${target.backend}/${target.server} is ${describe(stat)}`,
        };
      } catch (error) {
        fact = {
          component: component.id,
          site: target.site,
          name: 'standby-ready',
          ok: false,
          value: false,
          message: error instanceof Error ? error.message : String(error),
        };
      }
      facts.push(fact);
    }
    return facts;
  },
} satisfies Provider;

function options(params: { timeout?: number | undefined }, ctx: ActionContext) {
  return { timeoutMs: params.timeout ?? 5_000, signal: ctx.signal };
}

async function change(params: ServerTarget, ctx: ActionContext, command: string): Promise<ActionResult> {
  const runtime = options(params, ctx);
  // reading first turns an unknown backend or server into an error naming the ones HAProxy has
  const before = await serverStat(params.socket, params.backend, params.server, runtime);
  ctx.evidence('state-before', before);
  await runtimeChange(params.socket, command, runtime);
  const after = await serverStat(params.socket, params.backend, params.server, runtime);
  ctx.evidence('state-after', after);
  ctx.log.info(
    { socket: params.socket, command, before: before.status, after: after.status },
    'haproxy runtime change',
  );
  return {
    summary: `${params.backend}/${params.server}: ${describe(before)} → ${describe(after)}`,
    output: { before, after },
  };
}

/** A server is up when HAProxy sends it traffic: UP (also "UP 1/3" while going down) or "no check". */
function isUp(stat: ServerStat): boolean {
  return /^UP\b/i.test(stat.status) || /^no check$/i.test(stat.status);
}

function describe(stat: ServerStat): string {
  const check = stat.checkStatus === '' ? '' : `, check ${stat.checkStatus}`;
  return `${stat.status} (weight ${stat.weight}${check})`;
}

/** Debian installs haproxy in /usr/sbin, which is not on every user's PATH. */
function haproxyCommand(): string {
  return existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
}
