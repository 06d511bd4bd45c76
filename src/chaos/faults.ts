/**
 * The faults a TCP fault proxy can apply, as data: validated with zod, and compiled into per-direction
 * rules the proxy reads on every chunk. `up` is client → target, `down` is target → client.
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import type { Fault as PlanFault } from '../plan/model.ts';

export const DIRECTIONS = ['up', 'down', 'both'] as const;
export type Direction = (typeof DIRECTIONS)[number];

const direction = z.enum(DIRECTIONS).optional().describe('@default both');

export const ProxyFaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('latency'),
    /** Added to every chunk in each faulted direction: `both` adds it twice to a round trip. */
    latencyMs: z.number().min(0),
    /** Each chunk's delay varies uniformly by ± this much (order is kept). @default 0 */
    jitterMs: z.number().min(0).optional(),
    direction,
  }),
  /** Data stops flowing (held, as TCP retransmits into a dead network); new connections are accepted and left silent. */
  z.strictObject({ kind: z.literal('blackhole'), direction }),
  /** Every open connection is reset (RST) and new ones are reset as soon as they are accepted. */
  z.strictObject({ kind: z.literal('reset') }),
  z.strictObject({ kind: z.literal('bandwidth'), bytesPerSecond: z.number().positive(), direction }),
]);

export type ProxyFault = z.input<typeof ProxyFaultSchema>;

export interface DirectionRules {
  latencyMs: number;
  jitterMs: number;
  blackhole: boolean;
  bytesPerSecond: number | undefined;
}

export interface ProxyRules {
  up: DirectionRules;
  down: DirectionRules;
  reset: boolean;
}

export function noRules(): ProxyRules {
  const none = (): DirectionRules => ({
    latencyMs: 0,
    jitterMs: 0,
    blackhole: false,
    bytesPerSecond: undefined,
  });
  return { up: none(), down: none(), reset: false };
}

/** Validate faults and fold them into rules: latencies add up, the narrowest bandwidth wins. */
export function compileFaults(faults: readonly unknown[]): { faults: ProxyFault[]; rules: ProxyRules } {
  const parsed: ProxyFault[] = faults.map((fault, index) => {
    const result = ProxyFaultSchema.safeParse(fault);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw new UsageError(
      'DRCTL_CHAOS_FAULT_INVALID',
      `fault ${index + 1} is invalid${issue && issue.path.length ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'unknown problem'}`,
      {
        hint: 'a fault is {kind: latency, latencyMs}, {kind: blackhole}, {kind: reset} or {kind: bandwidth, bytesPerSecond}; see docs/chaos.md',
      },
    );
  });
  const rules = noRules();
  for (const fault of parsed) {
    if (fault.kind === 'reset') {
      rules.reset = true;
      continue;
    }
    const targets =
      fault.direction === 'up'
        ? [rules.up]
        : fault.direction === 'down'
          ? [rules.down]
          : [rules.up, rules.down];
    for (const target of targets) {
      if (fault.kind === 'latency') {
        target.latencyMs += fault.latencyMs;
        target.jitterMs += fault.jitterMs ?? 0;
      } else if (fault.kind === 'blackhole') {
        target.blackhole = true;
      } else {
        target.bytesPerSecond = Math.min(target.bytesPerSecond ?? Infinity, fault.bytesPerSecond);
      }
    }
  }
  return { faults: parsed, rules };
}

const BANDWIDTH = /^(\d+(?:\.\d+)?)\s*(bps|kbps|mbps|gbps|B\/s|KB\/s|MB\/s)$/i;
const BYTES_PER_UNIT: Record<string, number> = {
  bps: 1 / 8,
  kbps: 1000 / 8,
  mbps: 1e6 / 8,
  gbps: 1e9 / 8,
  'b/s': 1,
  'kb/s': 1024,
  'mb/s': 1024 * 1024,
};

/** Bytes per second for a bandwidth as plans write it: `64kbps`, `10mbps` (bits), `512KB/s` (bytes). */
export function parseBandwidth(text: string): number | undefined {
  const match = BANDWIDTH.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2] as string;
  // kbps and KB/s differ only in case: bits are lower-case "bps", bytes have a "/s".
  const factor = BYTES_PER_UNIT[unit.includes('/') ? unit.toLowerCase() : unit.toLowerCase()];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

/** The proxy faults for a plan fault of kind latency, blackhole, reset or bandwidth; other kinds are not network faults. */
export function proxyFaultFromPlan(fault: PlanFault): ProxyFault | undefined {
  const dir = fault.direction;
  switch (fault.kind) {
    case 'latency':
      return {
        kind: 'latency',
        latencyMs: fault.latencyMs ?? 0,
        jitterMs: fault.jitterMs ?? 0,
        direction: dir,
      };
    case 'blackhole':
      return { kind: 'blackhole', direction: dir };
    case 'reset':
      return { kind: 'reset' };
    case 'bandwidth': {
      const bytesPerSecond = fault.bandwidth === undefined ? undefined : parseBandwidth(fault.bandwidth);
      if (bytesPerSecond === undefined) {
        throw new UsageError(
          'DRCTL_CHAOS_FAULT_INVALID',
          `bandwidth fault on ${fault.component}@${fault.site} has no valid bandwidth ("${fault.bandwidth ?? ''}")`,
          {
            hint: 'write it like 64kbps, 10mbps or 512KB/s',
            location: fault.at,
          },
        );
      }
      return { kind: 'bandwidth', bytesPerSecond, direction: dir };
    }
    default:
      return undefined;
  }
}
