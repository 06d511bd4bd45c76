/**
 * `npm run bench:restic-hosts`: what running restic on a host over SSH adds over running it here, on the
 * same data in one run. One namespace-bed host; two components whose placements hold the same directory,
 * one without a host (restic on this machine) and one on the host (restic through the execution layer over
 * its SSH connection), each with its own repository. Per round and side: restic.backup into a new
 * repository (init + full), an incremental backup with nothing changed, restic.restore into a new
 * directory, and restic.snapshots; the sides alternate which goes first. Prints the medians.
 *
 *   npm run bench:restic-hosts -- [--mb 50] [--rounds 3]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { closeExecutors } from '../src/exec/index.ts';
import { loadPlan } from '../src/plan/index.ts';
import type { Plan } from '../src/plan/model.ts';
import type { ActionContext } from '../src/providers/provider.ts';
import { resticProvider } from '../src/providers/restic/index.ts';
import { NetnsBed } from '../src/testbed/netns-bed.ts';
import { table } from './table.ts';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' } },
});
const MB = Number(values.mb);
const ROUNDS = Number(values.rounds);
const PHASES = ['backup, new repository', 'backup, nothing changed', 'restore', 'snapshots'] as const;
type Side = 'local' | 'ssh';

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

/** A tree of incompressible files, 4 MiB and smaller, `mb` MiB in all. */
function makeTree(dir: string, mb: number): number {
  let left = mb * 1024 * 1024;
  let files = 0;
  while (left > 0) {
    const sub = join(dir, `d${files % 8}`);
    mkdirSync(sub, { recursive: true });
    const size = Math.min(left, 1 + ((files * 7919) % (4 * 1024 * 1024)));
    writeFileSync(join(sub, `f${files}.bin`), randomBytes(size));
    left -= size;
    files += 1;
  }
  return files;
}

async function main(): Promise<void> {
  const unavailable = NetnsBed.unavailable();
  if (unavailable !== undefined) throw new Error(`no namespace bed here: ${unavailable}`);
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bench-restic-hosts-'));
  const bed = await NetnsBed.create({ hosts: ['east'] });
  process.env.DRCTL_BENCH_RESTIC_PASSWORD = randomBytes(12).toString('hex');
  try {
    const files = makeTree(join(dir, 'data'), MB);
    const host = `{ address: ${bed.host('east').address}, user: root, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}, state_dir: ${dir}/on-east }`;
    const component = (id: string, placement: string): string => `
      - id: ${id}
        kind: files
        placement: { east: { ${placement}path: ${dir}/data } }
        backups:
          - { engine: restic, every: 1d, to: vault, repository: ${dir}/repo-${id}, password_env: DRCTL_BENCH_RESTIC_PASSWORD }`;
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: restic-hosts-bench
sites:
  east: { role: primary, hosts: { files-east: ${host} } }
  vault: { role: backup }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: archive
    tier: 3
    strategy: backup-restore
    owner: erin
    rto: 1h
    rpo: 1d
    components:${component('local', '')}${component('ssh', 'host: files-east, ')}
`,
    );
    const plan: Plan = await loadPlan(join(dir, 'plan.yaml'));
    const ctx: ActionContext = {
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
      plan,
      stateDir: join(dir, 'state'),
      evidence: () => undefined,
    };
    const actions = resticProvider.actions;
    const samples = new Map<string, number[]>();
    const time = async (side: Side, phase: string, run: () => Promise<unknown>): Promise<void> => {
      const started = performance.now();
      await run();
      const key = `${phase}\0${side}`;
      samples.set(key, [...(samples.get(key) ?? []), (performance.now() - started) / 1000]);
    };
    const round = async (side: Side, n: number): Promise<void> => {
      rmSync(join(dir, `repo-${side}`), { recursive: true, force: true });
      await time(side, PHASES[0], () => actions.backup.run({ component: side }, ctx));
      await time(side, PHASES[1], () => actions.backup.run({ component: side }, ctx));
      await time(side, PHASES[2], () =>
        actions.restore.run({ component: side, target: join(dir, `restored-${side}-${n}`) }, ctx),
      );
      await time(side, PHASES[3], () => actions.snapshots.run({ component: side }, ctx));
      rmSync(join(dir, `restored-${side}-${n}`), { recursive: true, force: true });
    };
    // the connection is opened once, as in a run; a first call on each side warms the caches
    await actions.snapshots.run({ component: 'ssh' }, ctx).catch(() => undefined);
    const loadBefore = loadavg()[0]!;
    for (let n = 0; n < ROUNDS; n++)
      for (const side of n % 2 === 0 ? (['local', 'ssh'] as const) : (['ssh', 'local'] as const))
        await round(side, n);
    const loadAfter = loadavg()[0]!;
    process.stdout.write(
      `restic on a host over SSH vs on this machine: ${MB} MiB in ${files} files, ${ROUNDS} rounds, medians; load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}\n\n`,
    );
    table(
      ['phase', 'local (s)', 'over SSH (s)', 'added (s)', 'added'],
      PHASES.map((phase) => {
        const local = median(samples.get(`${phase}\0local`) ?? []);
        const ssh = median(samples.get(`${phase}\0ssh`) ?? []);
        return [
          phase,
          local.toFixed(2),
          ssh.toFixed(2),
          (ssh - local).toFixed(2),
          `${(((ssh - local) / local) * 100).toFixed(1)} %`,
        ];
      }),
    );
  } finally {
    delete process.env.DRCTL_BENCH_RESTIC_PASSWORD;
    await closeExecutors();
    await bed.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
