/**
 * A plan naming the hosts of a backup: the repository's host (`backups[].host`) and the action's
 * `host`/`repository_host` are host references, checked at their line and column.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTarget } from '../../backup/resolve.ts';
import { PlanInvalidError } from '../../errors.ts';
import { loadPlan } from '../../plan/index.ts';
import { writeFiles } from '../../../test/support/tmp.ts';

const PLAN = `version: 1
sites:
  east:
    role: primary
    hosts: { app-east: { address: 198.18.0.2 } }
  west:
    role: secondary
    hosts: { backup-west: { address: 198.18.1.2 } }
contacts: [{ id: alice, name: Alice }]
workloads:
  - id: shop
    tier: 2
    strategy: backup-restore
    owner: alice
    components:
      - id: docs
        kind: files
        placement: { east: { host: app-east, path: /srv/docs } }
        backups: [{ every: 1h, to: west, host: backup-west, path: /srv/drctl-repo }]
    runbooks:
      restore:
        steps:
          - { id: back-up, action: files.backup, with: { component: docs, repository_host: backup-west }, expected: 10m }
`;

describe('backups between hosts in a plan', () => {
  it('puts the repository on the policy host and reads the data on the placement host, paths as written', async () => {
    const plan = await loadPlan(join(writeFiles({ 'plan.yaml': PLAN }), 'plan.yaml'));
    const target = resolveTarget(plan, { component: 'docs' });
    expect(target.repository.root).toBe('/srv/drctl-repo/docs');
    expect(target.repository.where).toBe('/srv/drctl-repo/docs on host backup-west (198.18.1.2)');
    expect(target.data.host?.name).toBe('app-east');
  });

  it('names an unknown repository host at its line and column, in the policy and in a step', async () => {
    const bad = PLAN.replace('host: backup-west, path', 'host: backup-wst, path').replace(
      'repository_host: backup-west',
      'repository_host: nowhere',
    );
    const error = await loadPlan(join(writeFiles({ 'plan.yaml': bad }), 'plan.yaml')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect(
      (error as PlanInvalidError).problems.map(
        (p) => `${p.location.line}:${p.location.column} ${p.code} ${p.message}`,
      ),
    ).toMatchInlineSnapshot(`
      [
        "19:48 DRCTL_PLAN_UNKNOWN_REF backup of component docs names host "backup-wst", which is not defined; did you mean "backup-west"?",
        "23:13 DRCTL_PLAN_UNKNOWN_REF step back-up names host "nowhere", which is not defined",
      ]
    `);
  });
});
