/**
 * The process provider: a site's compute as supervised processes, on this machine or on the site's
 * hosts, so cold, warm and hot standby are real. Its actions name a component and a site; the placement gives the command
 * and its `env`, `cwd`, `port`/`ports`, `ready`, `instances`, `restart` and `grace` fields, and the
 * step's `with:` may override any of them. The supervisor (src/supervise/) does the work, here or on the
 * placement's host; this file declares the actions and their parameters.
 */
import { z } from 'zod';
import { findPlacement } from '../../plan/lookup.ts';
import { DurationParam } from '../params.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, PreflightCheck, Provider, ReadinessFact } from '../provider.ts';
import { portFree, programInstalledOn } from '../../system/probes.ts';
import { executorOn } from '../../exec/index.ts';
import {
  RESTART_POLICIES,
  groupName,
  processGroupsOn,
  processSpecFor,
  supervisorFor,
} from '../../supervise/index.ts';
import type { InstanceStatus, ProcessGroups } from '../../supervise/index.ts';

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

/** Where the component's processes at the site run: the placement's host, or this machine. */
function processGroupsAt(ctx: ActionContext, component: string, site: string): ProcessGroups {
  const host = findPlacement(ctx.plan, component, site)?.host;
  return processGroupsOn(executorOn(ctx.plan, host), ctx.stateDir, ctx.log);
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
