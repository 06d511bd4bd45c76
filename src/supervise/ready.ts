/** One readiness probe of an instance, here or on a host: the same check whatever runs it. */
import { probeHttp, probeTcp } from '../probe/index.ts';
import { template } from './spec.ts';
import type { ReadyProbe } from './spec.ts';

const READY_STATUSES = Array.from({ length: 200 }, (_, i) => 200 + i);

/** Probes once (at most a second, or what is left); any 2xx answer or an accepted connection is ready. */
export async function probeReady(
  ready: ReadyProbe,
  vars: Record<string, string>,
  remainingMs: number,
): Promise<{ ok: boolean; message: string }> {
  const timeoutMs = Math.min(1_000, Math.max(remainingMs, 1));
  return 'url' in ready
    ? probeHttp({ url: template(ready.url, vars), status: READY_STATUSES, timeoutMs })
    : probeTcp(template(ready.tcp, vars), { timeoutMs });
}
