/**
 * The reference disaster with DNS as the front door: east, west and a name server are hosts of a bed
 * (network namespaces). Clients find the shop as `shop.example.test`, served by BIND on the host `ns` and
 * resolved through a caching BIND resolver there; the failover runbook promotes west over SSH and switches
 * the A record with `dns.set` (RFC 2136, TSIG), checked with `dns.check`. The client's RTO includes the
 * time its resolver keeps the old answer: the record's TTL.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeExecutors } from '../../src/exec/index.ts';
import { pgAvailable } from '../../src/pg/index.ts';
import { BedDns } from '../../src/testbed/bed-dns.ts';
import { dnsFailover } from '../../src/testbed/dns-failover.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';

const unavailable =
  NetnsBed.unavailable() ??
  BedDns.unavailable() ??
  (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`failover by DNS skipped: ${unavailable}`);

const TTL_S = 2;

describe.skipIf(unavailable !== undefined)('failover of the two-site shop by DNS (BIND, RFC 2136)', () => {
  let bed: NetnsBed;
  let dir: string;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west', 'ns'] });
    // removed after the bed's processes are gone (PostgreSQL writes into it until then)
    dir = mkdtempSync(join(tmpdir(), 'drctl-bed-dns-shop-'));
    chmodSync(dir, 0o755);
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('moves clients to west within the switch plus the TTL, losing no acknowledged order', async () => {
    const result = await dnsFailover({ bed, dir, ttlSeconds: TTL_S });
    const steps = result.steps;
    expect(result.status, JSON.stringify(steps.map((s) => [s.id, s.status, s.error]))).toBe('succeeded');
    const dnsStep = steps.find((s) => s.id === 'dns-west')!;
    expect(dnsStep.summary).toMatch(
      new RegExp(
        `^shop\\.example\\.test A ${bed.host('east').address} → ${bed.host('west').address} \\(TTL ${TTL_S}s`,
      ),
    );
    expect(dnsStep.checks).toEqual([expect.objectContaining({ ok: true })]);
    const switchMs = result.switchMs!;
    console.log(
      `DNS front door, TTL ${TTL_S}s: switch done ${switchMs} ms after the kill, client RTO ${Math.round(result.rtoMs ?? NaN)} ms ` +
        `(target switch + TTL + 0.5 s = ${switchMs + TTL_S * 1000 + 500} ms), ${result.lost} of ${result.acknowledged} acknowledged writes lost`,
    );
    expect(result.siteBefore).toBe('east');
    expect(result.siteAfter).toBe('west');
    expect(result.lost).toBe(0);
    // east is dead and the name pointed at it: no write succeeds before the record changes, and once it
    // has, the resolver lets go of the old answer within the TTL (a second more for a loaded machine)
    expect(result.rtoMs).toBeGreaterThanOrEqual(switchMs - 50);
    expect(result.rtoMs).toBeLessThanOrEqual(switchMs + TTL_S * 1000 + 1_500);
  }, 120_000);
});
