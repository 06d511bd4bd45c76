/**
 * bench:router — drctl's traffic router side by side with HAProxy (Debian's `haproxy`, installed with
 * apt-get when missing), in one run, on the same upstream and the same load. Every server runs in its own
 * process so the client's event loop shares time with neither.
 *
 * 1. Paced latency: a keep-alive client (16 connections) sends a fixed open-loop rate (default 1,000
 *    requests/s) direct, through drctl and through HAProxy, rounds alternating so drift on a noisy
 *    machine hits all three alike; p50/p99 and the latency each proxy adds, and their ratio.
 * 2. Saturating throughput: autocannon, 16 connections, closed loop; req/s of each path and the ratio.
 * 3. Failover: a primary and a standby upstream behind each router (probes every 100 ms, 3 to fall,
 *    2 to rise; HAProxy with `observe layer4`, `option redispatch` and retries), steady paced load, and
 *    the primary SIGKILLed 5 times per router: kill → first answer from the standby, and failed requests.
 *
 *   npm run bench:router -- [--rate 1000] [--seconds 5] [--rounds 3] [--kills 5] [--haproxy-threads N]
 *                           [--phases paced,throughput,failover]
 *
 * BENCH_PROFILE=dir writes a CPU profile of drctl's router process there.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const role = process.argv[2];
// Probe settings both routers use in the failover phase (HAProxy: inter 100 fall 3 rise 2).
const PROBE = { intervalMs: 100, timeoutMs: 100, failures: 3, successes: 2 };

if (role === 'upstream') {
  const site = process.argv[3] ?? 'east';
  const body = JSON.stringify({ ok: true, site });
  const server = http.createServer((req, res) => {
    req.resume();
    res
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-site': site,
      })
      .end(body);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(process.argv[4] ?? 0), '127.0.0.1', () =>
    process.send?.({ port: (server.address() as AddressInfo).port }),
  );
} else if (role === 'drctl') {
  const { TrafficRouter } = await import('../src/router/index.ts');
  const ports = (process.argv[3] ?? '').split(',');
  const router = await TrafficRouter.create({
    endpoints: ports.map((port, index) => ({
      site: index === 0 ? 'primary' : 'standby',
      url: `http://127.0.0.1:${port}`,
      priority: index + 1,
    })),
    probe: { path: '/health', ...PROBE },
    // HAProxy has no flap damping; five kills in a row must not hold the primary out.
    flap: { limit: 1000 },
  });
  process.send?.({ url: router.url });
  process.on('disconnect', () => void router.close().then(() => process.exit(0)));
} else {
  await main();
}

function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? undefined : Number(process.argv[index + 1]);
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function start<T>(args: string[]): Promise<{ child: ChildProcess; message: T }> {
  const profile =
    process.env.BENCH_PROFILE && args[0] === 'drctl'
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
      : [];
  const child = fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...profile],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, message: message as T }));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess, graceful = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (graceful && child.connected) child.disconnect();
  else child.kill('SIGKILL');
  await exited;
}

/** Debian's haproxy, installed with apt-get when it is missing (the benchmark needs it; CI does not). */
function haproxyBinary(): string {
  const find = (): string | undefined => {
    for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'])
      if (existsSync(candidate)) return candidate;
    return undefined;
  };
  const found = find();
  if (found) return found;
  console.log('haproxy is not installed; installing it with apt-get');
  const root = process.getuid?.() === 0;
  const apt = (args: string[]): void => {
    execFileSync(root ? 'apt-get' : 'sudo', root ? args : ['apt-get', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  apt(['update']);
  apt(['install', '-y', '--no-install-recommends', 'haproxy']);
  const installed = find();
  if (!installed) throw new Error('apt-get install haproxy did not leave a haproxy binary');
  return installed;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * HAProxy tuned as an operator would for fast failover: checks every 100 ms, live traffic errors mark a
 * server down at once (observe layer4, error-limit 1), a failed connection goes to another server
 * (redispatch) and failed idempotent requests are retried.
 */
async function startHaproxy(
  binary: string,
  dir: string,
  name: string,
  ports: number[],
  threads: number | undefined,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const servers = ports.map((upstream, index) =>
    index === 0
      ? `  server primary 127.0.0.1:${upstream} check inter ${PROBE.intervalMs} fall ${PROBE.failures} rise ${PROBE.successes} observe layer4 error-limit 1 on-error mark-down`
      : `  server standby 127.0.0.1:${upstream} check inter ${PROBE.intervalMs} fall ${PROBE.failures} rise ${PROBE.successes} backup`,
  );
  const config = [
    'global',
    '  maxconn 4096',
    ...(threads === undefined ? [] : [`  nbthread ${threads}`]),
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    `  timeout check ${PROBE.timeoutMs}ms`,
    '  option http-keep-alive',
    // drctl adds x-forwarded-for too: same work per request
    '  option forwardfor',
    'frontend front',
    `  bind 127.0.0.1:${port}`,
    '  default_backend sites',
    'backend sites',
    '  option httpchk GET /health',
    '  option redispatch 1',
    '  retries 3',
    '  retry-on conn-failure empty-response',
    ...servers,
    '',
  ].join('\n');
  const file = join(dir, `${name}.cfg`);
  writeFileSync(file, config);
  execFileSync(binary, ['-c', '-q', '-f', file], { stdio: 'inherit' });
  const child = spawn(binary, ['-db', '-q', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      http
        .get(`${url}/ready`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', () => resolve(0));
    });
    if (status === 200) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('haproxy did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, url };
}

/** CPU time (user + system, µs) a process has used so far, from /proc: the same for node and HAProxy. */
function cpuOf(child: ChildProcess): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the stat line, in clock ticks (100 per second on Linux)
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

interface Answer {
  sentAt: number;
  doneAt: number;
  ok: boolean;
  site: string | undefined;
}

/**
 * Open loop: requests leave on schedule whether or not earlier ones have answered, so queueing shows in
 * the tail. Runs until `until()` says stop; `onAnswer` sees every answer as it arrives.
 */
async function paced(
  url: string,
  rate: number,
  agent: http.Agent,
  until: (sent: number) => boolean,
  onAnswer: (answer: Answer) => void,
): Promise<{ seconds: number; sent: number }> {
  let sent = 0;
  let pending = 0;
  let stopped = false;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const settle = (): void => {
      pending -= 1;
      if (stopped && pending === 0) resolve();
    };
    const fire = (): void => {
      const sentAt = performance.now();
      sent += 1;
      pending += 1;
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const site = res.headers['x-site'];
          onAnswer({
            sentAt,
            doneAt: performance.now(),
            ok: res.statusCode === 200,
            site: typeof site === 'string' ? site : undefined,
          });
          settle();
        });
      });
      req.on('error', () => {
        onAnswer({ sentAt, doneAt: performance.now(), ok: false, site: undefined });
        settle();
      });
    };
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      while (sent < due && !until(sent)) fire();
      if (until(sent)) {
        clearInterval(timer);
        stopped = true;
        if (pending === 0) resolve();
      }
    }, 1);
  });
  return { seconds: (performance.now() - started) / 1000, sent };
}

interface Sample {
  latencies: number[];
  errors: number;
}

async function load(url: string, rate: number, seconds: number, agent: http.Agent): Promise<Sample> {
  const sample: Sample = { latencies: [], errors: 0 };
  const total = Math.round(rate * seconds);
  await paced(
    url,
    rate,
    agent,
    (sent) => sent >= total,
    (answer) => {
      sample.latencies.push(answer.doneAt - answer.sentAt);
      if (!answer.ok) sample.errors += 1;
    },
  );
  return sample;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function latencySummary(samples: Sample[]): { p50: number; p99: number; errors: number; n: number } {
  const all = samples.flatMap((sample) => sample.latencies).sort((a, b) => a - b);
  return {
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
    n: all.length,
  };
}

async function throughput(
  url: string,
  seconds: number,
): Promise<{ rps: number; requests: number; failed: number }> {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url, connections: 16, pipelining: 1, duration: seconds });
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    failed: result.errors + result.non2xx,
  };
}

interface KillResult {
  /** Kill → the first answer the standby gave to a request (ms). */
  toStandbyMs: number;
  failed: number;
}

/**
 * Five times: wait until the primary serves, SIGKILL it under paced load, wait for the standby to answer,
 * restart the primary on its port and wait for it to serve again. Failed requests are counted from the
 * kill until the primary serves again.
 */
async function failover(
  kind: 'drctl' | 'haproxy',
  haproxy: string,
  dir: string,
  rate: number,
  kills: number,
  threads: number | undefined,
): Promise<KillResult[]> {
  const standby = await start<{ port: number }>(['upstream', 'standby']);
  let primary = await start<{ port: number }>(['upstream', 'primary']);
  const primaryPort = primary.message.port;
  const ports = [primaryPort, standby.message.port];
  const router =
    kind === 'drctl'
      ? await start<{ url: string }>(['drctl', ports.join(',')]).then(({ child, message }) => ({
          child,
          url: message.url,
        }))
      : await startHaproxy(haproxy, dir, 'failover', ports, threads);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const results: KillResult[] = [];
  let current: KillResult | undefined;
  let killedAt = Infinity;
  let primaryServed = 0;
  let done = false;
  const waiters: (() => void)[] = [];
  const onAnswer = (answer: Answer): void => {
    if (answer.site === 'primary') primaryServed += 1;
    if (current && answer.doneAt > killedAt) {
      if (!answer.ok) current.failed += 1;
      else if (answer.site === 'standby' && Number.isNaN(current.toStandbyMs))
        current.toStandbyMs = answer.doneAt - killedAt;
    }
    for (const wake of waiters.splice(0)) wake();
  };
  const until = async (condition: () => boolean, what: string): Promise<void> => {
    const deadline = performance.now() + 15_000;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`${kind} failover: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  const running = paced(
    `${router.url}/orders`,
    rate,
    agent,
    () => done,
    (answer) => onAnswer(answer),
  );
  try {
    for (let kill = 0; kill < kills; kill += 1) {
      const before = primaryServed;
      await until(() => primaryServed >= before + 200, 'the primary to serve');
      current = { toStandbyMs: NaN, failed: 0 };
      killedAt = performance.now();
      primary.child.kill('SIGKILL');
      const result = current;
      await until(() => !Number.isNaN(result.toStandbyMs), 'the standby to answer');
      await new Promise((resolve) => setTimeout(resolve, 300));
      primary = await start<{ port: number }>(['upstream', 'primary', String(primaryPort)]);
      const back = primaryServed;
      await until(() => primaryServed > back, 'the primary to serve again');
      results.push(result);
      current = undefined;
      killedAt = Infinity;
    }
  } finally {
    done = true;
    await running;
    agent.destroy();
    await stop(router.child, kind === 'drctl');
    await stop(primary.child);
    await stop(standby.child);
  }
  return results;
}

async function main(): Promise<void> {
  const rate = arg('rate', 1000);
  const seconds = arg('seconds', 5);
  const rounds = arg('rounds', 3);
  const kills = arg('kills', 5);
  const threadsArg = arg('haproxy-threads', 0);
  const threads = threadsArg === 0 ? undefined : threadsArg;
  const phasesIndex = process.argv.indexOf('--phases');
  const phases = new Set(
    (phasesIndex === -1 ? 'paced,throughput,failover' : (process.argv[phasesIndex + 1] ?? '')).split(','),
  );
  const haproxyBin = haproxyBinary();
  const haproxyVersion = execFileSync(haproxyBin, ['-v']).toString().split('\n')[0] ?? 'haproxy';
  const dir = mkdtempSync(join(os.tmpdir(), 'drctl-bench-router-'));
  const upstream = await start<{ port: number }>(['upstream', 'east']);
  const drctl = await start<{ url: string }>(['drctl', String(upstream.message.port)]);
  const haproxy = await startHaproxy(haproxyBin, dir, 'latency', [upstream.message.port], threads);
  const paths = {
    direct: { url: `http://127.0.0.1:${upstream.message.port}/orders`, child: upstream.child },
    drctl: { url: `${drctl.message.url}/orders`, child: drctl.child },
    haproxy: { url: `${haproxy.url}/orders`, child: haproxy.child },
  } as const;
  const names = ['direct', 'drctl', 'haproxy'] as const;
  type Name = (typeof names)[number];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const samples: Record<Name, Sample[]> = { direct: [], drctl: [], haproxy: [] };
  const cpu: Record<Name, number> = { direct: 0, drctl: 0, haproxy: 0 };
  const rps: Record<Name, number[]> = { direct: [], drctl: [], haproxy: [] };
  const throughputCpu: Record<Name, number> = { direct: 0, drctl: 0, haproxy: 0 };
  const throughputRequests: Record<Name, number> = { direct: 0, drctl: 0, haproxy: 0 };
  let throughputFailed = 0;
  let failovers: Record<'drctl' | 'haproxy', KillResult[]> = { drctl: [], haproxy: [] };
  const loadDuring: string[] = [];
  const loadavg = (): string =>
    os
      .loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
  try {
    // warm every path (JIT, connection pools) before measuring
    for (const name of names) await load(paths[name].url, rate, 1, agent);
    for (let round = 0; round < (phases.has('paced') ? rounds : 0); round += 1) {
      for (const name of names) {
        const before = cpuOf(paths[name].child);
        samples[name].push(await load(paths[name].url, rate, seconds, agent));
        // a proxy's own CPU: for direct, the upstream's
        cpu[name] += cpuOf(paths[name].child) - before;
      }
    }
    loadDuring.push(loadavg());
    if (phases.has('throughput')) for (const name of names) await throughput(paths[name].url, 1);
    for (let round = 0; round < (phases.has('throughput') ? rounds : 0); round += 1) {
      for (const name of names) {
        const before = cpuOf(paths[name].child);
        const result = await throughput(paths[name].url, seconds);
        throughputCpu[name] += cpuOf(paths[name].child) - before;
        throughputRequests[name] += result.requests;
        rps[name].push(result.rps);
        throughputFailed += result.failed;
      }
    }
    loadDuring.push(loadavg());
  } finally {
    agent.destroy();
    await stop(drctl.child, true);
    await stop(haproxy.child);
    await stop(upstream.child);
  }
  try {
    if (phases.has('failover')) {
      failovers = {
        drctl: await failover('drctl', haproxyBin, dir, rate, kills, threads),
        haproxy: await failover('haproxy', haproxyBin, dir, rate, kills, threads),
      };
      loadDuring.push(loadavg());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const lat = {
    direct: latencySummary(samples.direct),
    drctl: latencySummary(samples.drctl),
    haproxy: latencySummary(samples.haproxy),
  };
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : (sorted[Math.floor(sorted.length / 2)] as number);
  };
  const added = (name: 'drctl' | 'haproxy', p: 'p50' | 'p99'): number => lat[name][p] - lat.direct[p];
  const through = { direct: median(rps.direct), drctl: median(rps.drctl), haproxy: median(rps.haproxy) };
  const ms = (value: number): string => (Number.isNaN(value) ? '—' : value.toFixed(3));
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');
  const kill = (
    name: 'drctl' | 'haproxy',
  ): { median: number; max: number; failed: number; worst: number } => ({
    median: median(failovers[name].map((r) => r.toStandbyMs)),
    max: Math.max(...failovers[name].map((r) => r.toStandbyMs)),
    failed: failovers[name].reduce((sum, r) => sum + r.failed, 0),
    worst: Math.max(...failovers[name].map((r) => r.failed)),
  });
  const k = { drctl: kill('drctl'), haproxy: kill('haproxy') };
  const p50Ratio = added('drctl', 'p50') / added('haproxy', 'p50');
  const rpsRatio = through.drctl / through.haproxy;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';

  console.log(
    `router bench: paced ${rate} req/s open loop (16 keep-alive connections), ${rounds} rounds × ${seconds} s per path; ` +
      `throughput: autocannon 16 connections closed loop, ${rounds} × ${seconds} s per path (median); ` +
      `failover: ${kills} SIGKILLs of the primary per router at ${rate} req/s`,
  );
  console.log(
    `machine: ${os.cpus().length} cores (${cpuModel}), Node ${process.version}, ${haproxyVersion}` +
      `${threads === undefined ? '' : `, nbthread ${threads}`}; load average after each phase: ${loadDuring.join(' / ')}`,
  );
  console.log('');
  console.log('| measure | direct | drctl | HAProxy | drctl / HAProxy | target |');
  console.log('| --- | ---: | ---: | ---: | ---: | --- |');
  console.log(
    `| paced p50 / p99 ms | ${ms(lat.direct.p50)} / ${ms(lat.direct.p99)} | ${ms(lat.drctl.p50)} / ${ms(lat.drctl.p99)} | ${ms(lat.haproxy.p50)} / ${ms(lat.haproxy.p99)} | | |`,
  );
  console.log(
    // a proxy that "adds" nothing or less than nothing means the direct path itself was queueing (an
    // overloaded machine): no ratio can be read from that round
    `| added p50 ms | | ${ms(added('drctl', 'p50'))} | ${ms(added('haproxy', 'p50'))} | ${p50Ratio.toFixed(2)}× | ≤ 1.5×: ${added('haproxy', 'p50') > 0 ? verdict(p50Ratio <= 1.5) : 'not measurable (direct was slower than HAProxy)'} |`,
  );
  console.log(
    `| added p99 ms | | ${ms(added('drctl', 'p99'))} | ${ms(added('haproxy', 'p99'))} | ${ratio(added('drctl', 'p99'), added('haproxy', 'p99'))} | |`,
  );
  console.log(`| paced errors | ${lat.direct.errors} | ${lat.drctl.errors} | ${lat.haproxy.errors} | | |`);
  console.log(
    `| CPU per request µs (direct: the upstream's) | ${(cpu.direct / lat.direct.n).toFixed(0)} | ${(cpu.drctl / lat.drctl.n).toFixed(0)} | ${(cpu.haproxy / lat.haproxy.n).toFixed(0)} | ${ratio(cpu.drctl / lat.drctl.n, cpu.haproxy / lat.haproxy.n)} | |`,
  );
  console.log(
    `| throughput req/s (share of direct) | ${through.direct.toFixed(0)} | ${through.drctl.toFixed(0)} (${ratio(through.drctl, through.direct)}) | ${through.haproxy.toFixed(0)} (${ratio(through.haproxy, through.direct)}) | ${rpsRatio.toFixed(2)}× | ≥ 0.8×: ${verdict(rpsRatio >= 0.8)} |`,
  );
  console.log(
    `| kill → standby answers, median / max ms | | ${ms(k.drctl.median)} / ${ms(k.drctl.max)} | ${ms(k.haproxy.median)} / ${ms(k.haproxy.max)} | | ≤ 50 ms: ${verdict(k.drctl.max <= 50)} |`,
  );
  console.log(
    `| failed requests over ${kills} kills (worst kill) | | ${k.drctl.failed} (${k.drctl.worst}) | ${k.haproxy.failed} (${k.haproxy.worst}) | | ≤ 1 per kill: ${verdict(k.drctl.worst <= 1)} |`,
  );
  const perRequest = (name: Name): number => throughputCpu[name] / throughputRequests[name];
  console.log(
    `| CPU per request at saturation µs | ${perRequest('direct').toFixed(0)} | ${perRequest('drctl').toFixed(0)} | ${perRequest('haproxy').toFixed(0)} | ${ratio(perRequest('drctl'), perRequest('haproxy'))} | |`,
  );
  if (throughputFailed > 0) console.log(`\nthroughput phase: ${throughputFailed} failed requests`);
  console.log('');
  console.log(
    `per kill, drctl: ${failovers.drctl.map((r) => `${ms(r.toStandbyMs)} ms/${r.failed}`).join(', ')}; ` +
      `HAProxy: ${failovers.haproxy.map((r) => `${ms(r.toStandbyMs)} ms/${r.failed}`).join(', ')}`,
  );
}
