/**
 * The local process supervisor's own cost: how long `start` (spawn, pid file, one readiness probe that
 * answers at once) and `stop` (SIGTERM to the group, wait until it is gone) take per instance, for a few
 * hundred starts in one run. The command is `sleep`, which dies on SIGTERM at once, and the readiness probe
 * is a listener this process keeps open, so what is timed is the supervisor, not a service's start-up.
 *
 *   npm run bench:supervisor [-- --starts 300] [-- --batch 25]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../src/supervise/index.ts';
import { table } from './table.ts';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const STARTS = arg('starts', 300);
const BATCH = arg('batch', 25);

const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-supervisor-'));
const listener = net.createServer((socket) => socket.destroy());
await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
const address = listener.address();
const readyPort = typeof address === 'object' && address !== null ? address.port : 0;
const supervisor = Supervisor.create({ stateDir: dir });
const spec = (name: string) => ({
  name,
  command: 'exec sleep 600',
  ready: { tcp: `127.0.0.1:${readyPort}` },
  graceMs: 2_000,
});

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const row = (what: string, values: number[]): string[] => [
  what,
  String(values.length),
  quantile(values, 0.5).toFixed(1),
  quantile(values, 0.95).toFixed(1),
  (values.reduce((a, b) => a + b, 0) / 1000).toFixed(2),
];

try {
  const load = loadavg()[0]!.toFixed(1);
  const starts: number[] = [];
  const stops: number[] = [];
  // one instance at a time: the cost of one start and one stop
  for (let i = 0; i < STARTS; i++) {
    const name = `one-${i}`;
    let t = performance.now();
    await supervisor.start(spec(name));
    starts.push(performance.now() - t);
    t = performance.now();
    await supervisor.stop(name);
    stops.push(performance.now() - t);
  }
  // many at once: scale one group up and down in batches
  const scaled: number[] = [];
  const stopped: number[] = [];
  for (let done = 0; done < STARTS; done += BATCH) {
    const name = `batch-${done}`;
    let t = performance.now();
    await supervisor.start(spec(name), { instances: BATCH });
    scaled.push((performance.now() - t) / BATCH);
    t = performance.now();
    await supervisor.stop(name);
    stopped.push((performance.now() - t) / BATCH);
  }
  process.stdout.write(`load average ${load} → ${loadavg()[0]!.toFixed(1)}\n\n`);
  table(
    ['per instance', 'n', 'median ms', 'p95 ms', 'total s'],
    [
      row('start, one at a time', starts),
      row('stop, one at a time', stops),
      row(`start, ${BATCH} at once (per instance)`, scaled),
      row(`stop, ${BATCH} at once (per instance)`, stopped),
    ],
  );
} finally {
  await supervisor.close({ graceMs: 0 });
  listener.close();
  rmSync(dir, { recursive: true, force: true });
}
