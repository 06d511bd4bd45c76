/**
 * The http provider: probes (`http.probe`: status, body text, JSON fields, latency budget) and requests
 * as steps (`http.request`: method, headers, body, expected status). Both keep the status, the latency
 * and a size-capped excerpt of the body as evidence. Built on Node's fetch with AbortSignal timeouts.
 */
import { z } from 'zod';
import { DrctlError, StepFailure } from '../../errors.ts';
import { MissingVariable, expandVariables } from '../../plan/secrets.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, Provider } from '../provider.ts';
import { tcpConnect } from '../../system/probes.ts';
import { probeHttp } from '../../probe/index.ts';
import type { HttpProbeResult } from '../../probe/index.ts';
import { DurationParam } from '../params.ts';

const HTTP_EVIDENCE = ['status', 'latency_ms', 'body'] as const;
const ANY_2XX = Array.from({ length: 100 }, (_, i) => 200 + i);
/** Preflight asks whether something answers at all, not whether the answer is the one a step expects. */
const ANY_STATUS = Array.from({ length: 500 }, (_, i) => 100 + i);

const Status = z.union([
  z.number().int().min(100).max(599),
  z.array(z.number().int().min(100).max(599)).min(1),
]);
const Headers = z.record(z.string(), z.string());

const ProbeParams = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).describe('URL to request.'),
  method: z.string().optional().describe('@default GET'),
  headers: Headers.optional(),
  status: Status.optional().describe('Expected status, or a list of them. @default 200'),
  body_contains: z.string().optional().describe('Text the body must contain.'),
  json: z.record(z.string(), z.unknown()).optional().describe('Dotted JSON path → expected value.'),
  latency: DurationParam.optional().describe('Latency budget; slower answers fail the probe.'),
  timeout: DurationParam.optional().describe('@default 5s'),
});

const RequestParams = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).describe('URL to request.'),
  method: z.string().optional().describe('@default GET'),
  headers: Headers.optional(),
  body: z
    .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
    .optional()
    .describe('A string, or an object sent as JSON.'),
  status: Status.optional().describe('Expected status, or a list of them. @default any 2xx'),
  timeout: DurationParam.optional().describe('@default 30s'),
});

/**
 * The headers with every `${NAME}` taken from drctl's environment (`Bearer ${ROUTER_TOKEN}`), so a token
 * stays out of the plan; the plan's redaction hides the value in everything the run writes.
 */
function expandedHeaders(headers: Record<string, string> | undefined): { headers?: Record<string, string> } {
  if (headers === undefined) return {};
  try {
    return {
      headers: Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name, expandVariables(value)]),
      ),
    };
  } catch (error) {
    if (!(error instanceof MissingVariable)) throw error;
    throw new DrctlError(
      'DRCTL_HTTP_SECRET_MISSING',
      `a header of the request uses \${${error.variable}}, which is not set`,
      { hint: `export ${error.variable} before running drctl`, cause: error },
    );
  }
}

function attachEvidence(result: HttpProbeResult, ctx: ActionContext): void {
  if (result.status !== undefined) ctx.evidence('status', result.status);
  ctx.evidence('latency_ms', Math.round(result.latencyMs));
  ctx.evidence('body', result.bodyTruncated ? `${result.bodyExcerpt}…` : result.bodyExcerpt);
}

function observed(result: HttpProbeResult): Record<string, unknown> {
  return {
    url: result.url,
    status: result.status,
    latency_ms: Math.round(result.latencyMs),
    body: result.bodyExcerpt,
    body_truncated: result.bodyTruncated,
    failures: result.failures,
  };
}

export const httpProvider = {
  name: 'http',
  description: 'HTTP probes and requests against any service.',
  // readiness of an http-service is its probe, which `drctl readiness` runs for every kind
  kinds: ['http-service'],
  actions: {
    request: defineAction({
      description: 'Send an HTTP request and fail the step unless the answer has the expected status.',
      params: RequestParams,
      // a request may change state (POST to a switch API); the plan marks it idempotent when it is
      idempotent: false,
      evidence: HTTP_EVIDENCE,
      async run(params, ctx) {
        const result = await probeHttp({
          url: params.url,
          method: params.method ?? 'GET',
          ...expandedHeaders(params.headers),
          ...(params.body === undefined ? {} : { body: params.body }),
          status: params.status ?? ANY_2XX,
          timeoutMs: params.timeout ?? 30_000,
          signal: ctx.signal,
        });
        attachEvidence(result, ctx);
        if (!result.ok) {
          throw new StepFailure('DRCTL_HTTP_REQUEST_FAILED', result.message, {
            // no answer may come next time; a wrong answer will not change by asking again
            retryable: result.status === undefined,
            hint:
              result.status === undefined
                ? 'check that the service is up and the URL is right'
                : 'check the expected status and the answer in the evidence',
            details: observed(result),
          });
        }
        return { summary: result.message, output: observed(result) };
      },
    }),
  },
  checks: {
    probe: defineCheck({
      description:
        'Request a URL and compare status, body text, JSON fields and latency with what is expected.',
      params: ProbeParams,
      async run(params, ctx) {
        const result = await probeHttp({
          url: params.url,
          ...(params.method === undefined ? {} : { method: params.method }),
          ...expandedHeaders(params.headers),
          ...(params.status === undefined ? {} : { status: params.status }),
          ...(params.body_contains === undefined ? {} : { bodyContains: params.body_contains }),
          ...(params.json === undefined ? {} : { json: params.json }),
          ...(params.latency === undefined ? {} : { latencyBudgetMs: params.latency }),
          timeoutMs: params.timeout ?? 5_000,
          signal: ctx.signal,
        });
        attachEvidence(result, ctx);
        return { ok: result.ok, message: result.message, observed: observed(result) };
      },
    }),
  },
  preflight: {
    request: [
      {
        name: 'endpoint answers',
        kind: 'reachable',
        // only a read is sent for real: a PUT or POST would change what the step is meant to change
        async run(params, ctx) {
          const { url, method = 'GET' } = params as { url: string; method?: string };
          const target = new URL(url);
          const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
          if (!['GET', 'HEAD'].includes(method.toUpperCase())) {
            await tcpConnect(target.hostname, port, ctx.signal).catch((error: unknown) => {
              throw new Error(`${target.host} does not accept connections: ${(error as Error).message}`);
            });
            return {
              ok: true,
              message: `${target.host} accepts connections (the ${method} itself is not sent)`,
            };
          }
          const result = await probeHttp({
            url,
            method,
            status: ANY_STATUS,
            timeoutMs: 30_000,
            signal: ctx.signal,
          });
          return {
            ok: result.ok,
            message: result.ok ? `${url} answers ${result.status ?? '?'}` : result.message,
          };
        },
      },
    ],
  },
} satisfies Provider;
