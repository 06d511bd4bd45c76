import http from 'node:http';
import type { ProbeConfig } from './options.ts';

export interface ProbeResult {
  ok: boolean;
  /** Epoch ms when the probe finished. */
  at: number;
  ms: number;
  status: number | undefined;
  error: string | undefined;
}

/**
 * One HTTP GET against an endpoint's health URL. Each probe opens a new connection (no agent) so it tests
 * what a new client would meet: a killed process refuses, a paused one never answers and times out.
 */
export function probeOnce(config: ProbeConfig): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, status: number | undefined, error: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, at: Date.now(), ms: performance.now() - started, status, error });
    };
    const request = http.get(
      config.url,
      { agent: false, headers: { 'user-agent': 'drctl-router-probe' } },
      (response) => {
        const status = response.statusCode ?? 0;
        const ok =
          config.expectStatus === undefined ? status >= 200 && status < 300 : status === config.expectStatus;
        response.resume();
        response.on('end', () => finish(ok, status, ok ? undefined : `status ${status}`));
        response.on('error', (error) => finish(false, status, error.message));
      },
    );
    const timer = setTimeout(() => {
      finish(false, undefined, `no answer within ${config.timeoutMs} ms`);
      request.destroy();
    }, config.timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) =>
      finish(false, undefined, error.code ?? error.message),
    );
  });
}
