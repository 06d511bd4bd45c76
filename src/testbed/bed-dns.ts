/**
 * DNS on a bed of hosts (src/testbed/netns-bed.ts): Debian's BIND on one host of the bed, twice — an
 * authoritative primary for a zone on port 53 of the host's address, updatable with a TSIG key made here,
 * and a caching resolver on port 5300 that forwards the zone to it, as the resolver a client asks. The
 * resolver keeps an answer for its TTL, so a client resolving through it moves only when that runs out.
 * (On loopback named serves 127.0.0.1 only; on the bed every site has an address a record can name.)
 *
 *   const dns = await BedDns.create({ bed, host: 'ns', records: ['shop 2 IN A 198.18.5.2'] });
 *   dns.server        // "198.18.5.4:53", what dns.set and dns.check are given
 *   dns.lookup        // for a client: resolves through the resolver, never through /etc/resolv.conf
 *
 * Both servers are processes of the host's namespace: `NetnsBed.close()` ends them with it.
 */
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exchange, query } from '../providers/dns/index.ts';
import { namedBinary } from '../providers/dns/testing.ts';
import type { NetnsBed } from './netns-bed.ts';

const RESOLVER_PORT = 5300;

export interface BedDnsOptions {
  bed: NetnsBed;
  /** The bed host the servers run on. */
  host: string;
  /** Directory for their configurations, zone and journal. */
  dir: string;
  /** @default 'example.test' */
  zone?: string;
  /** Records of the zone, in zone-file syntax relative to the origin. */
  records?: string[];
}

export class BedDns {
  readonly zone: string;
  /** The authoritative primary, host:port. */
  readonly server: string;
  /** The caching resolver clients ask, host:port. */
  readonly resolver: string;
  /** The TSIG key that may update the zone (secret in base64, as a BIND key file has it). */
  readonly key: { name: string; algorithm: 'hmac-sha256'; secret: string };

  private constructor(parts: { zone: string; address: string; key: BedDns['key'] }) {
    this.zone = parts.zone;
    this.server = `${parts.address}:53`;
    this.resolver = `${parts.address}:${RESOLVER_PORT}`;
    this.key = parts.key;
  }

  static unavailable(): string | undefined {
    return namedBinary() === undefined ? 'named is not installed (apt-get install bind9)' : undefined;
  }

  static async create(options: BedDnsOptions): Promise<BedDns> {
    const named = namedBinary();
    if (named === undefined) throw new Error(BedDns.unavailable());
    const { bed } = options;
    const zone = options.zone ?? 'example.test';
    const address = bed.host(options.host).address;
    const key = {
      name: 'drctl-key',
      algorithm: 'hmac-sha256' as const,
      secret: randomBytes(32).toString('base64'),
    };
    const options_ = (home: string, port: number, extra: string[]): string =>
      [
        'options {',
        `  directory "${home}";`,
        `  listen-on port ${port} { ${address}; };`,
        '  listen-on-v6 { none; };',
        '  dnssec-validation no;',
        `  pid-file "${home}/named.pid";`,
        `  session-keyfile "${home}/session.key";`,
        `  managed-keys-directory "${home}";`,
        ...extra,
        '};',
        'controls { };',
      ].join('\n');
    const primary = join(options.dir, 'dns-primary');
    const resolver = join(options.dir, 'dns-resolver');
    for (const home of [primary, resolver]) mkdirSync(home, { recursive: true });
    writeFileSync(
      join(primary, `${zone}.zone`),
      [
        `$ORIGIN ${zone}.`,
        '$TTL 60',
        '@ IN SOA ns1 hostmaster 1 60 10 600 5',
        '@ IN NS ns1',
        `ns1 IN A ${address}`,
        ...(options.records ?? []),
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(primary, 'named.conf'),
      [
        options_(primary, 53, ['  recursion no;', '  notify no;']),
        `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret}"; };`,
        `zone "${zone}" { type primary; file "${primary}/${zone}.zone"; update-policy { grant ${key.name} zonesub ANY; }; };`,
      ].join('\n'),
    );
    // A resolver as clients have one: it caches every answer for its TTL (no stale answers, no prefetch
    // at these TTLs) and asks the primary for the zone, nothing else (the bed has no route out).
    writeFileSync(
      join(resolver, 'named.conf'),
      [
        options_(resolver, RESOLVER_PORT, [
          '  recursion yes;',
          '  allow-recursion { any; };',
          '  allow-query { any; };',
        ]),
        `zone "${zone}" { type forward; forward only; forwarders { ${address} port 53; }; };`,
      ].join('\n'),
    );
    // named forks into the background: it stays in the host's namespace, whose processes the bed ends
    for (const home of [primary, resolver]) await bed.inside(options.host, `${named} -c ${home}/named.conf`);
    const dns = new BedDns({ zone, address, key });
    for (const [server, port] of [
      [address, 53],
      [address, RESOLVER_PORT],
    ] as const) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const answer = await exchange({ host: server, port }, query(zone, 'SOA'), { timeoutMs: 300 }).catch(
          () => undefined,
        );
        if (answer?.response.rcode === 'NOERROR') break;
        if (Date.now() > deadline) throw new Error(`named on ${server}:${port} did not answer for ${zone}`);
        await sleep(50);
      }
    }
    return dns;
  }

  /**
   * A `lookup` for sockets (undici's `connect.lookup`) that asks the resolver on every connection, as a
   * client without a cache of its own does: what it gets is what the resolver's cache holds.
   */
  get lookup(): LookupFunction {
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([this.resolver]);
    return (hostname, options, callback) => {
      resolver.resolve4(hostname).then(
        (addresses) => {
          const address = addresses[0] ?? '';
          if (options.all === true) callback(null, [{ address, family: 4 }]);
          else callback(null, address, 4);
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 4),
      );
    };
  }
}
