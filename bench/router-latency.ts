/**
 * Latency the traffic router adds: p50/p90/p99 through the router and straight to the same upstream, at a
 * fixed open-loop rate (default 1,000 requests/s) from a keep-alive client. The upstream and the router
 * each run in their own process so the client's event loop does not share time with either; rounds
 * alternate between direct and routed so drift on a noisy machine hits both alike.
 *
 *   npm run bench:router -- [--rate 1000] [--seconds 5] [--rounds 3]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const role = process.argv[2];

if (role === 'upstream') {
  const body = JSON.stringify({ ok: true, site: 'east' });
  const server = http.createServer((req, res) => {
    req.resume();
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      .end(body);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => process.send?.({ cpu: process.cpuUsage() }));
} else if (role === 'router') {
  const { TrafficRouter } = await import('../src/router/index.ts');
  const router = await TrafficRouter.create({
    endpoints: [{ site: 'east', url: `http://127.0.0.1:${process.argv[3]}`, priority: 1 }],
    probe: { path: '/health' },
  });
  process.send?.({ url: router.url });
  process.on('message', () => process.send?.({ cpu: process.cpuUsage() }));
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
  // BENCH_PROFILE=dir writes a CPU profile of the router process there, to see where its time goes.
  const profile =
    process.env.BENCH_PROFILE && args[0] === 'router'
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

interface Sample {
  latencies: number[];
  errors: number;
  sent: number;
  seconds: number;
}

/** Open loop: requests are sent on schedule whether or not earlier ones have answered. */
async function load(url: string, rate: number, seconds: number, agent: http.Agent): Promise<Sample> {
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  let pending = 0;
  const total = Math.round(rate * seconds);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const fire = (): void => {
      const begin = performance.now();
      sent += 1;
      pending += 1;
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - begin);
          if (res.statusCode !== 200) errors += 1;
          pending -= 1;
          if (sent === total && pending === 0) resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        pending -= 1;
        if (sent === total && pending === 0) resolve();
      });
    };
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) fire();
      if (sent >= total) clearInterval(timer);
    }, 1);
  });
  return { latencies, errors, sent, seconds: (performance.now() - started) / 1000 };
}

/** CPU time (user + system, µs) a child has used so far; load-independent, unlike latency. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (message) => {
      const { cpu } = message as { cpu: NodeJS.CpuUsage };
      resolve(cpu.user + cpu.system);
    });
    child.send('cpu');
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(samples: Sample[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  rps: number;
  errors: number;
  n: number;
} {
  const all = samples.flatMap((sample) => sample.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, sample) => sum + sample.seconds, 0);
  return {
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.at(-1) ?? NaN,
    rps: samples.reduce((sum, sample) => sum + sample.sent, 0) / seconds,
    errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
    n: all.length,
  };
}

async function main(): Promise<void> {
  const rate = arg('rate', 1000);
  const seconds = arg('seconds', 5);
  const rounds = arg('rounds', 3);
  const upstream = await start<{ port: number }>(['upstream']);
  const router = await start<{ url: string }>(['router', String(upstream.message.port)]);
  const direct = `http://127.0.0.1:${upstream.message.port}/orders`;
  const routed = `${router.message.url}/orders`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    // warm both paths (JIT, connection pools) before measuring
    await load(direct, rate, 1, agent);
    await load(routed, rate, 1, agent);
    const directSamples: Sample[] = [];
    const routedSamples: Sample[] = [];
    let routerCpu = 0;
    let upstreamCpu = 0;
    for (let round = 0; round < rounds; round += 1) {
      const upstreamBefore = await cpuOf(upstream.child);
      directSamples.push(await load(direct, rate, seconds, agent));
      upstreamCpu += (await cpuOf(upstream.child)) - upstreamBefore;
      const routerBefore = await cpuOf(router.child);
      routedSamples.push(await load(routed, rate, seconds, agent));
      routerCpu += (await cpuOf(router.child)) - routerBefore;
    }
    const d = summary(directSamples);
    const r = summary(routedSamples);
    const ms = (value: number): string => value.toFixed(3).padStart(8);
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(
      `router latency: ${rate} req/s open loop, keep-alive client, ${rounds} rounds × ${seconds} s per path`,
    );
    console.log(
      `machine: ${os.cpus().length} cores (${cpu}), Node ${process.version}, ${os.platform()} ${os.release()}`,
    );
    console.log('');
    console.log('| path | requests | req/s | errors | p50 ms | p90 ms | p99 ms | max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(
      `| direct | ${d.n} | ${d.rps.toFixed(0)} | ${d.errors} | ${ms(d.p50)} | ${ms(d.p90)} | ${ms(d.p99)} | ${ms(d.max)} |`,
    );
    console.log(
      `| through router | ${r.n} | ${r.rps.toFixed(0)} | ${r.errors} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} |`,
    );
    console.log(
      `| added by router | | | | ${ms(r.p50 - d.p50)} | ${ms(r.p90 - d.p90)} | ${ms(r.p99 - d.p99)} | |`,
    );
    console.log('');
    console.log(
      `CPU per request: router ${(routerCpu / r.n).toFixed(1)} µs, upstream ${(upstreamCpu / d.n).toFixed(1)} µs (the router's share of a core at ${rate} req/s: ${(((routerCpu / r.n) * rate) / 1e4).toFixed(1)} %)`,
    );
    console.log(
      `load average during the run: ${os
        .loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}`,
    );
    console.log('');
    console.log(`target: under 1 ms added at p50 — ${r.p50 - d.p50 < 1 ? 'met' : 'NOT met'}`);
  } finally {
    agent.destroy();
    router.child.disconnect();
    upstream.child.kill();
    await new Promise((resolve) => router.child.once('exit', resolve));
  }
}
