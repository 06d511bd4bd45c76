/**
 * `drctl router [PLAN] --component ID | --endpoint site=url ...`: run the traffic router in the foreground
 * until SIGINT/SIGTERM, printing where it listens and every health and routing event.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseDuration } from '../../plan/duration.ts';
import type { Component, Placement, Plan } from '../../plan/index.ts';
import { ROUTING_MODES } from '../../router/modes.ts';
import type {
  TrafficRouter,
  EndpointOptions,
  ProbeOptions,
  RouterEvent,
  RouterOptions,
  RoutingMode,
} from '../../router/index.ts';
import type { CommandContext, RegisterCommand } from '../context.ts';

interface RouterFlags {
  component?: string;
  endpoint?: string[];
  mode?: string;
  listen?: string;
  adminListen?: string;
  adminToken?: string;
  active?: string;
  probePath?: string;
  probeInterval?: string;
  probeTimeout?: string;
  probeFailures?: string;
  probeSuccesses?: string;
  json?: boolean;
}

const SITE_ROLE_RANK: Record<string, number> = { primary: 0, secondary: 1, backup: 2 };

export const registerRouter: RegisterCommand = (program: Command, context: CommandContext) => {
  program
    .command('router')
    .description('run the traffic router: a health-probing front door on 127.0.0.1 with an admin API')
    .argument('[plan]', "plan file; with --component, the endpoints are that component's placements")
    .option('--component <id>', 'component whose placements (url per site) are the endpoints')
    .option('--endpoint <spec...>', 'an endpoint: site=url[,priority=N][,weight=N] (repeat for each site)')
    .option('--mode <mode>', `routing mode: ${ROUTING_MODES.join(', ')}`, 'priority')
    .option('--listen <address>', 'front door: port or 127.0.0.1:port (0: a free port)', '0')
    .option('--admin-listen <address>', 'admin API: port or 127.0.0.1:port (0: a free port)', '0')
    .option(
      '--admin-token <token>',
      'bearer token for switch and drain (default: DRCTL_ROUTER_TOKEN, else generated and printed)',
    )
    .option('--active <site>', 'in manual mode, the site traffic goes to at start')
    .option(
      '--probe-path <path>',
      'health path probed on each endpoint (default /health, or the path of the component probe url)',
    )
    .option('--probe-interval <duration>', 'time between probes (default 1s)')
    .option('--probe-timeout <duration>', 'probe timeout (default 500ms)')
    .option('--probe-failures <n>', 'consecutive failures to mark an endpoint down (default 3)')
    .option('--probe-successes <n>', 'consecutive successes to mark it up again (default 2)')
    .option('--json', 'print the start and every event as one JSON object per line')
    .action(async (file: string | undefined, flags: RouterFlags) => {
      const options = await routerOptionsFrom(file, flags);
      const [{ default: pino }, { TrafficRouter }] = await Promise.all([
        import('pino'),
        import('../../router/index.ts'),
      ]);
      const log = pino({ level: context.debug ? 'debug' : 'silent' }, pino.destination(2));
      const router = await TrafficRouter.create(options, { log });
      const generatedToken = options.adminToken === undefined;
      const stopListening = router.onEvent((event) => printEvent(context, event, flags.json === true));
      printStart(context, router, generatedToken, flags.json === true);

      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      stopListening();
      await router.close();
      if (!flags.json) context.out.write('router stopped\n');
    });
};

/** Router options from the flags, or from a plan component's placements overridden by the flags. */
export async function routerOptionsFrom(
  file: string | undefined,
  flags: RouterFlags,
): Promise<RouterOptions> {
  const mode = flags.mode ?? 'priority';
  if (!(ROUTING_MODES as readonly string[]).includes(mode)) {
    throw new UsageError('DRCTL_ROUTER_OPTIONS_INVALID', `--mode ${mode} is not a routing mode`, {
      hint: `use one of: ${ROUTING_MODES.join(', ')}`,
    });
  }
  let endpoints: EndpointOptions[];
  let planProbe: ProbeOptions = {};
  if (flags.endpoint && flags.endpoint.length > 0) {
    if (file !== undefined || flags.component !== undefined) {
      throw new UsageError(
        'DRCTL_ROUTER_OPTIONS_INVALID',
        'give either --endpoint flags or a plan with --component, not both',
        {
          hint: 'drctl router --endpoint east=http://127.0.0.1:8081 --endpoint west=http://127.0.0.1:8082, or drctl router plan.yaml --component api',
        },
      );
    }
    endpoints = flags.endpoint.map(parseEndpoint);
  } else if (file !== undefined && flags.component !== undefined) {
    const { loadPlan } = await import('../../plan/index.ts');
    const plan = await loadPlan(file);
    ({ endpoints, probe: planProbe } = endpointsFromPlan(plan, flags.component));
  } else {
    throw new UsageError(
      'DRCTL_ROUTER_NO_ENDPOINTS',
      'the router needs endpoints: --endpoint site=url (one per site), or a plan and --component',
      {
        hint: 'drctl router --endpoint east=http://127.0.0.1:8081 --endpoint west=http://127.0.0.1:8082',
      },
    );
  }
  const listen = parseAddress(flags.listen ?? '0', '--listen');
  const admin = parseAddress(flags.adminListen ?? '0', '--admin-listen');
  const probe: ProbeOptions = { ...planProbe };
  if (flags.probePath !== undefined) probe.path = flags.probePath;
  if (flags.probeInterval !== undefined)
    probe.intervalMs = durationFlag(flags.probeInterval, '--probe-interval');
  if (flags.probeTimeout !== undefined) probe.timeoutMs = durationFlag(flags.probeTimeout, '--probe-timeout');
  if (flags.probeFailures !== undefined) probe.failures = countFlag(flags.probeFailures, '--probe-failures');
  if (flags.probeSuccesses !== undefined)
    probe.successes = countFlag(flags.probeSuccesses, '--probe-successes');
  const token = flags.adminToken ?? process.env.DRCTL_ROUTER_TOKEN;
  return {
    endpoints,
    mode: mode as RoutingMode,
    host: listen.host,
    port: listen.port,
    adminPort: admin.port,
    probe,
    ...(token === undefined ? {} : { adminToken: token }),
    ...(flags.active === undefined ? {} : { active: flags.active }),
  };
}

function parseEndpoint(spec: string): EndpointOptions {
  const [first, ...rest] = spec.split(',');
  const match = /^([^=]+)=(.+)$/.exec(first ?? '');
  if (!match) {
    throw new UsageError(
      'DRCTL_ROUTER_ENDPOINT_INVALID',
      `--endpoint ${spec} is not site=url[,priority=N][,weight=N]`,
      {
        hint: 'e.g. --endpoint east=http://127.0.0.1:8081,priority=1',
      },
    );
  }
  const endpoint: EndpointOptions = { site: match[1] as string, url: match[2] as string };
  for (const part of rest) {
    const [key, value] = part.split('=');
    const number = Number(value);
    if ((key === 'priority' || key === 'weight') && Number.isInteger(number) && number > 0)
      endpoint[key] = number;
    else {
      throw new UsageError(
        'DRCTL_ROUTER_ENDPOINT_INVALID',
        `--endpoint ${spec}: "${part}" is not priority=N or weight=N`,
        {
          hint: 'priority and weight are whole numbers from 1',
        },
      );
    }
  }
  return endpoint;
}

/** A component's placements as endpoints: primary sites first, standby placements after. */
export function endpointsFromPlan(
  plan: Plan,
  componentId: string,
): { endpoints: EndpointOptions[]; probe: ProbeOptions } {
  const component: Component | undefined = plan.workloads
    .flatMap((w) => w.components)
    .find((c) => c.id === componentId);
  if (!component) {
    throw new UsageError('DRCTL_ROUTER_COMPONENT_NOT_FOUND', `the plan has no component ${componentId}`, {
      hint: `use one of: ${plan.workloads.flatMap((w) => w.components.map((c) => c.id)).join(', ')}`,
    });
  }
  const withUrl = component.placement
    .map((placement) => ({ ...placement, url: httpUrlOf(placement) }))
    .filter((placement) => placement.url !== undefined);
  if (withUrl.length === 0) {
    throw new UsageError(
      'DRCTL_ROUTER_COMPONENT_INVALID',
      `component ${componentId} has no placement with an http url or a port to route to`,
      {
        hint: 'give each site of the component a placement with url: http://127.0.0.1:PORT (or port: PORT)',
        location: component.at,
      },
    );
  }
  const roleOf = (site: string): number =>
    SITE_ROLE_RANK[plan.sites.find((s) => s.id === site)?.role ?? 'backup'] ?? 2;
  const ordered = withUrl
    .map((placement, index) => ({ placement, index }))
    .sort(
      (a, b) =>
        Number(a.placement.standby) - Number(b.placement.standby) ||
        roleOf(a.placement.site) - roleOf(b.placement.site) ||
        a.index - b.index,
    );
  const endpoints = ordered.map(({ placement }, rank) => ({
    site: placement.site,
    url: placement.url as string,
    priority: rank + 1,
  }));
  const probe: ProbeOptions = {};
  if (component.probe) {
    if (component.probe.url !== undefined) probe.path = new URL(component.probe.url).pathname;
    probe.intervalMs = component.probe.intervalMs;
    probe.timeoutMs = component.probe.timeoutMs;
    probe.failures = component.probe.failures;
    probe.successes = component.probe.successes;
    probe.expectStatus = component.probe.expectStatus;
  }
  return { endpoints, probe };
}

/** Where a placement answers HTTP: its `url` when it is http(s), else `port:` on 127.0.0.1 (process placements). */
function httpUrlOf(placement: Placement): string | undefined {
  if (placement.url !== undefined && /^https?:\/\//.test(placement.url)) return placement.url;
  const port = placement.fields.port;
  if (typeof port === 'number' && Number.isInteger(port) && port > 0) return `http://127.0.0.1:${port}`;
  return undefined;
}

function parseAddress(text: string, flag: string): { host: string; port: number } {
  const match = /^(?:(.+):)?(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new UsageError('DRCTL_ROUTER_OPTIONS_INVALID', `${flag} ${text} is not a port or host:port`, {
      hint: `e.g. ${flag} 8080 or ${flag} 127.0.0.1:8080`,
    });
  }
  return { host: match[1] ?? '127.0.0.1', port };
}

function durationFlag(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new UsageError('DRCTL_ROUTER_OPTIONS_INVALID', `${flag} ${text} is not a duration`, {
      hint: 'write it like 500ms, 1s or 2s',
    });
  return ms;
}

function countFlag(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError('DRCTL_ROUTER_OPTIONS_INVALID', `${flag} ${text} is not a whole number from 1`);
  return n;
}

function printStart(
  context: CommandContext,
  router: TrafficRouter,
  generatedToken: boolean,
  json: boolean,
): void {
  const status = router.status();
  if (json) {
    context.out.write(
      `${JSON.stringify({ type: 'started', url: router.url, adminUrl: router.adminUrl, ...(generatedToken ? { adminToken: router.adminToken } : {}), status })}\n`,
    );
    return;
  }
  context.out.write(`router on ${router.url} (${status.mode} mode)\n`);
  context.out.write(
    `admin API on ${router.adminUrl}${generatedToken ? ` (token ${router.adminToken})` : ''}\n`,
  );
  for (const endpoint of status.endpoints) {
    context.out.write(
      `  ${endpoint.site.padEnd(10)} ${endpoint.url.padEnd(28)} priority ${endpoint.priority} weight ${endpoint.weight}  ${endpoint.state}${endpoint.serving ? ', serving' : ''}\n`,
    );
  }
}

function printEvent(context: CommandContext, event: RouterEvent, json: boolean): void {
  if (json) {
    context.out.write(`${JSON.stringify(event)}\n`);
    return;
  }
  const time = new Date(event.at).toISOString();
  switch (event.type) {
    case 'active-changed':
      context.out.write(
        `${time} serving ${event.serving.join(', ') || 'nothing'} (was ${event.previous.join(', ') || 'nothing'}; ${event.cause})\n`,
      );
      break;
    case 'endpoint-up':
    case 'endpoint-suspect':
    case 'endpoint-down':
    case 'endpoint-suppressed':
      context.out.write(`${time} ${event.site} ${event.type.slice('endpoint-'.length)}: ${event.reason}\n`);
      break;
    case 'endpoint-drained':
    case 'endpoint-undrained':
      context.out.write(`${time} ${event.site} ${event.type.slice('endpoint-'.length)}\n`);
      break;
    case 'override-set':
    case 'override-cleared':
      context.out.write(
        `${time} ${event.type === 'override-set' ? `switched to ${event.site}` : 'override cleared'}\n`,
      );
      break;
  }
}
