/**
 * `validate` checks and wait conditions. A check's result is evidence: what was observed, whether it
 * passed, how long it took. `run:` goes to the shell provider's `run` check, `sql:` to the `query` of the
 * provider serving the component's kind, `check:` to the named provider check; `http:` is a plain fetch.
 */
import { DrctlError } from '../errors.ts';
import { callName } from '../plan/calls.ts';
import { findComponent } from '../plan/lookup.ts';
import type { Check, HttpCheck, Plan, ProviderCall } from '../plan/model.ts';
import type { ActionContext, CheckResult, Provider } from '../providers/provider.ts';

export interface CheckOutcome extends CheckResult {
  name: string;
  durationMs: number;
}

export interface CheckEnvironment {
  providers: readonly Provider[];
  plan: Plan;
  ctx: ActionContext;
}

export function checkLabel(check: Check): string {
  if (check.name) return check.name;
  if (check.run !== undefined) return `run: ${check.run}`;
  if (check.http !== undefined) return `http: ${check.http.url}`;
  if (check.sql !== undefined) return `sql: ${check.sql}`;
  return `check: ${check.check ?? '?'}`;
}

export async function runCheck(check: Check, env: CheckEnvironment): Promise<CheckOutcome> {
  const started = performance.now();
  const signal = AbortSignal.any([env.ctx.signal, AbortSignal.timeout(check.timeoutMs)]);
  const ctx: ActionContext = { ...env.ctx, signal };
  let result: CheckResult;
  try {
    result = await dispatch(check, env, ctx);
  } catch (error) {
    if (env.ctx.signal.aborted) throw error;
    const timedOut = signal.aborted;
    result = {
      ok: false,
      message: timedOut
        ? `did not answer within ${check.timeoutMs}ms`
        : error instanceof Error
          ? error.message
          : String(error),
    };
  }
  return { ...result, name: checkLabel(check), durationMs: Math.round(performance.now() - started) };
}

async function dispatch(check: Check, env: CheckEnvironment, ctx: ActionContext): Promise<CheckResult> {
  if (check.http !== undefined) return httpCheck(check.http, ctx.signal);
  if (check.sql !== undefined) return sqlCheck(check, check.sql, env, ctx);
  // `run:` and `check:`, compiled into one provider call
  if (check.call !== undefined) return providerCheck(env.providers, check.call, ctx);
  throw new DrctlError('DRCTL_CHECK_EMPTY', 'the check has none of run, http, sql or check');
}

async function providerCheck(
  providers: readonly Provider[],
  call: ProviderCall,
  ctx: ActionContext,
): Promise<CheckResult> {
  const provider = providers.find((candidate) => candidate.name === call.provider);
  const definition = provider?.checks[call.name];
  if (definition === undefined) {
    throw new DrctlError('DRCTL_CHECK_UNKNOWN', `no provider check ${callName(call)} is registered`, {
      hint: 'check the provider name and check name in the plan',
    });
  }
  const parsed = definition.params.safeParse(call.params);
  if (!parsed.success) {
    throw new DrctlError(
      'DRCTL_CHECK_PARAMS',
      `bad parameters for ${callName(call)}: ${parsed.error.message}`,
    );
  }
  return definition.run(parsed.data, ctx);
}

function truthy(cell: unknown): boolean {
  return cell === true || cell === 1 || cell === 1n || cell === 't' || cell === 'true' || cell === '1';
}

async function sqlCheck(
  check: Check,
  sql: string,
  env: CheckEnvironment,
  ctx: ActionContext,
): Promise<CheckResult> {
  const component = check.component === undefined ? undefined : findComponent(env.plan, check.component);
  if (component === undefined) {
    throw new DrctlError('DRCTL_CHECK_SQL_COMPONENT', `the sql check "${sql}" names no known component`, {
      hint: 'add component: <id> to the check',
    });
  }
  const provider = env.providers.find(
    (candidate) => candidate.kinds.includes(component.kind) && candidate.query,
  );
  if (provider?.query === undefined) {
    throw new DrctlError(
      'DRCTL_CHECK_SQL_PROVIDER',
      `no provider can query component ${component.id} of kind ${component.kind}`,
    );
  }
  const site =
    check.site ??
    component.placement.find((placement) => placement.standby)?.site ??
    component.placement[0]?.site ??
    '';
  const rows = await provider.query(component, site, sql, ctx);
  const first = rows[0]?.[0];
  const ok =
    check.expect === undefined
      ? truthy(first)
      : JSON.stringify(first) === JSON.stringify(check.expect) || String(first) === String(check.expect);
  return {
    ok,
    message: `${component.id}@${site} returned ${JSON.stringify(first) ?? 'no rows'}`,
    observed: rows.slice(0, 10),
  };
}

function dotted(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

async function httpCheck(http: HttpCheck, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const response = await fetch(http.url, { method: http.method, signal });
  const body = await response.text();
  const latencyMs = Math.round(performance.now() - started);
  const problems: string[] = [];
  if (response.status !== http.status) problems.push(`status ${response.status}, expected ${http.status}`);
  if (http.bodyContains !== undefined && !body.includes(http.bodyContains))
    problems.push(`body lacks "${http.bodyContains}"`);
  if (http.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      problems.push('body is not JSON');
    }
    for (const [path, expected] of Object.entries(http.json)) {
      const actual = dotted(parsed, path);
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        problems.push(`${path} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
    }
  }
  if (http.latencyMs !== undefined && latencyMs > http.latencyMs)
    problems.push(`took ${latencyMs}ms, budget ${http.latencyMs}ms`);
  return {
    ok: problems.length === 0,
    message:
      problems.length === 0
        ? `${http.method} ${http.url} → ${response.status} in ${latencyMs}ms`
        : problems.join('; '),
    observed: { status: response.status, latencyMs, excerpt: body.slice(0, 500) },
  };
}
