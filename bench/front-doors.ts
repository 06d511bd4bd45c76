/**
 * bench:front-doors — failover through the layers teams already run, on this machine.
 *
 * 1. HAProxy front door, site east's service killed with SIGKILL, a client POSTing every 10 ms through
 *    HAProxy (Debian's haproxy): the client RTO (kill → first success) and the requests that failed, with
 *    - drctl deciding: drctl's probe (every 50 ms, 150 ms timeout, out after 2 failures, as the two-site
 *      example) then `haproxy.maint` east through the runtime API; HAProxy's own checks left at the default;
 *    - HAProxy alone, default checks (`inter 2s fall 3`);
 *    - HAProxy alone, active checks tuned (`inter 100ms fall 2`);
 *    - HAProxy alone, tuned (`inter 100ms fall 2`, `observe layer4`: the first failed connection marks down).
 *    Every mode has the same data path: `option redispatch`, `retries 2` and `timeout connect` 100 ms
 *    (DRCTL_BENCH_CONNECT_TIMEOUT). HAProxy's connect-retry delay is min(timeout connect, 1 s): with 1 s
 *    every mode waited a second for the request in flight to the dead server, whoever decided.
 *    DRCTL_BENCH_KILLS kills each (default 5).
 * 2. The hot-standby drill with HAProxy as the front door (examples/two-site/haproxy.yaml, PostgreSQL):
 *    detection, client RTO and acknowledged writes lost, DRCTL_BENCH_DRILLS runs (default 3).
 * 3. DNS (BIND, a primary and a secondary fed by NOTIFY): time from the update to every authoritative
 *    server answering west, and the client RTO with a 5 s TTL for a client that resolves through a cache
 *    honouring the TTL, drctl deciding as in 1 and switching with `dns.set`. Target: detection + update +
 *    TTL + 0.5 s. DRCTL_BENCH_KILLS runs.
 * 4. The hot-standby shop with DNS as its front door on a bed of hosts (src/testbed/dns-failover.ts: BIND
 *    and a caching BIND resolver on a host ns, PostgreSQL and the order service on east and west, the
 *    failover over SSH, TTL 5 s), east killed and the failover started at once: switch time, client RTO
 *    against switch + TTL + 0.5 s, acknowledged writes lost. DRCTL_BENCH_BED_DNS runs (default 3); needs
 *    root for the network namespaces.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { loadPlanForCommand } from '../src/cli/load-plan.ts';
import { runDrill } from '../src/drill/index.ts';
import type { Plan } from '../src/plan/model.ts';
import { pgAvailable } from '../src/pg/binaries.ts';
import { dnsProvider, exchange, query } from '../src/providers/dns/index.ts';
import { startTestBind } from '../src/providers/dns/testing.ts';
import { haproxyProvider, runtimeCommand } from '../src/providers/haproxy/index.ts';
import { haproxyBinary } from '../src/providers/haproxy/testing.ts';
import type { ActionContext } from '../src/providers/index.ts';
import { freePort } from '../src/system/ports.ts';
import { closeExecutors } from '../src/exec/index.ts';
import { BedDns } from '../src/testbed/bed-dns.ts';
import { dnsFailover, type DnsFailoverResult } from '../src/testbed/dns-failover.ts';
import { NetnsBed } from '../src/testbed/netns-bed.ts';

const KILLS = Number(process.env.DRCTL_BENCH_KILLS ?? 5);
const DRILLS = Number(process.env.DRCTL_BENCH_DRILLS ?? 3);
const BED_DNS = Number(process.env.DRCTL_BENCH_BED_DNS ?? 3);
const PROBE = { intervalMs: 50, timeoutMs: 150, failures: 2 };
/**
 * HAProxy's `timeout connect`, the same in every mode. HAProxy waits min(timeout connect, 1 s) before it
 * retries a request whose connection failed: at 1 s that turn-around, not who decides, set every mode's RTO.
 */
const CONNECT_TIMEOUT = process.env.DRCTL_BENCH_CONNECT_TIMEOUT ?? '100ms';

const ctx: ActionContext = {
  signal: new AbortController().signal,
  log: pino({ level: 'silent' }),
  plan: { workloads: [] } as unknown as Plan,
  stateDir: tmpdir(),
  evidence: () => undefined,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const range = (values: number[], unit = 'ms'): string =>
  values.length === 0
    ? 'n/a'
    : `${Math.round(Math.min(...values))} / ${Math.round(median(values))} / ${Math.round(Math.max(...values))} ${unit}`;

/** A site: a node HTTP server in its own process, so SIGKILL is a real crash. */
function startSite(site: string, host: string, port: number): Promise<ChildProcess> {
  const code = `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.writeHead(q.url==='/health'?200:201,{'x-site':'${site}'}).end('${site}'))}).listen(${port},'${host}',()=>console.log('up'))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    child.stdout!.once('data', () => done(child));
    child.once('exit', () => fail(new Error(`site ${site} did not start`)));
  });
}

function post(url: string, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((done) => {
    const request = http.request(url, { method: 'POST', agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on('end', () =>
        done(response.statusCode === 201 ? String(response.headers['x-site']) : undefined),
      );
    });
    request.on('error', () => done(undefined));
    request.on('timeout', () => request.destroy());
    request.end('{}');
  });
}

/** Writes every 10 ms; the RTO is the kill → first success that follows. */
function client(target: () => string | Promise<string>) {
  let stop = false;
  const results: { at: number; site: string | undefined }[] = [];
  const loop = (async () => {
    while (!stop) {
      const started = performance.now();
      results.push({ at: started, site: await post(await target()) });
      await sleep(Math.max(0, 10 - (performance.now() - started)));
    }
  })();
  return {
    results,
    async stop() {
      stop = true;
      await loop;
    },
  };
}

function rtoAfter(results: { at: number; site: string | undefined }[], killedAt: number, site: string) {
  const after = results.filter((r) => r.at >= killedAt);
  const first = after.find((r) => r.site === site);
  return {
    rtoMs: first === undefined ? undefined : first.at - killedAt,
    failed: after.filter((r) => r.site === undefined).length,
  };
}

/** drctl's decision: probes every 50 ms; after 2 failures in a row, `then()` once. */
function decider(url: string, then: () => Promise<void>) {
  let stopped = false;
  let decidedAt: number | undefined;
  const loop = (async () => {
    let failures = 0;
    while (!stopped && decidedAt === undefined) {
      const started = performance.now();
      const ok = await new Promise<boolean>((done) => {
        const request = http.get(url, { agent: false, timeout: PROBE.timeoutMs }, (r) => {
          r.resume();
          done(r.statusCode === 200);
        });
        request.on('error', () => done(false));
        request.on('timeout', () => request.destroy());
      });
      failures = ok ? 0 : failures + 1;
      if (failures >= PROBE.failures) {
        decidedAt = performance.now();
        await then();
        break;
      }
      await sleep(Math.max(0, PROBE.intervalMs - (performance.now() - started)));
    }
  })();
  return {
    detectedAt: () => decidedAt,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** HAProxy's checks per mode; everything else of the configuration is the same for all. */
const CHECKS = {
  drctl: 'check inter 2s fall 3 rise 2',
  'haproxy-default': 'check inter 2s fall 3 rise 2',
  'haproxy-active': 'check inter 100ms fall 2 rise 1',
  'haproxy-tuned': 'check inter 100ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down',
} as const;
type Mode = keyof typeof CHECKS;

async function haproxyRound(mode: Mode, dir: string) {
  const [eastPort, westPort, front, admin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const east = await startSite('east', '127.0.0.1', eastPort);
  const west = await startSite('west', '127.0.0.1', westPort);
  const check = CHECKS[mode];
  const cfg = join(dir, `${mode}.cfg`);
  writeFileSync(
    cfg,
    [
      'global',
      `  stats socket ipv4@127.0.0.1:${admin} level admin`,
      'defaults',
      '  mode http',
      `  timeout connect ${CONNECT_TIMEOUT}`,
      '  timeout client 5s',
      '  timeout server 5s',
      // the data path is the same whoever decides: a request whose connection failed is retried elsewhere
      '  option redispatch',
      '  retries 2',
      'frontend web',
      `  bind 127.0.0.1:${front}`,
      '  default_backend site',
      'backend site',
      '  option httpchk GET /health',
      `  server east 127.0.0.1:${eastPort} ${check}`,
      `  server west 127.0.0.1:${westPort} ${check} backup`,
      '',
    ].join('\n'),
  );
  const haproxy = spawn(haproxyBinary()!, ['-db', '-f', cfg], { stdio: 'ignore' });
  const socket = `127.0.0.1:${admin}`;
  try {
    for (let i = 0; ; i++) {
      try {
        const stat = await runtimeCommand(socket, 'show stat', { timeoutMs: 500 });
        if (/site,east,.*,UP,/.test(stat) && (await post(`http://127.0.0.1:${front}/orders`)) === 'east')
          break;
      } catch {
        // not up yet
      }
      if (i > 200) throw new Error('haproxy did not start');
      await sleep(50);
    }
    const writes = client(() => `http://127.0.0.1:${front}/orders`);
    await sleep(500);
    const drctl =
      mode === 'drctl'
        ? decider(`http://127.0.0.1:${eastPort}/health`, async () => {
            await haproxyProvider.actions.maint.run({ socket, backend: 'site', server: 'east' }, ctx);
          })
        : undefined;
    await sleep(300);
    const killedAt = performance.now();
    east.kill('SIGKILL');
    const deadline = killedAt + 15_000;
    while (performance.now() < deadline && !writes.results.some((r) => r.at > killedAt && r.site === 'west'))
      await sleep(20);
    await sleep(300);
    await writes.stop();
    await drctl?.stop();
    const measured = rtoAfter(writes.results, killedAt, 'west');
    const detected = drctl?.detectedAt();
    return { ...measured, detectionMs: detected === undefined ? undefined : detected - killedAt };
  } finally {
    haproxy.kill('SIGKILL');
    east.kill('SIGKILL');
    west.kill('SIGKILL');
  }
}

async function dnsRound() {
  const bind = await startTestBind({ records: ['shop 5 IN A 127.0.0.21'], secondary: true });
  const port = await freePort();
  const east = await startSite('east', '127.0.0.21', port);
  const west = await startSite('west', '127.0.0.22', port);
  process.env.BENCH_TSIG_SECRET = bind.key.secret;
  const primary = { host: '127.0.0.1', port: bind.port };
  // a stub resolver with a cache that honours the TTL, as a client's resolver does
  let cached: { address: string; until: number } | undefined;
  const resolveShop = async (): Promise<string> => {
    if (cached === undefined || performance.now() >= cached.until) {
      const answer = await exchange(primary, query('shop.example.test', 'A'), { timeoutMs: 1_000 });
      const record = answer.response.answers?.find((r) => r.type === 'A') as
        { data: string; ttl: number } | undefined;
      if (record !== undefined)
        cached = { address: record.data, until: performance.now() + record.ttl * 1000 };
    }
    return `http://${cached?.address ?? '127.0.0.21'}:${port}/orders`;
  };
  try {
    const writes = client(resolveShop);
    await sleep(700);
    let updateMs: number | undefined;
    let propagationMs: number | undefined;
    const drctl = decider(`http://127.0.0.21:${port}/health`, async () => {
      const started = performance.now();
      const base = { server: bind.primary, zone: bind.zone, name: 'shop', type: 'A', values: ['127.0.0.22'] };
      await dnsProvider.actions.set.run(
        dnsProvider.actions.set.params.parse({
          ...base,
          ttl: 5,
          tsig: { name: bind.key.name, secret_env: 'BENCH_TSIG_SECRET' },
        }),
        ctx,
      );
      updateMs = performance.now() - started;
      const checked = await dnsProvider.checks.check.run(
        dnsProvider.checks.check.params.parse({
          ...base,
          servers: [bind.primary, bind.secondary],
          within: '10s',
          every: '10ms',
        }),
        ctx,
      );
      if (checked.ok) propagationMs = performance.now() - started;
    });
    await sleep(200);
    const killedAt = performance.now();
    east.kill('SIGKILL');
    const deadline = killedAt + 20_000;
    while (performance.now() < deadline && !writes.results.some((r) => r.at > killedAt && r.site === 'west'))
      await sleep(20);
    await writes.stop();
    await drctl.stop();
    const detected = drctl.detectedAt();
    return {
      ...rtoAfter(writes.results, killedAt, 'west'),
      detectionMs: detected === undefined ? undefined : detected - killedAt,
      updateMs,
      propagationMs,
    };
  } finally {
    east.kill('SIGKILL');
    west.kill('SIGKILL');
    await bind.stop();
  }
}

/** Section 4: the shop's failover by DNS on one bed, `BED_DNS` times (the hosts' processes killed between). */
async function bedDnsRounds(dir: string): Promise<void> {
  const ttlSeconds = 5;
  const bed = await NetnsBed.create({ hosts: ['east', 'west', 'ns'] });
  const rounds: DnsFailoverResult[] = [];
  try {
    for (let i = 0; i < BED_DNS; i++) {
      const roundDir = join(dir, `bed-dns-${i}`);
      mkdirSync(roundDir, { mode: 0o755 });
      try {
        rounds.push(await dnsFailover({ bed, dir: roundDir, ttlSeconds }));
      } finally {
        for (const host of ['east', 'west', 'ns']) await bed.kill(host);
        await closeExecutors();
      }
    }
  } finally {
    await bed.close();
  }
  const pick = (key: 'switchMs' | 'rtoMs') => rounds.flatMap((r) => (r[key] === undefined ? [] : [r[key]!]));
  const targets = rounds.map((r) => (r.switchMs ?? 0) + ttlSeconds * 1000 + 500);
  console.log(
    `\nDNS front door on a bed of hosts (hot standby, east killed, failover over SSH, TTL ${ttlSeconds} s)`,
  );
  console.log(`  kill → dns.set and dns.check done  ${range(pick('switchMs'))}`);
  console.log(`  client RTO                        ${range(pick('rtoMs'))}`);
  console.log(
    `  target (switch + TTL + 0.5 s) ${range(targets)}; met ${rounds.filter((r, i) => r.rtoMs !== undefined && r.rtoMs <= targets[i]!).length}/${rounds.length}; runs ${rounds.map((r) => r.status).join(', ')}`,
  );
  console.log(`  acknowledged writes lost ${rounds.map((r) => `${r.lost} of ${r.acknowledged}`).join(', ')}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-front-doors-'));
  // the bed's hosts run PostgreSQL as its own user: it must reach its data directory
  chmodSync(dir, 0o755);
  console.log(
    `bench:front-doors — ${KILLS} kills per mode, ${DRILLS} drills; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  try {
    if (haproxyBinary() === undefined) console.log('haproxy is not installed: HAProxy rounds skipped');
    else {
      const rows: string[] = [];
      for (const mode of Object.keys(CHECKS) as Mode[]) {
        const samples = [];
        for (let i = 0; i < KILLS; i++) samples.push(await haproxyRound(mode, dir));
        const rtos = samples.flatMap((s) => (s.rtoMs === undefined ? [] : [s.rtoMs]));
        const detections = samples.flatMap((s) => (s.detectionMs === undefined ? [] : [s.detectionMs]));
        rows.push(
          `| ${mode.padEnd(16)} | ${range(rtos).padEnd(24)} | ${String(samples.map((s) => s.failed).join(', ')).padEnd(22)} | ${mode === 'drctl' ? range(detections) : '—'} |`,
        );
      }
      console.log(
        `\nHAProxy front door, site killed, timeout connect ${CONNECT_TIMEOUT} (client RTO min / median / max; requests failed per kill; drctl detection)`,
      );
      console.log('| mode             | client RTO               | failed requests        | detection |');
      console.log('| ---------------- | ------------------------ | ---------------------- | --------- |');
      for (const row of rows) console.log(row);
    }
    if (haproxyBinary() !== undefined && pgAvailable() && DRILLS > 0) {
      const plan = await loadPlanForCommand(
        resolve(import.meta.dirname, '../examples/two-site/haproxy.yaml'),
      );
      const drills = [];
      for (let i = 0; i < DRILLS; i++) {
        const stateDir = mkdtempSync(join(tmpdir(), 'drctl-bench-front-doors-drill-'));
        try {
          drills.push((await runDrill({ plan, scenario: 'east-killed', stateDir, remapPorts: true })).report);
        } finally {
          rmSync(stateDir, { recursive: true, force: true });
        }
      }
      console.log('\nHot-standby drill behind HAProxy (examples/two-site/haproxy.yaml, east killed)');
      console.log(
        `  detection ${range(drills.flatMap((r) => (r.measured.detectionMs === undefined ? [] : [r.measured.detectionMs])))}`,
      );
      console.log(
        `  client RTO ${range(drills.flatMap((r) => (r.measured.rtoMs === undefined ? [] : [r.measured.rtoMs])))}`,
      );
      console.log(
        `  acknowledged writes lost ${drills.map((r) => r.measured.lostWrites.count).join(', ')}; passed ${drills.filter((r) => r.passed).length}/${drills.length}`,
      );
    }
    const dns: Awaited<ReturnType<typeof dnsRound>>[] = [];
    for (let i = 0; i < KILLS; i++) dns.push(await dnsRound());
    const pick = (key: 'rtoMs' | 'detectionMs' | 'updateMs' | 'propagationMs') =>
      dns.flatMap((s) => (s[key] === undefined ? [] : [s[key]!]));
    console.log('\nDNS (BIND primary + secondary, TTL 5 s, client resolving through a TTL-honouring cache)');
    console.log(`  detection                    ${range(pick('detectionMs'))}`);
    console.log(`  update (dns.set)             ${range(pick('updateMs'))}`);
    console.log(`  switch → all authoritative   ${range(pick('propagationMs'))}`);
    console.log(`  client RTO                   ${range(pick('rtoMs'))}`);
    const targets = dns.map((s) => (s.detectionMs ?? 0) + (s.updateMs ?? 0) + 5_000 + 500);
    console.log(
      `  target (detection + update + TTL + 0.5 s) ${range(targets)}; met ${dns.filter((s, i) => s.rtoMs !== undefined && s.rtoMs <= targets[i]!).length}/${dns.length}`,
    );
    if (BED_DNS > 0) {
      const reason =
        NetnsBed.unavailable() ?? BedDns.unavailable() ?? (pgAvailable() ? undefined : 'no PostgreSQL');
      if (reason !== undefined) console.log(`\nDNS on a bed of hosts skipped: ${reason}`);
      else await bedDnsRounds(dir);
    }
    console.log(
      `\nload average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
