/**
 * A component's placement at a site as a `ProcessSpec`: what the process provider starts and what a
 * drill starts for a site, built in one place so both run the same thing.
 */
import path from 'node:path';
import { DrctlError } from '../errors.ts';
import { parseDuration } from '../plan/duration.ts';
import { findPlacement } from '../plan/lookup.ts';
import type { Plan } from '../plan/model.ts';
import { RESTART_POLICIES, groupName } from './spec.ts';
import type { ProcessSpec, ReadyProbe, RestartPolicy } from './spec.ts';

/** What a step's `with:` may say over the placement (durations already in milliseconds). */
export interface SpecOverrides {
  component: string;
  site: string;
  command?: string | undefined;
  env?: Record<string, string | number | boolean> | undefined;
  /** Relative to the plan here; as written on a host (relative to the login directory there). */
  cwd?: string | undefined;
  port?: number | undefined;
  ports?: number[] | undefined;
  instances?: number | undefined;
  /** An http(s) URL or host:port. */
  ready?: string | undefined;
  ready_timeout?: number | undefined;
  restart?: RestartPolicy | undefined;
  grace?: number | undefined;
}

/** Builds the supervisor's spec for a component at a site: placement fields, then `with:` overrides. */
export function processSpecFor(plan: Plan, params: SpecOverrides): { spec: ProcessSpec; instances: number } {
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
  const restart = params.restart ?? RESTART_POLICIES.find((p) => p === fields.restart);
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
    ...(restart === undefined ? {} : { restart }),
    ...(grace === undefined ? {} : { graceMs: grace }),
  };
  return { spec, instances: params.instances ?? numberField(fields.instances) ?? 1 };
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

/** A placement's duration field as written (`5s`) or in milliseconds. */
function durationField(value: unknown): number | undefined {
  if (typeof value === 'number') return value >= 0 ? value : undefined;
  return typeof value === 'string' ? parseDuration(value) : undefined;
}
