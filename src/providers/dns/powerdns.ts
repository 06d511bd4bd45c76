/**
 * The PowerDNS adapter: the same record-set replacement as an RFC 2136 update, through PowerDNS's HTTP
 * API (`PATCH /api/v1/servers/{server}/zones/{zone}` with `changetype: REPLACE`), authenticated with its
 * API key. Teams running PowerDNS with a database backend often leave dynamic updates off; the API is
 * what their own tools use.
 */
import { DrctlError } from '../../errors.ts';
import type { RecordType } from './wire.ts';

export interface PowerDnsTarget {
  /** The API's base URL, e.g. http://127.0.0.1:8081. */
  url: string;
  apiKey: string;
  serverId: string;
}

/** A value as PowerDNS stores it: names absolute, TXT quoted. */
function content(type: RecordType, value: string): string {
  if (type === 'CNAME') return value.endsWith('.') ? value : `${value}.`;
  if (type === 'TXT') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return value;
}

export async function powerDnsReplace(
  target: PowerDnsTarget,
  change: { zone: string; name: string; type: RecordType; values: readonly string[]; ttl: number },
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<void> {
  const zone = change.zone.endsWith('.') ? change.zone : `${change.zone}.`;
  const name = change.name.endsWith('.') ? change.name : `${change.name}.`;
  const url = `${target.url.replace(/\/+$/, '')}/api/v1/servers/${encodeURIComponent(target.serverId)}/zones/${encodeURIComponent(zone)}`;
  const body = {
    rrsets: [
      {
        name,
        type: change.type,
        ttl: change.ttl,
        changetype: 'REPLACE',
        records: change.values.map((value) => ({ content: content(change.type, value), disabled: false })),
      },
    ],
  };
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'PATCH',
      headers: { 'x-api-key': target.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
    });
  } catch (error) {
    throw new DrctlError('DRCTL_DNS_API_UNREACHABLE', `the PowerDNS API at ${target.url} did not answer`, {
      hint: 'check api=yes, webserver-address and webserver-port in pdns.conf, and the URL',
      cause: error,
      details: { url: target.url, retryable: true },
    });
  }
  if (response.ok) return;
  const text = (await response.text()).slice(0, 300);
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: keep the text
  }
  if (response.status === 401 || response.status === 403)
    throw new DrctlError(
      'DRCTL_DNS_API_UNAUTHORIZED',
      `the PowerDNS API at ${target.url} refused the API key`,
      {
        hint: 'the environment variable named by key_env must hold the api-key of pdns.conf',
        details: { status: response.status },
      },
    );
  if (response.status === 404)
    throw new DrctlError(
      'DRCTL_DNS_NOT_AUTHORITATIVE',
      `PowerDNS at ${target.url} (server ${target.serverId}) has no zone ${zone}: ${message}`,
      { hint: 'create the zone in PowerDNS, or name the zone it serves', details: { status: 404 } },
    );
  throw new DrctlError(
    'DRCTL_DNS_UPDATE_REJECTED',
    `PowerDNS refused the change of ${name} ${change.type}: ${message}`,
    {
      hint: 'check the values against the record type and that the name lies in the zone',
      details: { status: response.status },
    },
  );
}
