/**
 * The process provider: a site's compute as supervised local processes, so cold, warm and hot standby
 * can be real on one machine. Its actions name a component and a site; the placement gives the command
 * and its `env`, `cwd`, `port`/`ports`, `ready`, `instances`, `restart` and `grace` fields, and the
 * step's `with:` may override any of them. The supervisor (`supervisor.ts`) does the work; this file
 * turns plan parameters into a `ProcessSpec`.
 */
import path from 'node:path';
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import { findPlacement } from '../../plan/lookup.ts';
import type { Plan } from '../../plan/model.ts';
import { DurationParam } from '../params.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, PreflightCheck, Provider, ReadinessFact } from '../provider.ts';
import { portFree, programInstalledOn } from '../../system/probes.ts';
import { executorOn } from '../../exec/index.ts';
import { processGroupsAt } from './groups.ts';
import { supervisorFor } from './supervisor.ts';
import type { InstanceStatus, ProcessSpec, ReadyProbe, RestartPolicy } from './supervisor.ts';

export { Supervisor, supervisorFor, closeOnExit, freePort } from './supervisor.ts';
export { HostProcessGroups } from './host-groups.ts';
export { processGroupsAt, type ProcessGroups } from './groups.ts';
export type {
  ProcessSpec,
  ReadyProbe,
  RestartPolicy,
  InstanceStatus,
  InstanceState,
  StopResult,
  SupervisorOptions,
} from './supervisor.ts';

const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
const Port = z.number().int().min(1).max(65_535);

const Target = {
  component: z.string().min(1).describe('Component id; its placement at the site says what to run.'),
  site: z.string().min(1).describe('Site id.'),
};

const StartParams = z.strictObject({
  ...Target,
  command: z.string().optional().describe('@default the placement command'),
  env: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .describe('Added to the placement env.'),
  cwd: z
    .string()
    .optional()
    .describe('Relative to the plan. @default the placement cwd, else the plan directory'),
  port: Port.optional().describe('Port of the first instance; instance i gets port + i.'),
  ports: z.array(Port).optional().describe('Port of each instance.'),
  instances: z.number().int().min(0).optional().describe('@default the placement instances, else 1'),
  ready: z
    .string()
    .optional()
    .describe(
      'Readiness: an http(s) URL or host:port, probed from where drctl runs; {{host}} is the address of the host the instance runs on. @default {{host}}:{{port}} when there is a port',
    ),
  ready_timeout: DurationParam.optional().describe('@default 30s'),
  restart: z.enum(RESTART_POLICIES).optional().describe('@default never'),
  grace: DurationParam.optional().describe('Time between SIGTERM and SIGKILL on stop. @default 5s'),
});

const StopParams = z.strictObject({
  ...Target,
  grace: DurationParam.optional().describe('@default the placement grace, else 5s'),
});
const SignalParams = z.strictObject(Target);
const ScaleParams = z.strictObject({ ...Target, instances: z.number().int().min(0) });
const RunningParams = z.strictObject({
  ...Target,
  instances: z.number().int().min(1).optional().describe('At least this many must run. @default 1'),
});

type StartInput = z.output<typeof StartParams>;

/** Builds the supervisor's spec for a component at a site: placement fields, then `with:` overrides. */
export function processSpecFor(plan: Plan, params: StartInput): { spec: ProcessSpec; instances: number } {
  const name = groupName(params.component, params.site);
  const placement = findPlacement(plan, params.component, params.site);
  const fields = placement?.fields ?? {};
  const command = params.command ?? placement?.command;
  if (command === undefined) {
    throw new DrctlError('DRCTL_PROCESS_NO_COMMAND', `${name}: no command to run`, {
      hint: `give the placement of ${params.component} at ${params.site} a command, or pass command in with:`,
      ...(placement === undefined ? {} : { location: placement.at }),
    });
  }
  const env = { ...stringRecord(fields.env), ...stringRecord(params.env) };
  const cwdField = params.cwd ?? (typeof fields.cwd === 'string' ? fields.cwd : undefined);
  const port = params.port ?? numberField(fields.port);
  const ports =
    params.ports ??
    (Array.isArray(fields.ports)
      ? fields.ports.filter((p): p is number => typeof p === 'number')
      : undefined);
  const readyText = params.ready ?? (typeof fields.ready === 'string' ? fields.ready : undefined);
  const ready = readyProbe(readyText, port !== undefined || ports !== undefined);
  const restart = params.restart ?? (RESTART_POLICIES as readonly string[]).find((p) => p === fields.restart);
  const grace = params.grace ?? durationField(fields.grace);
  const spec: ProcessSpec = {
    name,
    command,
    env,
    // on a host, as written: relative to the login directory there
    ...(placement?.host === undefined
      ? { cwd: path.resolve(plan.baseDir, cwdField ?? '.') }
      : cwdField === undefined
        ? {}
        : { cwd: cwdField }),
    ...(port === undefined ? {} : { port }),
    ...(ports === undefined ? {} : { ports }),
    ...(ready === undefined ? {} : { ready }),
    readyTimeoutMs: params.ready_timeout ?? 30_000,
    ...(restart === undefined ? {} : { restart: restart as RestartPolicy }),
    ...(grace === undefined ? {} : { graceMs: grace }),
  };
  return { spec, instances: params.instances ?? numberField(fields.instances) ?? 1 };
}

/** Group name of a component's processes at a site; also names its pid file. */
export function groupName(component: string, site: string): string {
  return `${component}@${site}`;
}

function readyProbe(text: string | undefined, hasPort: boolean): ReadyProbe | undefined {
  if (text === undefined) return hasPort ? { tcp: '{{host}}:{{port}}' } : undefined;
  return /^https?:\/\//.test(text) ? { url: text } : { tcp: text };
}

function stringRecord(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function numberField(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function durationField(value: unknown): number | undefined {
  const parsed = DurationParam.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function describe(instances: InstanceStatus[]): Record<string, unknown> {
  return {
    pids: instances.map((i) => i.pid),
    ports: instances.map((i) => i.port).filter((p) => p !== undefined),
    states: instances.map((i) => i.state),
  };
}

function supervisor(ctx: ActionContext) {
  return supervisorFor(ctx.stateDir, ctx.log);
}

/** process.start: the program is installed and the ports it will listen on are free (or already ours). */
const startPreflight: PreflightCheck[] = [
  {
    name: 'program installed',
    kind: 'tool',
    run: (params, ctx) => {
      const input = params as StartInput;
      return programInstalledOn(
        executorOn(ctx.plan, findPlacement(ctx.plan, input.component, input.site)?.host),
        processSpecFor(ctx.plan, input).spec.command,
        ctx.signal,
      );
    },
  },
  {
    name: 'port free',
    kind: 'capacity',
    async run(params, ctx) {
      const input = params as StartInput;
      // a port on a host is that host's business: only ports here can be tried
      if (findPlacement(ctx.plan, input.component, input.site)?.host !== undefined) return undefined;
      const { spec, instances } = processSpecFor(ctx.plan, input);
      const wanted = Array.from(
        { length: instances },
        (_, i) => spec.ports?.[i] ?? (spec.port === undefined ? undefined : spec.port + i),
      );
      const ports = wanted.filter((port): port is number => port !== undefined);
      if (ports.length === 0) return undefined;
      const ours = new Set(
        supervisor(ctx)
          .status(spec.name)
          .filter((i) => i.state !== 'exited')
          .map((i) => i.port),
      );
      const taken: number[] = [];
      for (const port of ports) if (!ours.has(port) && !(await portFree(port))) taken.push(port);
      return taken.length === 0
        ? { ok: true, message: `port ${ports.join(', ')} free for ${spec.name}` }
        : {
            ok: false,
            message: `port ${taken.join(', ')} is already in use by another process: ${spec.name} could not listen`,
            observed: { taken },
          };
    },
  },
];

export const processProvider = {
  name: 'process',
  description: 'Local processes as the compute of a site: start, stop, kill, pause, resume and scale.',
  kinds: ['process'],
  drill: { starts: 'command' },
  actions: {
    start: defineAction({
      description: 'Start the component at the site and wait until every instance is ready.',
      params: StartParams,
      idempotent: true,
      undo: 'stop',
      evidence: ['pids', 'ports'],
      async run(params, ctx) {
        const { spec, instances } = processSpecFor(ctx.plan, params);
        const started = await processGroupsAt(ctx, params.component, params.site).start(spec, {
          instances,
          signal: ctx.signal,
        });
        ctx.evidence(
          'pids',
          started.map((i) => i.pid),
        );
        ctx.evidence(
          'ports',
          started.map((i) => i.port),
        );
        return {
          summary: `${spec.name}: ${started.length} instance${started.length === 1 ? '' : 's'} running`,
          output: describe(started),
        };
      },
    }),
    stop: defineAction({
      description: 'Stop every instance: SIGTERM to its process group, SIGKILL after the grace period.',
      params: StopParams,
      idempotent: true,
      undo: 'start',
      evidence: ['pids'],
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const result = await processGroupsAt(ctx, params.component, params.site).stop(
          name,
          params.grace === undefined ? {} : { graceMs: params.grace },
        );
        ctx.evidence('pids', result.pids);
        const forced = result.forced > 0 ? ` (${result.forced} needed SIGKILL)` : '';
        return {
          summary: `${name}: stopped ${result.pids.length} instance${result.pids.length === 1 ? '' : 's'}${forced}`,
          output: { ...result },
        };
      },
    }),
    kill: defineAction({
      description: 'SIGKILL every instance, as a lost site would; it is not restarted.',
      params: SignalParams,
      idempotent: true,
      evidence: ['pids'],
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const result = await processGroupsAt(ctx, params.component, params.site).kill(name);
        ctx.evidence('pids', result.pids);
        return {
          summary: `${name}: killed ${result.pids.length} instance${result.pids.length === 1 ? '' : 's'}`,
          output: { ...result },
        };
      },
    }),
    pause: defineAction({
      description: 'SIGSTOP every instance: the processes stay but stop answering.',
      params: SignalParams,
      idempotent: true,
      undo: 'resume',
      evidence: ['pids'],
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const instances = await processGroupsAt(ctx, params.component, params.site).pause(name);
        ctx.evidence(
          'pids',
          instances.map((i) => i.pid),
        );
        return {
          summary: `${name}: paused ${instances.length} instance${instances.length === 1 ? '' : 's'}`,
          output: describe(instances),
        };
      },
    }),
    resume: defineAction({
      description: 'SIGCONT every paused instance.',
      params: SignalParams,
      idempotent: true,
      undo: 'pause',
      evidence: ['pids'],
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const instances = await processGroupsAt(ctx, params.component, params.site).resume(name);
        ctx.evidence(
          'pids',
          instances.map((i) => i.pid),
        );
        return {
          summary: `${name}: resumed ${instances.length} instance${instances.length === 1 ? '' : 's'}`,
          output: describe(instances),
        };
      },
    }),
    scale: defineAction({
      description:
        'Start or stop instances until exactly N run; new ones must become ready. Starts the site from its placement when it was never started.',
      params: ScaleParams,
      idempotent: true,
      evidence: ['pids', 'ports'],
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const instances = await processGroupsAt(ctx, params.component, params.site).scale(
          name,
          params.instances,
          () => processSpecFor(ctx.plan, params).spec,
          { signal: ctx.signal },
        );
        ctx.evidence(
          'pids',
          instances.map((i) => i.pid),
        );
        ctx.evidence(
          'ports',
          instances.map((i) => i.port),
        );
        return {
          summary: `${name}: ${instances.length} instance${instances.length === 1 ? '' : 's'} running`,
          output: describe(instances),
        };
      },
    }),
  },
  checks: {
    running: defineCheck({
      description: 'At least N instances of the component run (alive and not paused) at the site.',
      params: RunningParams,
      async run(params, ctx) {
        const name = groupName(params.component, params.site);
        const instances = await processGroupsAt(ctx, params.component, params.site).status(name);
        const running = instances.filter((i) => i.state === 'running').length;
        const wanted = params.instances ?? 1;
        return {
          ok: running >= wanted,
          message: `${name}: ${running} of ${instances.length} instance${instances.length === 1 ? '' : 's'} running, ${wanted} wanted`,
          observed: describe(instances),
        };
      },
    }),
  },
  async readiness(component, ctx) {
    const facts: ReadinessFact[] = [];
    // a cold standby is expected to be down until failover starts it
    const standbyRuns = ['hot-standby', 'warm-standby', 'active-active'].includes(component.strategy);
    for (const placement of component.placement) {
      if (placement.command === undefined) continue;
      const instances = await processGroupsAt(ctx, component.id, placement.site).status(
        groupName(component.id, placement.site),
      );
      const running = instances.filter((i) => i.state === 'running').length;
      const expected = !placement.standby || standbyRuns;
      facts.push({
        component: component.id,
        site: placement.site,
        name: 'running',
        ok: !expected || running > 0,
        value: running,
        limit: expected ? '≥ 1' : 'any',
        message: expected
          ? `${running} instance${running === 1 ? '' : 's'} running${running === 0 ? '; start it with process.start' : ''}`
          : `${running} instance${running === 1 ? '' : 's'} running (a ${component.strategy} standby may be down)`,
      });
    }
    return facts;
  },
  preflight: { start: startPreflight },
} satisfies Provider;
