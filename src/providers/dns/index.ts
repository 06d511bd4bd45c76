/**
 * The dns provider: moves clients between sites by changing what a name resolves to. `dns.set` replaces a
 * record set (A, AAAA, CNAME, TXT) by an RFC 2136 dynamic update signed with TSIG (RFC 8945), or through
 * PowerDNS's HTTP API when `api:` is given; `dns.check` asks every authoritative server of the zone
 * directly until all of them answer the new values, and records how long that took. Readiness reads the
 * record's TTL from the server, since clients move only when their caches let go of the old answer.
 *
 * The wire format is dns-packet's, the TSIG MAC node:crypto's (see wire.ts for why not nsupdate).
 */
import { z } from 'zod';
import { DrctlError } from '../../errors.ts';
import type { Component } from '../../plan/model.ts';
import { DurationParam } from '../params.ts';
import { defineAction, defineCheck } from '../provider.ts';
import type { ActionContext, Provider, ReadinessFact } from '../provider.ts';
import { powerDnsReplace } from './powerdns.ts';
import {
  dataOf,
  exchange,
  formatServer,
  normalizeAddress,
  normalizeName,
  parseServer,
  query,
  replaceRecordSet,
  sameName,
  TSIG_ALGORITHMS,
  valuesOf,
} from './wire.ts';
import type { RecordType, Server, TsigAlgorithm, TsigKey } from './wire.ts';

export { parseServer, exchange, query } from './wire.ts';

const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT'] as const;

/** A TTL as DNS people write it (seconds) or as a duration (`5s`, `1m`): compiled to whole seconds. */
const Ttl = z.union([
  z.number().int().min(0).max(2_147_483_647),
  DurationParam.transform((ms) => Math.round(ms / 1000)),
]);

const RecordFields = {
  server: z.string().min(1).describe('The primary DNS server to update and ask: host:port. @default port 53'),
  zone: z.string().min(1).describe('The zone, e.g. example.com.'),
  name: z
    .string()
    .min(1)
    .describe('The name, absolute (shop.example.com) or relative to the zone (shop, @).'),
  type: z.enum(RECORD_TYPES).describe('A, AAAA, CNAME or TXT.'),
  timeout: DurationParam.optional().describe('How long to wait for one answer. @default 2s'),
};

const SetParams = z.strictObject({
  ...RecordFields,
  values: z.array(z.string().min(1)).min(1).describe('The record set after the change: every value of it.'),
  ttl: Ttl.describe('TTL of the new records, in seconds (or a duration: 5s).'),
  tsig: z
    .strictObject({
      name: z.string().min(1).describe('The key name, as the server knows it.'),
      algorithm: z
        .enum(Object.keys(TSIG_ALGORITHMS) as [TsigAlgorithm, ...TsigAlgorithm[]])
        .optional()
        .describe('@default hmac-sha256'),
      secret_env: z.string().min(1).describe('Environment variable holding the base64 secret.'),
    })
    .optional()
    .describe(
      'TSIG key that signs the RFC 2136 update. Leave out only for servers that allow updates by address.',
    ),
  api: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }).describe('PowerDNS API base URL, e.g. http://127.0.0.1:8081.'),
      key_env: z.string().min(1).describe('Environment variable holding the API key.'),
      server_id: z.string().optional().describe('@default localhost'),
    })
    .optional()
    .describe('Change the record through the PowerDNS HTTP API instead of an RFC 2136 update.'),
});

const CheckParams = z.strictObject({
  ...RecordFields,
  values: z.array(z.string().min(1)).min(1).describe('The values every authoritative server must answer.'),
  servers: z
    .array(z.string().min(1))
    .optional()
    .describe(
      "The zone's authoritative servers (host:port). @default the zone's NS records, asked of server, on its port",
    ),
  within: DurationParam.optional().describe('How long to keep asking. @default 30s'),
  every: DurationParam.optional().describe('Pause between rounds of questions. @default 100ms'),
});

type RecordParams = Pick<z.output<typeof SetParams>, 'server' | 'zone' | 'name' | 'type' | 'timeout'>;

/** The absolute name, without the final dot: `shop` in `example.com` is `shop.example.com`. */
export function absoluteName(name: string, zone: string): string {
  const apex = normalizeName(zone);
  if (name === '@') return apex;
  const n = normalizeName(name);
  if (name.endsWith('.') || n === apex || n.endsWith(`.${apex}`)) return n;
  return `${n}.${apex}`;
}

/** What the analysis matches a readiness TTL fact and a dns.set step on: the record set. */
function ttlKey(fqdn: string, type: string): string {
  return `dns-ttl ${fqdn} ${type}`;
}

function answerTimeout(params: { timeout?: number | undefined }): number {
  return params.timeout ?? 2_000;
}

function secretFrom(env: string, what: string): string {
  const value = process.env[env];
  if (value === undefined || value === '')
    throw new DrctlError('DRCTL_DNS_SECRET_MISSING', `the environment variable ${env} (${what}) is not set`, {
      hint: `export ${env}=... in drctl's environment; the secret is never written into the plan`,
    });
  return value;
}

function tsigKey(tsig: NonNullable<z.output<typeof SetParams>['tsig']>): TsigKey {
  const secret = Buffer.from(secretFrom(tsig.secret_env, `secret of TSIG key ${tsig.name}`), 'base64');
  if (secret.length === 0)
    throw new DrctlError(
      'DRCTL_DNS_SECRET_MISSING',
      `${tsig.secret_env} does not hold a base64 TSIG secret`,
      {
        hint: 'copy the secret of the key file (tsig-keygen prints it) into the variable',
      },
    );
  return { name: tsig.name, algorithm: tsig.algorithm ?? 'hmac-sha256', secret };
}

/** Asks the server for the zone's SOA: it must answer authoritatively, or the update would go nowhere. */
async function soaOf(server: Server, zone: string, ctx: ActionContext, timeoutMs: number): Promise<number> {
  const answer = await exchange(server, query(zone, 'SOA'), { timeoutMs, signal: ctx.signal });
  const soa = answer.response.answers?.find((record) => record.type === 'SOA' && sameName(record.name, zone));
  if (answer.response.rcode !== 'NOERROR' || !answer.response.flag_aa || soa === undefined) {
    throw new DrctlError(
      'DRCTL_DNS_NOT_AUTHORITATIVE',
      `${formatServer(server)} is not authoritative for ${zone} (it answered ${answer.response.rcode}${answer.response.flag_aa ? '' : ' without the AA flag'})`,
      {
        hint: 'name the zone exactly as the server serves it (the zone apex), and its primary server',
        details: { server: formatServer(server), zone, rcode: answer.response.rcode },
      },
    );
  }
  return (dataOf(soa) as { serial: number }).serial;
}

interface Lookup {
  values: string[];
  ttl: number | undefined;
  authoritative: boolean;
  rcode: string;
}

async function lookup(
  server: Server,
  name: string,
  type: RecordType,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Lookup> {
  const answer = await exchange(server, query(name, type), { timeoutMs, signal });
  const records = (answer.response.answers ?? []).filter((r) => r.type === type && sameName(r.name, name));
  return {
    values: valuesOf(answer.response.answers, name, type),
    ttl: records[0] === undefined ? undefined : (records[0] as { ttl?: number }).ttl,
    authoritative: answer.response.flag_aa,
    rcode: answer.response.rcode,
  };
}

function sameValues(type: RecordType, got: readonly string[], want: readonly string[]): boolean {
  const norm = (value: string): string =>
    type === 'CNAME' ? normalizeName(value) : type === 'AAAA' ? normalizeAddress(value) : value;
  const a = got.map(norm).sort();
  const b = want.map(norm).sort();
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** The zone's authoritative servers: the NS names' addresses, asked of `server`, on `server`'s port. */
async function authoritativeServers(
  params: RecordParams & { servers?: string[] | undefined },
  signal: AbortSignal,
): Promise<Server[]> {
  if (params.servers !== undefined) return params.servers.map(parseServer);
  const primary = parseServer(params.server);
  const zone = normalizeName(params.zone);
  const timeoutMs = answerTimeout(params);
  const ns = await exchange(primary, query(zone, 'NS'), { timeoutMs, signal });
  const names = (ns.response.answers ?? [])
    .filter((record) => record.type === 'NS' && sameName(record.name, zone))
    .map((record) => String((record as { data: unknown }).data));
  const servers: Server[] = [];
  for (const name of names) {
    for (const type of ['A', 'AAAA'] as const) {
      const found = await lookup(primary, name, type, timeoutMs, signal);
      servers.push(...found.values.map((host) => ({ host, port: primary.port })));
    }
  }
  if (servers.length === 0)
    throw new DrctlError(
      'DRCTL_DNS_NO_AUTHORITATIVE_SERVERS',
      `found no address for the NS records of ${zone} at ${formatServer(primary)} (${names.join(', ') || 'no NS records'})`,
      {
        hint: "list the servers to ask with servers: [host:port, ...], or add the name servers' addresses to the zone",
      },
    );
  return servers;
}

export const dnsProvider = {
  name: 'dns',
  description: 'Moves clients by DNS: RFC 2136 updates signed with TSIG, or the PowerDNS HTTP API.',
  kinds: ['dns'],
  actions: {
    set: defineAction({
      description:
        'Replace a record set (A, AAAA, CNAME, TXT) with the given values and TTL, by RFC 2136 update (TSIG) or the PowerDNS API.',
      params: SetParams,
      idempotent: true,
      evidence: ['before', 'after'],
      // resolvers and clients keep the old answer until its TTL runs out
      clientsMove: (params) => ({
        ms: params.ttl * 1000,
        reason: `TTL of ${params.name} ${params.type}`,
        observedAs: ttlKey(absoluteName(params.name, params.zone), params.type),
      }),
      async run(params, ctx) {
        const server = parseServer(params.server);
        const zone = normalizeName(params.zone);
        const name = absoluteName(params.name, params.zone);
        const timeoutMs = answerTimeout(params);
        if (name !== zone && !name.endsWith(`.${zone}`))
          throw new DrctlError('DRCTL_DNS_NOT_IN_ZONE', `${name} is not in zone ${zone}`, {
            hint: 'write the name relative to the zone, or name the zone it belongs to',
          });
        const key = params.tsig === undefined ? undefined : tsigKey(params.tsig);
        const serialBefore = await soaOf(server, zone, ctx, timeoutMs);
        const before = await lookup(server, name, params.type, timeoutMs, ctx.signal);
        ctx.evidence('before', {
          server: formatServer(server),
          name,
          type: params.type,
          ...before,
          serial: serialBefore,
        });
        const startedAt = Date.now();
        if (params.api !== undefined) {
          await powerDnsReplace(
            {
              url: params.api.url,
              apiKey: secretFrom(params.api.key_env, 'PowerDNS API key'),
              serverId: params.api.server_id ?? 'localhost',
            },
            { zone, name, type: params.type, values: params.values, ttl: params.ttl },
            { timeoutMs: Math.max(timeoutMs, 5_000), signal: ctx.signal },
          );
        } else {
          const message = replaceRecordSet(zone, name, params.type, params.values, params.ttl);
          const answer = await exchange(server, message, {
            timeoutMs,
            signal: ctx.signal,
            ...(key === undefined ? {} : { tsig: key }),
          });
          updateFailure(answer.response.rcode, answer.tsigError, {
            server,
            zone,
            name,
            key: params.tsig?.name,
          });
        }
        const updateMs = Date.now() - startedAt;
        const after = await lookup(server, name, params.type, timeoutMs, ctx.signal);
        const serialAfter = await soaOf(server, zone, ctx, timeoutMs);
        ctx.evidence('after', {
          server: formatServer(server),
          name,
          type: params.type,
          ...after,
          serial: serialAfter,
        });
        if (!sameValues(params.type, after.values, params.values))
          throw new DrctlError(
            'DRCTL_DNS_UPDATE_NOT_VISIBLE',
            `${formatServer(server)} accepted the update but answers ${name} ${params.type} ${after.values.join(' ') || 'nothing'}`,
            { hint: 'another writer may have changed the record; read the evidence and the server log' },
          );
        ctx.log.info(
          { server: formatServer(server), name, type: params.type, updateMs },
          'dns record set replaced',
        );
        return {
          summary: `${name} ${params.type} ${before.values.join(' ') || '(none)'} → ${after.values.join(' ')} (TTL ${params.ttl}s, serial ${serialBefore} → ${serialAfter})`,
          output: {
            name,
            type: params.type,
            before: before.values,
            after: after.values,
            ttl: params.ttl,
            updated_at: startedAt,
            update_ms: updateMs,
            serial: serialAfter,
          },
        };
      },
    }),
  },
  checks: {
    check: defineCheck({
      description:
        "Asks each of the zone's authoritative servers directly until every one answers the values, and records how long that took.",
      params: CheckParams,
      async run(params, ctx) {
        const name = absoluteName(params.name, params.zone);
        const timeoutMs = answerTimeout(params);
        const servers = await authoritativeServers(params, ctx.signal);
        const started = performance.now();
        const deadline = started + (params.within ?? 30_000);
        const state = servers.map((server) => ({
          server: formatServer(server),
          values: [] as string[],
          ttl: undefined as number | undefined,
          answered_after_ms: undefined as number | undefined,
          error: undefined as string | undefined,
        }));
        for (;;) {
          await Promise.all(
            servers.map(async (server, i) => {
              const entry = state[i]!;
              if (entry.answered_after_ms !== undefined) return;
              try {
                const found = await lookup(server, name, params.type, timeoutMs, ctx.signal);
                entry.values = found.values;
                entry.ttl = found.ttl;
                entry.error = found.authoritative ? undefined : `answered ${found.rcode} without authority`;
                if (found.authoritative && sameValues(params.type, found.values, params.values))
                  entry.answered_after_ms = Math.round(performance.now() - started);
              } catch (error) {
                entry.error = error instanceof Error ? error.message : String(error);
              }
            }),
          );
          const converged = state.every((entry) => entry.answered_after_ms !== undefined);
          if (converged || performance.now() >= deadline || ctx.signal.aborted) {
            const tookMs = Math.round(performance.now() - started);
            const lagging = state.filter((entry) => entry.answered_after_ms === undefined);
            ctx.evidence('dns-propagation', { name, type: params.type, servers: state, took_ms: tookMs });
            return {
              ok: converged,
              message: converged
                ? `all ${state.length} authoritative servers answer ${name} ${params.type} ${params.values.join(' ')} (after ${tookMs} ms)`
                : `after ${tookMs} ms, ${lagging.map((e) => `${e.server} answers ${e.error ?? (e.values.join(' ') || 'nothing')}`).join('; ')}`,
              observed: { servers: state, took_ms: tookMs },
            };
          }
          await new Promise((resolve) => setTimeout(resolve, params.every ?? 100));
        }
      },
    }),
  },
  /**
   * A `dns` component's placement names the record clients use: `{ server, zone, name, type }` (one
   * placement is enough; the record is not per site). Facts: the server answers with authority, and the
   * record's TTL compared with the workload's RTO (clients keep the old answer that long).
   */
  async readiness(component: Component, ctx: ActionContext): Promise<ReadinessFact[]> {
    const facts: ReadinessFact[] = [];
    const rtoMs = ctx.plan.workloads.find((w) => w.components.some((c) => c.id === component.id))?.rtoMs;
    const seen = new Set<string>();
    for (const placement of component.placement) {
      const { server, zone, name, type } = placement.fields;
      if (typeof server !== 'string' || typeof zone !== 'string' || typeof name !== 'string') continue;
      const recordType = (typeof type === 'string' ? type.toUpperCase() : 'A') as RecordType;
      const fqdn = absoluteName(name, zone);
      if (seen.has(`${server} ${fqdn}`)) continue;
      seen.add(`${server} ${fqdn}`);
      try {
        const found = await lookup(parseServer(server), fqdn, recordType, 2_000, ctx.signal);
        facts.push({
          component: component.id,
          site: undefined,
          name: 'reachable',
          ok: found.authoritative,
          value: found.authoritative,
          message: found.authoritative
            ? `${server} answers ${fqdn} ${recordType} ${found.values.join(' ') || '(none)'} with authority`
            : `${server} answers ${fqdn} without authority (${found.rcode})`,
        });
        if (found.ttl !== undefined) {
          const fits = rtoMs === undefined || found.ttl * 1000 < rtoMs;
          facts.push({
            component: component.id,
            site: undefined,
            name: 'dns-ttl',
            ok: fits,
            value: found.ttl,
            ...(rtoMs === undefined ? {} : { limit: Math.floor(rtoMs / 1000) }),
            // what clients holding the answer served now wait after a switch, whatever the switch's TTL
            clientsMove: { key: ttlKey(fqdn, recordType), ms: found.ttl * 1000 },
            message: fits
              ? `${fqdn} has TTL ${found.ttl}s: clients move within that after a switch`
              : `${fqdn} has TTL ${found.ttl}s, not under the RTO of ${Math.round(rtoMs! / 1000)}s: lower it ahead of a failover`,
          });
        }
      } catch (error) {
        facts.push({
          component: component.id,
          site: undefined,
          name: 'reachable',
          ok: false,
          value: false,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return facts;
  },
} satisfies Provider;

/** Turns an update's RCODE (and the TSIG error of a NOTAUTH) into an error naming what to fix. */
function updateFailure(
  rcode: string,
  tsigError: string | undefined,
  where: { server: Server; zone: string; name: string; key: string | undefined },
): void {
  if (rcode === 'NOERROR') return;
  const server = formatServer(where.server);
  const details = {
    server,
    zone: where.zone,
    name: where.name,
    rcode,
    ...(tsigError === undefined ? {} : { tsigError }),
  };
  if (rcode === 'NOTAUTH' && tsigError !== undefined) {
    const why =
      {
        BADKEY: `does not know the key ${where.key ?? ''}`,
        BADSIG: `knows the key ${where.key ?? ''} with another secret`,
        BADTIME: "finds the signature's time off by more than the fudge (check the clocks)",
      }[tsigError] ?? `rejected the signature (${tsigError})`;
    throw new DrctlError(
      'DRCTL_DNS_TSIG_REJECTED',
      `${server} refused the update of ${where.name}: it ${why}`,
      {
        hint: "check the key name, algorithm and the secret in the environment variable against the server's key",
        details,
      },
    );
  }
  if (rcode === 'NOTAUTH')
    throw new DrctlError(
      'DRCTL_DNS_NOT_AUTHORITATIVE',
      `${server} is not authoritative for zone ${where.zone} (NOTAUTH)`,
      {
        hint: "send the update to the zone's primary server, with the zone named as it serves it",
        details,
      },
    );
  if (rcode === 'REFUSED')
    throw new DrctlError(
      'DRCTL_DNS_UPDATE_REFUSED',
      `${server} refused the update of ${where.name} (REFUSED): ${where.key === undefined ? 'it takes no unsigned updates' : `key ${where.key} may not change that name`}`,
      {
        hint: "allow the key in the zone's update-policy (BIND: grant KEY zonesub ANY;) or allow-update",
        details,
      },
    );
  if (rcode === 'NOTZONE')
    throw new DrctlError(
      'DRCTL_DNS_NOT_IN_ZONE',
      `${where.name} is not in zone ${where.zone} (NOTZONE from ${server})`,
      {
        hint: 'write the name relative to the zone, or name the zone it belongs to',
        details,
      },
    );
  throw new DrctlError(
    'DRCTL_DNS_UPDATE_FAILED',
    `${server} answered ${rcode} to the update of ${where.name}`,
    {
      hint: 'read the server log; SERVFAIL often means the zone could not be written (journal, permissions)',
      details: { ...details, retryable: rcode === 'SERVFAIL' },
    },
  );
}
