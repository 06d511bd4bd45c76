/** `drctl hosts check` against real hosts: network namespaces running sshd (skipped where none can be made). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeExecutors } from '../../src/exec/index.ts';
import type { HostsReport } from '../../src/hosts/check.ts';
import { findPgBinaries, pgAvailable } from '../../src/pg/index.ts';
import { NetnsBed } from '../../src/testbed/netns-bed.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const unavailable = NetnsBed.unavailable() ?? (pgAvailable() ? undefined : 'PostgreSQL is not installed');
if (unavailable !== undefined) console.warn(`drctl hosts check tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('drctl hosts check', () => {
  let bed: NetnsBed;
  beforeAll(async () => {
    bed = await NetnsBed.create({ hosts: ['east', 'west'] });
  });
  afterAll(async () => {
    await closeExecutors();
    await bed?.close();
  });

  it('reports every host at once, each tool its steps run with its version, and fails on any bad host', async () => {
    const dir = tempDir();
    const impostorKnownHosts = join(dir, 'known_hosts');
    // west's address with east's key: what a reinstalled or impersonated host looks like
    writeFileSync(impostorKnownHosts, `${bed.host('west').address} ${bed.host('east').hostKey}\n`);
    const access = `user: root, identity_file: ${bed.identityFile}`;
    const pgCtl = join(findPgBinaries().dir, 'pg_ctl');
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
sites:
  east:
    role: primary
    hosts:
      app-east: { address: ${bed.host('east').address}, ${access}, known_hosts: ${bed.knownHostsFile} }
      ghost: { address: ${bed.gateway.replace(/\.1$/, '.250')}, ${access}, known_hosts: ${bed.knownHostsFile}, connect_timeout: 1s }
  west:
    role: secondary
    hosts:
      impostor: { address: ${bed.host('west').address}, ${access}, known_hosts: ${impostorKnownHosts} }
contacts:
  - { id: alice, name: Alice Ng, backup: bob }
  - { id: bob, name: Bob Park, backup: alice }
workloads:
  - id: shop
    tier: 2
    strategy: warm-standby
    owner: alice
    components:
      - id: db
        kind: postgres
        placement: { east: { host: app-east, url: "postgres://x/shop", data_dir: ${dir}/pg/east } }
    runbooks:
      failover:
        steps:
          - { id: a, action: shell.run, with: { host: app-east, command: "${pgCtl} status; restic version; /opt/drctl-absent/bin/pg_dump" }, expected: 1m }
          - { id: b, action: shell.run, with: { host: ghost, command: "true" }, expected: 1m }
          - { id: c, action: shell.run, with: { host: impostor, command: "true" }, expected: 1m }
`,
    );
    const started = Date.now();
    const result = await runCli('hosts', 'check', join(dir, 'plan.yaml'), '--json');
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as HostsReport;
    const byName = new Map(report.hosts.map((h) => [h.host, h]));
    expect(byName.get('app-east')).toMatchObject({
      reachable: true,
      authenticated: true,
      hostKeyKnown: true,
      ok: false,
      disk: [{ path: `${dir}/pg/east`, checked: dir }],
    });
    const tools = byName.get('app-east')!.tools;
    expect(tools.find((t) => t.name === pgCtl)).toMatchObject({
      present: true,
      version: expect.stringMatching(/^pg_ctl \(PostgreSQL\) \d+/),
    });
    expect(tools.find((t) => t.name === 'restic')).toMatchObject({
      present: true,
      version: expect.stringMatching(/^restic \d/),
    });
    expect(tools.find((t) => t.name === '/opt/drctl-absent/bin/pg_dump')).toMatchObject({ present: false });
    expect(byName.get('app-east')!.disk[0]!.freeBytes).toBeGreaterThan(0);
    expect(byName.get('ghost')).toMatchObject({
      reachable: false,
      ok: false,
      error: { code: 'DRCTL_HOST_UNREACHABLE' },
    });
    expect(byName.get('impostor')).toMatchObject({
      reachable: true,
      hostKeyKnown: false,
      ok: false,
      error: { code: 'DRCTL_HOST_KEY_MISMATCH' },
    });

    const text = await runCli('hosts', 'check', join(dir, 'plan.yaml'));
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`FAIL ghost (east, ${bed.gateway.replace(/\.1$/, '.250')})`);
    expect(text.stdout).toContain('/opt/drctl-absent/bin/pg_dump: MISSING');
  });
});
