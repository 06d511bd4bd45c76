/**
 * Secrets a plan names rather than holds: the values of its `*_env` variables (a webhook URL with its
 * token, the SMTP password, the backup repository's password) and of every `${NAME}` it has drctl expand
 * (an http.request header). A run whose steps print them leaves none of them in its answer, the journal,
 * the log, status, the audit export or the post-incident review.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { filesUnder, tempDir, writeFiles } from '../support/tmp.ts';

const SECRETS = {
  DRCTL_TEST_HOOK_URL: 'http://127.0.0.1:9/hooks/T0-hook-token-7c1d',
  DRCTL_TEST_SMTP_PASSWORD: 'smtp-pass-4e2a9b',
  DRCTL_TEST_RESTIC_PASSWORD: 'restic-pass-81f0c3',
  DRCTL_TEST_ROUTER_TOKEN: 'router-token-5d6e7f',
};

let url = '';
const received: string[] = [];
const server = createServer((req, res) => {
  received.push(req.headers.authorization ?? '');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ seen: req.headers.authorization }));
});

beforeAll(async () => {
  Object.assign(process.env, SECRETS);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  for (const name of Object.keys(SECRETS)) delete process.env[name];
  server.close();
});

function plan(): string {
  const dir = writeFiles({
    'plan.yaml': `version: 1
sites: { east: { role: primary }, west: { role: backup } }
contacts: [{ id: alice, name: Alice Ng }]
communications:
  channels:
    - { id: chat, type: webhook, url_env: DRCTL_TEST_HOOK_URL }
    - { id: mail, type: email, host: 127.0.0.1, port: 2525, from: drctl@example.com, user: drctl, password_env: DRCTL_TEST_SMTP_PASSWORD }
workloads:
  - id: shop
    tier: 3
    strategy: backup-restore
    owner: alice
    components:
      - id: docs
        kind: files
        placement: { east: { path: data } }
        backups:
          - { engine: restic, every: 1d, to: west, repository: repo, password_env: DRCTL_TEST_RESTIC_PASSWORD }
    runbooks:
      restore:
        steps:
          - id: call
            action: http.request
            with: { url: "${url}/switch", headers: { authorization: "Bearer \${DRCTL_TEST_ROUTER_TOKEN}" } }
            expected: 1s
          - id: print
            needs: [call]
            run: echo "$DRCTL_TEST_HOOK_URL $DRCTL_TEST_SMTP_PASSWORD"; echo "$DRCTL_TEST_RESTIC_PASSWORD" >&2; exit 1
            expected: 1s
`,
  });
  return join(dir, 'plan.yaml');
}

describe('secrets given through the environment', () => {
  it('are sent where the plan asks for them: a ${NAME} in an http.request header is expanded', async () => {
    const state = tempDir();
    await runCli('run', plan(), '--runbook', 'shop/restore', '--state', state, '--json');
    expect(received.at(-1)).toBe(`Bearer ${SECRETS.DRCTL_TEST_ROUTER_TOKEN}`);
  });

  it('appear in no answer, journal, log, status, audit export or review of a run whose steps print them', async () => {
    const state = tempDir();
    const run = await runCli('run', plan(), '--runbook', 'shop/restore', '--state', state, '--json');
    expect(run.code).toBe(1);
    const view = JSON.parse(run.stdout) as { id: string; status: string };
    expect(view.status).toBe('failed');
    const shown = [
      run,
      await runCli('status', view.id, '--state', state, '--json'),
      await runCli('status', view.id, '--state', state),
      await runCli('audit', 'export', view.id, '--state', state),
      await runCli('pir', view.id, '--state', state),
    ];
    for (const answer of shown) {
      expect(answer.stdout).not.toBe('');
      for (const [name, value] of Object.entries(SECRETS))
        expect({ name, leaked: (answer.stdout + answer.stderr).includes(value) }).toEqual({
          name,
          leaked: false,
        });
    }
    // what the steps printed is there, with the values replaced by their names
    expect(shown[3]!.stdout).toContain('[redacted:DRCTL_TEST_SMTP_PASSWORD]');
    expect(shown[3]!.stdout).toContain('[redacted:DRCTL_TEST_ROUTER_TOKEN]');

    const files = filesUnder(state);
    expect(files.map((f) => f.file).some((f) => f.endsWith('drctl.log'))).toBe(true);
    for (const { file, bytes } of files)
      for (const value of Object.values(SECRETS))
        expect({ file, value, leaked: bytes.includes(value) }).toEqual({ file, value, leaked: false });
  });
});

describe('a password written inline in a plan', () => {
  it('is redacted by analyze wherever it appears, as render does', async () => {
    const dir = writeFiles({
      'plan.yaml': `version: 1
sites: { east: { role: primary }, west: { role: secondary } }
contacts: [{ id: alice, name: Alice Ng }]
workloads:
  - id: shop
    tier: 2
    strategy: cold-standby
    owner: alice
    components:
      - id: db
        kind: postgres
        placement: { east: { url: "postgres://drctl:Hunter2pw@127.0.0.1:5433/shop" } }
    runbooks:
      failover:
        steps:
          - { id: check, run: "psql postgres://drctl:Hunter2pw@127.0.0.1:5433/shop -c 'select 1' || echo Hunter2pw", expected: 1s }
`,
    });
    for (const args of [[], ['--json']]) {
      const answer = await runCli('analyze', join(dir, 'plan.yaml'), ...args);
      expect(answer.stdout).toContain('|| echo [redacted');
      expect(answer.stdout + answer.stderr).not.toContain('Hunter2pw');
    }
    const rendered = await runCli('render', join(dir, 'plan.yaml'), '--format', 'md', '--out', '-');
    expect(rendered.stdout).toContain('|| echo [redacted');
    expect(rendered.stdout).not.toContain('Hunter2pw');
  });
});
