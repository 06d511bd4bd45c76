/**
 * `drctl serve` runs the plan's schedules: a restore verification on its cron restores the newest restic
 * snapshot into a scratch directory, proves it, and readiness served by the API says "verified good".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resticProvider } from '../../src/providers/restic/index.ts';
import { engineContext, hasBinary, resticPlan } from '../../src/providers/restic/testing.ts';
import { createServer, createToken } from '../../src/server/index.ts';
import type { DrctlServer } from '../../src/server/index.ts';
import { VERIFICATIONS_COLLECTION } from '../../src/verify/index.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

describe.skipIf(!hasBinary('restic'))('schedules in drctl serve', () => {
  let server: DrctlServer | undefined;
  beforeAll(() => {
    process.env.DRCTL_TEST_RESTIC_PASSWORD = 'scheduled';
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1_000 });
    delete process.env.DRCTL_TEST_RESTIC_PASSWORD;
  });

  it('runs a restore verification on its cron and readiness shows the backup verified good', async () => {
    const dir = tempDir('drctl-serve-schedules-');
    const { plan, file } = await resticPlan(dir, {
      workloadExtra: `    verifications:
      - { id: restore-test, component: docs, prove: { files: [contracts/index.txt] }, verify_every: 1d }
    schedules:
      - { id: verify-often, cron: "* * * * * *", timezone: UTC, verify: restore-test }
`,
    });
    mkdirSync(join(dir, 'data', 'contracts'), { recursive: true });
    writeFileSync(join(dir, 'data', 'contracts', 'index.txt'), 'contract 42');
    const stateDir = join(dir, 'state');
    await resticProvider.actions.backup.run({ component: 'docs' }, engineContext(plan, stateDir));

    server = await createServer({
      plans: [file],
      state: stateDir,
      pollMs: 50,
      logger: pino({ level: 'silent' }),
    });
    await server.start();
    const store = server.ctx.store;
    const [verified] = await eventually(async () => {
      const docs = await store.listDocuments(VERIFICATIONS_COLLECTION);
      return docs.length > 0 ? docs : undefined;
    }, 20_000);
    expect(verified!.data).toMatchObject({ passed: true, verification: 'restore-test' });

    const { token } = await createToken(store, { name: 'olga', role: 'operator', createdBy: 'test' });
    const response = await server.app.request('/api/v1/readiness/check', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const readiness = (await response.json()) as {
      workloads: Array<{ id: string; facts: Array<{ name: string; ok: boolean; message: string }> }>;
    };
    const fact = readiness.workloads[0]?.facts.find((f) => f.name === 'verified-good');
    expect(fact).toMatchObject({ ok: true });
    expect(fact?.message).toMatch(/^verification restore-test: last verified good [\d.]+(ms|s) ago/);
  }, 60_000);
});
