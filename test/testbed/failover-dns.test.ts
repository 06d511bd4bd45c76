/**
 * The reference disaster with DNS as the front door: east, west and a name server are hosts of a bed
 * (network namespaces). Clients find the shop as `shop.example.test`, served by BIND on the host `ns` and
 * resolved through a caching BIND resolver there; the failover runbook promotes west over SSH and switches
 * the A record with `dns.set` (RFC 2136, TSIG), checked with `dns.check`. The client's RTO includes the
 * time its resolver keeps the old answer: the record's TTL.
 */
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Canary, measureLoss, measureOutage } from '../../src/drill/canary.ts';
import { Engine, runView } from '../../src/engine/index.ts';
import { closeExecutors } from '../../src/exec/index.ts';
import { pgAvailable } from '../../src/pg/index.ts';
import { providers } from '../../src/providers/index.ts';
import { openStore } from '../../src/store/index.ts';
import { BedDns } from '../../src/testbed/bed-dns.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { BedShop } from '../../src/testbed/shop.ts';
import { tempDir } from '../support/tmp.ts';

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
    dir = tempDir('drctl-bed-dns-shop-');
    chmodSync(dir, 0o755);
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('moves clients to west within the switch plus the TTL, losing no acknowledged order', async () => {
    const shop = await BedShop.create({ bed, dir, door: 'dns', ttlSeconds: TTL_S });
    const store = await openStore(join(dir, 'state'));
    const engine = new Engine({ store, providers, stateDir: join(dir, 'state'), pollMs: 20 });
    const canary = Canary.start({ url: shop.url, lookup: shop.dns!.lookup });
    try {
      await canary.waitForAcks(30);
      expect(canary.acks.at(-1)?.site).toBe('east');
      const faultAt = Date.now();
      await bed.kill('east');

      const failover = await engine.start({ plan: shop.plan, runbook: 'failover', startedBy: 'alice' });
      const outcome = await failover.done;
      const steps = runView(await store.readJournal(failover.runId)).steps;
      expect(outcome.status, JSON.stringify(steps.map((s) => [s.id, s.status, s.error]))).toBe('succeeded');
      const dnsStep = steps.find((s) => s.id === 'dns-west')!;
      const switchedAt = Date.parse(dnsStep.finishedAt!);
      expect(dnsStep.summary).toMatch(
        new RegExp(
          `^shop\\.example\\.test A ${bed.host('east').address} → ${bed.host('west').address} \\(TTL ${TTL_S}s`,
        ),
      );
      expect(dnsStep.checks).toEqual([expect.objectContaining({ ok: true })]);

      await canary.waitForAcks(30);
      const result = await canary.stop();
      const outage = measureOutage(result, faultAt);
      const lost = await measureLoss(result.acks, (ids) => shop.ordersPresent('west', ids));
      const switchMs = switchedAt - faultAt;
      console.log(
        `DNS front door, TTL ${TTL_S}s: switch done ${switchMs} ms after the kill, client RTO ${Math.round(outage.rtoMs ?? NaN)} ms ` +
          `(target switch + TTL + 0.5 s = ${switchMs + TTL_S * 1000 + 500} ms), ${lost.count} of ${lost.acknowledged} acknowledged writes lost`,
      );
      expect(lost.count).toBe(0);
      expect(result.acks.at(-1)?.site).toBe('west');
      // east is dead and the name pointed at it: no write succeeds before the record changes, and once it
      // has, the resolver lets go of the old answer within the TTL (a second more for a loaded machine)
      expect(outage.rtoMs).toBeGreaterThanOrEqual(switchMs - 50);
      expect(outage.rtoMs).toBeLessThanOrEqual(switchMs + TTL_S * 1000 + 1_500);
    } finally {
      await canary.stop();
      await shop.close();
      await store.close?.();
    }
  }, 120_000);
});
