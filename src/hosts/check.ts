/**
 * `drctl hosts check`: every host the plan names, reached in parallel over SSH — reachable, logged in, its
 * key known — and what its steps need there: the tools they run (with versions) and the free disk under
 * the paths its placements use. Changes nothing on the hosts.
 *
 * The tools come from the plan's text, not from component kinds: every program of `KNOWN_TOOLS` named in a
 * step or a placement that runs on the host (by name, or by a full path, which is then checked as written),
 * and what the providers declare their actions need there (`Provider.hostNeeds`: restic where a
 * component's restic backups run, and the disk its repository lands on).
 */
import type { DrctlError } from '../errors.ts';
import { executorOn, HostError, planHosts, shellQuote } from '../exec/index.ts';
import type { Plan } from '../plan/model.ts';
import { findProvider, providers } from '../providers/index.ts';
import type { HostNeed } from '../providers/index.ts';

/** Programs drctl's actions and people's steps commonly run on hosts, and how each tells its version. */
const KNOWN_TOOLS: Record<string, string> = {
  pg_ctl: '--version',
  psql: '--version',
  pg_basebackup: '--version',
  pg_rewind: '--version',
  pg_dump: '--version',
  postgres: '--version',
  restic: 'version',
  pgbackrest: 'version',
  systemctl: '--version',
  sqlite3: '--version',
  node: '--version',
  tar: '--version',
  rsync: '--version',
};

export interface ToolStatus {
  name: string;
  /** Where it was found on the host. */
  path: string | undefined;
  /** The first line of its version output. */
  version: string | undefined;
  present: boolean;
}

export interface DiskStatus {
  path: string;
  /** The directory df answered for: the path, or its nearest existing parent. */
  checked: string;
  freeBytes: number;
}

export interface HostStatus {
  host: string;
  site: string;
  address: string;
  reachable: boolean;
  authenticated: boolean;
  hostKeyKnown: boolean;
  ok: boolean;
  error: { code: string; message: string } | undefined;
  tools: ToolStatus[];
  disk: DiskStatus[];
  durationMs: number;
}

export interface HostsReport {
  ok: boolean;
  hosts: HostStatus[];
}

/** What the plan runs on a host: the text of its steps' parameters and its placements. */
function textOn(plan: Plan, host: string): { text: string; paths: string[] } {
  const parts: unknown[] = [];
  const paths = new Set<string>();
  for (const workload of plan.workloads) {
    for (const component of workload.components)
      for (const placement of component.placement)
        if (placement.fields['host'] === host) {
          parts.push(placement.fields);
          for (const value of Object.values(placement.fields))
            if (typeof value === 'string' && value.startsWith('/') && !/\s/.test(value)) paths.add(value);
        }
    for (const runbook of workload.runbooks)
      for (const step of runbook.steps)
        for (const params of [step.with, step.undo?.with, ...step.validate.map((c) => c.with)])
          if (params?.['host'] === host) parts.push(params);
  }
  return { text: JSON.stringify(parts), paths: [...paths] };
}

/** What the providers say their actions need on this host: for the components placed there, and for steps naming it. */
function neededOn(plan: Plan, host: string): { tools: string[]; paths: string[] } {
  const tools = new Set<string>();
  const paths = new Set<string>();
  const components = plan.workloads.flatMap((workload) => workload.components);
  const add = (needs: readonly HostNeed[], onlyTools: boolean): void => {
    for (const need of needs) {
      for (const tool of need.tools) tools.add(tool);
      if (!onlyTools) for (const path of need.paths) paths.add(path);
    }
  };
  for (const component of components)
    for (const provider of providers)
      add(
        (provider.hostNeeds?.(component, plan) ?? []).filter((need) => need.host === host),
        false,
      );
  // a step naming the host runs its action there, wherever the component's placements are
  for (const step of plan.workloads.flatMap((workload) => workload.runbooks.flatMap((r) => r.steps))) {
    const component = components.find((c) => c.id === step.with['component']);
    if (step.with['host'] !== host || component === undefined) continue;
    add(findProvider(step.action?.split('.')[0] ?? '')?.hostNeeds?.(component, plan) ?? [], true);
  }
  return { tools: [...tools], paths: [...paths] };
}

/** The tools named in `text`: by bare name, or as the full path written there. */
export function toolsNamed(text: string): string[] {
  const found = new Set<string>();
  const names = Object.keys(KNOWN_TOOLS).join('|');
  for (const match of text.matchAll(new RegExp(`(?<![\\w.-])((?:/[\\w.+-]+)*/)?(${names})(?![\\w.-])`, 'g')))
    found.add(`${match[1] ?? ''}${match[2]}`);
  return [...found].sort();
}

function probeScript(tools: readonly string[], paths: readonly string[]): string {
  const lines = ['export LC_ALL=C'];
  for (const tool of tools) {
    const flag = KNOWN_TOOLS[tool.split('/').at(-1) ?? tool] ?? '--version';
    lines.push(
      `p=$(command -v ${shellQuote(tool)} 2>/dev/null); if [ -n "$p" ]; then v=$("$p" ${flag} 2>&1 | head -1); printf 'tool\\t%s\\t%s\\t%s\\n' ${shellQuote(tool)} "$p" "$v"; else printf 'tool\\t%s\\t\\t\\n' ${shellQuote(tool)}; fi`,
    );
  }
  for (const path of paths)
    lines.push(
      `d=${shellQuote(path)}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; printf 'disk\\t%s\\t%s\\t%s\\n' ${shellQuote(path)} "$d" "$(df -Pk "$d" | tail -1 | awk '{print $4}')"`,
    );
  return lines.join('\n');
}

async function checkHost(plan: Plan, host: ReturnType<typeof planHosts>[number]): Promise<HostStatus> {
  const started = performance.now();
  const { text, paths: placed } = textOn(plan, host.id);
  const needed = neededOn(plan, host.id);
  const tools = [...new Set([...toolsNamed(text), ...needed.tools])].sort();
  const paths = [...new Set([...placed, ...needed.paths])];
  const status: HostStatus = {
    host: host.id,
    site: host.site,
    address: host.address,
    reachable: false,
    authenticated: false,
    hostKeyKnown: false,
    ok: false,
    error: undefined,
    tools: [],
    disk: [],
    durationMs: 0,
  };
  try {
    const executor = executorOn(plan, host.id);
    await executor.connect();
    status.reachable = status.authenticated = status.hostKeyKnown = true;
    const result = await executor.run(probeScript(tools, paths.length > 0 ? paths : ['.']));
    for (const line of result.stdout.split('\n')) {
      const [kind, a = '', b = '', c = ''] = line.split('\t');
      if (kind === 'tool')
        status.tools.push({
          name: a,
          path: b || undefined,
          version: c.trim() || undefined,
          present: b !== '',
        });
      else if (kind === 'disk') status.disk.push({ path: a, checked: b, freeBytes: Number(c) * 1024 });
    }
  } catch (error) {
    const code = (error as DrctlError).code ?? 'DRCTL_HOST_SSH';
    status.error = { code, message: (error as Error).message };
    if (error instanceof HostError) {
      status.reachable = code !== 'DRCTL_HOST_UNREACHABLE';
      status.hostKeyKnown = status.reachable && !code.startsWith('DRCTL_HOST_KEY_');
    }
  }
  status.ok = status.error === undefined && status.tools.every((t) => t.present);
  status.durationMs = performance.now() - started;
  return status;
}

/** Check every host of the plan at once. */
export async function checkHosts(plan: Plan): Promise<HostsReport> {
  const hosts = await Promise.all(planHosts(plan).map((host) => checkHost(plan, host)));
  return { ok: hosts.every((h) => h.ok), hosts };
}
