/**
 * restic on the hosts that hold the data, over SSH (network namespaces running sshd): a backup runs on the
 * placement's host, a restore lands on another host's placement byte for byte, the repository's check and
 * snapshots run there too, `drctl hosts check` lists restic and the repository's disk, and a host without
 * restic is named. Skipped with a message where no bed can be made.
 */
import {
  existsSync,
  mkdirSync,
  rmSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.ts';
import { DrctlError } from '../../errors.ts';
import { closeExecutors } from '../../exec/index.ts';
import { checkHosts } from '../../hosts/check.ts';
import { loadPlan } from '../../plan/index.ts';
import type { Plan } from '../../plan/model.ts';
import { NetnsBed } from '../../testbed/netns-bed.ts';
import { resticProvider } from './index.ts';
import { engineContext, hasBinary } from './testing.ts';

const unavailable = NetnsBed.unavailable() ?? (hasBinary('restic') ? undefined : 'restic is not installed');
if (unavailable !== undefined) console.warn(`restic on hosts skipped: ${unavailable}`);

const PASSWORD = 'restic on hosts: correct horse';
const actions = resticProvider.actions;

function readTree(root: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true }))
    if (entry.isFile())
      out[join(entry.parentPath, entry.name).slice(root.length + 1)] = readFileSync(
        join(entry.parentPath, entry.name),
      );
  return out;
}

describe.skipIf(unavailable !== undefined)('restic on hosts over SSH', () => {
  let bed: NetnsBed;
  let dir: string;
  let plan: Plan;
  const ctx = () => engineContext(plan, join(dir, 'state'));

  beforeAll(async () => {
    process.env.DRCTL_TEST_RESTIC_HOST_PASSWORD = PASSWORD;
    dir = tempDir('drctl-restic-host-');
    // the host `bare` has every program of /usr/bin on its PATH but restic
    const bin = join(dir, 'bare-bin');
    mkdirSync(bin);
    for (const name of readdirSync('/usr/bin'))
      if (name !== 'restic') symlinkSync(join('/usr/bin', name), join(bin, name));
    bed = await NetnsBed.create({
      hosts: ['east', 'west', 'bare'],
      environment: { bare: { PATH: `${bin}:/usr/sbin` } },
    });
    const host = (name: string) =>
      `{ address: ${bed.host(name).address}, user: root, identity_file: ${bed.identityFile}, known_hosts: ${bed.knownHostsFile}, state_dir: ${dir}/on-${name} }`;
    const data = join(dir, 'east-data');
    mkdirSync(join(data, 'scans'), { recursive: true });
    writeFileSync(join(data, 'contract.txt'), 'signed 2026-01-05\n');
    // bytes that are not text, and enough of them to be chunked
    writeFileSync(
      join(data, 'scans', 'page-1.bin'),
      Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256)),
    );
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
name: restic-on-hosts
sites:
  east: { role: primary, hosts: { files-east: ${host('east')} } }
  west: { role: secondary, hosts: { files-west: ${host('west')}, bare-west: ${host('bare')} } }
  vault: { role: backup }
contacts: [{ id: erin, name: Erin, role: admin, email: erin@example.com }]
workloads:
  - id: archive
    tier: 3
    strategy: backup-restore
    owner: erin
    rto: 1h
    rpo: 1d
    components:
      - id: docs
        kind: files
        placement:
          east: { host: files-east, path: ${data} }
          west: { host: files-west, path: ${dir}/west-data }
        backups:
          - { engine: restic, every: 1d, to: vault, repository: ${dir}/repo, password_env: DRCTL_TEST_RESTIC_HOST_PASSWORD }
    runbooks:
      restore:
        steps:
          - { id: list, action: restic.snapshots, with: { component: docs, host: bare-west }, expected: 1m }
`,
    );
    plan = await loadPlan(join(dir, 'plan.yaml'));
  });
  afterAll(async () => {
    delete process.env.DRCTL_TEST_RESTIC_HOST_PASSWORD;
    await closeExecutors();
    await bed?.close();
    // made in beforeAll, where tempDir cannot register its own clean-up
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up on the data host and restores onto another host byte for byte', async () => {
    const context = ctx();
    const backup = await actions.backup.run({ component: 'docs' }, context);
    expect(backup.output).toMatchObject({ createdRepository: true, total_files_processed: 2 });
    // restic ran on the hosts: its cache is in their state directories, none here
    expect(existsSync(join(dir, 'on-east', 'restic-cache'))).toBe(true);
    expect(existsSync(join(dir, 'state', 'restic-cache'))).toBe(false);

    const restored = await actions.restore.run({ component: 'docs', site: 'west' }, context);
    expect(restored.output).toMatchObject({
      files: 2,
      verified: true,
      manifest: { files: 2, mismatched: [] },
    });
    expect(readTree(join(dir, 'west-data'))).toEqual(readTree(join(dir, 'east-data')));
    expect(existsSync(join(dir, 'on-west', 'restic-cache'))).toBe(true);

    const checked = await actions.check.run({ component: 'docs' }, context);
    expect(checked.output).toMatchObject({ ok: true });
    // the password went to the hosts in the commands' environment, never into evidence
    expect(JSON.stringify(context.recorded)).not.toContain(PASSWORD);
  });

  it('names restic as missing on a host without it, in the action, its preflight and hosts check', async () => {
    const error = await actions.snapshots.run({ component: 'docs', host: 'bare-west' }, ctx()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrctlError);
    expect(error).toMatchObject({ code: 'DRCTL_HOST_COMMAND_MISSING', details: { command: 'restic' } });
    expect((error as Error).message).toMatch(/^restic is not installed on host bare-west/);

    const [installed] = resticProvider.preflight.snapshots;
    const found = await installed!.run({ component: 'docs', host: 'bare-west' }, ctx());
    expect(found).toMatchObject({ ok: false });

    const report = await checkHosts(plan);
    const byName = new Map(report.hosts.map((h) => [h.host, h]));
    expect(byName.get('files-east')?.tools).toEqual([
      expect.objectContaining({
        name: 'restic',
        present: true,
        version: expect.stringMatching(/^restic \d+\.\d+/),
      }),
    ]);
    expect(byName.get('files-east')?.disk.map((d) => d.path)).toContain(join(dir, 'repo'));
    expect(byName.get('bare-west')).toMatchObject({ ok: false, tools: [{ name: 'restic', present: false }] });
    expect(report.ok).toBe(false);
  });
});
