import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inlineCredentials, loadPlan, redactCredentials } from '../../src/plan/index.ts';
import { findChromium } from '../../src/render/index.ts';
import { runCli } from '../support/cli.ts';
import { filesUnder, tempDir, writeFiles } from '../support/tmp.ts';

const SECRET = 'S3cretPW';
const SECRET_URL = `postgres://drctl:${SECRET}@127.0.0.1:5433/shop`;

/** The line of the east database's URL in the two-site example, where the inline password goes. */
const URL_LINE =
  readFileSync('examples/two-site/plan.yaml', 'utf8')
    .split('\n')
    .findIndex((line) => line.includes('url: "postgres://127.0.0.1:5433/shop"')) + 1;

/** A copy of the two-site example with a password written inline in the east database's URL. */
function twoSiteWithPassword(): string {
  const original = readFileSync('examples/two-site/plan.yaml', 'utf8');
  const text = original.replace('url: "postgres://127.0.0.1:5433/shop"', `url: "${SECRET_URL}"`);
  expect(text).not.toBe(original);
  return join(writeFiles({ 'plan.yaml': text }), 'plan.yaml');
}

describe('credentials written in a plan', () => {
  it('are redacted in URLs and password parameters, and nothing else changes', () => {
    expect(redactCredentials(`connect to ${SECRET_URL} now`)).toBe(
      'connect to postgres://drctl:[redacted]@127.0.0.1:5433/shop now',
    );
    expect(redactCredentials('postgres://127.0.0.1/shop?user=drctl&password=hunter22&sslmode=off')).toBe(
      'postgres://127.0.0.1/shop?user=drctl&password=[redacted]&sslmode=off',
    );
    expect(redactCredentials('host=db password=hunter22 dbname=shop')).toBe(
      'host=db password=[redacted] dbname=shop',
    );
    const plain = 'postgres://drctl@127.0.0.1:5433/shop and http://127.0.0.1:8080/ready?x=1';
    expect(redactCredentials(plain)).toBe(plain);
  });

  it('appear in no rendered runbook, Markdown or HTML, written to a file or to stdout', async () => {
    const plan = twoSiteWithPassword();
    const out = tempDir();
    for (const format of ['md', 'html']) {
      const file = join(out, `runbook.${format}`);
      const written = await runCli('render', plan, '--format', format, '--out', file);
      expect(written.code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('postgres://drctl:[redacted]@127.0.0.1:5433/shop');
      expect(text).not.toContain(SECRET);

      const printed = await runCli('render', plan, '--format', format, '--out', '-');
      expect(printed.code).toBe(0);
      expect(printed.stdout).toContain('127.0.0.1:5433/shop');
      expect(printed.stdout + printed.stderr).not.toContain(SECRET);
    }
  });

  it.skipIf(findChromium() === undefined)(
    'appear nowhere in a rendered PDF, compressed streams included',
    { timeout: 60_000 },
    async () => {
      const file = join(tempDir(), 'runbook.pdf');
      const result = await runCli('render', twoSiteWithPassword(), '--format', 'pdf', '--out', file);
      expect(result.code).toBe(0);
      const pdf = readFileSync(file);
      const streams = [pdf];
      for (const match of pdf.toString('latin1').matchAll(/stream\r?\n/g)) {
        const start = match.index + match[0].length;
        const end = pdf.indexOf('endstream', start);
        try {
          streams.push(inflateSync(pdf.subarray(start, end)));
        } catch {
          // not a deflated stream (an image, say)
        }
      }
      expect(streams.length).toBeGreaterThan(1);
      for (const bytes of streams) expect(bytes.toString('latin1')).not.toContain(SECRET);
    },
  );

  it('appear in no --json answer of analyze, readiness or a dry run, nor in what they print', async () => {
    const plan = twoSiteWithPassword();
    const state = tempDir();
    const answers = [
      await runCli('analyze', plan, '--json'),
      await runCli('readiness', plan, '--json', '--state', state),
      await runCli('run', plan, '--runbook', 'shop/failover', '--dry-run', '--json'),
      await runCli('analyze', plan),
      await runCli('readiness', plan, '--state', state),
    ];
    for (const answer of answers) {
      expect(answer.stdout).not.toBe('');
      expect(answer.stdout + answer.stderr).not.toContain(SECRET);
    }
    const findings = JSON.parse(answers[0]!.stdout) as { findings: Array<{ code: string; line: number }> };
    expect(findings.findings).toContainEqual(
      expect.objectContaining({ code: 'DRCTL_SECRET_INLINE', line: URL_LINE }),
    );
  });

  it('appear in no journal, log, status, audit export or state file of a run whose steps print them', async () => {
    const state = tempDir();
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
        placement: { east: { url: "${SECRET_URL}" } }
    runbooks:
      restore:
        steps:
          - id: connect
            run: echo "connecting to ${SECRET_URL}"; echo "password is ${SECRET}" >&2; exit 1
            expected: 1s
`,
    });
    const run = await runCli(
      'run',
      join(dir, 'plan.yaml'),
      '--runbook',
      'shop/restore',
      '--state',
      state,
      '--json',
    );
    expect(run.code).toBe(1);
    const view = JSON.parse(run.stdout) as { id: string; status: string };
    expect(view.status).toBe('failed');
    const shown = [
      run,
      await runCli('status', view.id, '--state', state, '--json'),
      await runCli('status', '--state', state),
      await runCli('audit', 'export', view.id, '--state', state),
    ];
    for (const answer of shown) expect(answer.stdout + answer.stderr).not.toContain(SECRET);
    expect(shown[3]!.stdout).toContain('[redacted');

    const files = filesUnder(state);
    expect(files.map((f) => f.file).some((f) => f.endsWith('drctl.log'))).toBe(true);
    for (const { file, bytes } of files)
      expect({ file, leaked: bytes.includes(SECRET) }).toEqual({ file, leaked: false });
  });

  it('are found with their position, for the analysis finding', async () => {
    const plan = await loadPlan(twoSiteWithPassword());
    expect(inlineCredentials(plan)).toEqual([
      {
        values: [SECRET],
        text: 'postgres://drctl:[redacted]@127.0.0.1:5433/shop',
        at: expect.objectContaining({ line: URL_LINE }),
      },
    ]);
  });
});
