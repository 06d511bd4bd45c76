/**
 * The reference disaster with DNS as the front door, once, on a bed with hosts east, west and ns: the shop
 * (src/testbed/shop.ts, `door: 'dns'`), a canary resolving `shop.example.test` through the bed's caching
 * resolver on every connection, east killed with SIGKILL, the failover runbook started at once (no
 * detection window), and what the client saw. Shared by the test and bench:front-doors.
 */
import { join } from 'node:path';
import { Canary, measureLoss, measureOutage } from '../drill/canary.ts';
import { Engine, runView } from '../engine/index.ts';
import type { StepView } from '../engine/index.ts';
import { providers } from '../providers/index.ts';
import { openStore } from '../store/index.ts';
import type { NetnsBed } from './netns-bed.ts';
import { BedShop } from './shop.ts';

export interface DnsFailoverResult {
  status: string;
  steps: StepView[];
  /** From the kill to the end of the `dns.set` step (its check of every authoritative server included). */
  switchMs: number | undefined;
  /** From the kill to the first acknowledged write started after it, as the client saw it. */
  rtoMs: number | undefined;
  acknowledged: number;
  lost: number;
  /** Sites that acknowledged the canary's writes, before the kill and at the end. */
  siteBefore: string | undefined;
  siteAfter: string | undefined;
}

/** Runs one failover; what it started on the hosts is left to the caller (`bed.kill`, `bed.close`). */
export async function dnsFailover(options: {
  bed: NetnsBed;
  dir: string;
  ttlSeconds: number;
}): Promise<DnsFailoverResult> {
  const { bed, dir } = options;
  const shop = await BedShop.create({ bed, dir, door: 'dns', ttlSeconds: options.ttlSeconds });
  const store = await openStore(join(dir, 'state'));
  const engine = new Engine({ store, providers, stateDir: join(dir, 'state'), pollMs: 20 });
  const canary = Canary.start({ url: shop.url, lookup: shop.dns!.lookup });
  try {
    await canary.waitForAcks(30);
    const siteBefore = canary.acks.at(-1)?.site;
    const faultAt = Date.now();
    await bed.kill('east');
    const failover = await engine.start({ plan: shop.plan, runbook: 'failover', startedBy: 'alice' });
    const outcome = await failover.done;
    const steps = runView(await store.readJournal(failover.runId)).steps;
    const switched = steps.find((s) => s.id === 'dns-west')?.finishedAt;
    if (outcome.status === 'succeeded') await canary.waitForAcks(30);
    const result = await canary.stop();
    const lost = await measureLoss(result.acks, (ids) => shop.ordersPresent('west', ids));
    return {
      status: outcome.status,
      steps,
      switchMs: switched === undefined ? undefined : Date.parse(switched) - faultAt,
      rtoMs: measureOutage(result, faultAt).rtoMs,
      acknowledged: lost.acknowledged,
      lost: lost.count,
      siteBefore,
      siteAfter: result.acks.at(-1)?.site,
    };
  } finally {
    await canary.stop();
    await shop.close();
    await store.close?.();
  }
}
