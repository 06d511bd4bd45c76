/** The suite's skip report, run on a small test file of its own by a real vitest. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { writeFiles } from './tmp.ts';

const ROOT = join(import.meta.dirname, '../..');

it('ends a run that skipped tests with each one by name and why', () => {
  const dir = writeFiles({
    // globals, so the file needs no vitest package beside it
    'needs.test.ts': `const chromium = undefined;
describe.skipIf(chromium === undefined)('pages in a browser', () => {
  it('draws', () => {});
});
describe('backups', () => {
  it('run', () => {});
  it('on a full disk', (context) => context.skip('cannot mount a tmpfs here'));
});
`,
  });
  const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
  const run = spawnSync(
    process.execPath,
    [
      vitest,
      'run',
      '--root',
      dir,
      '--globals',
      '--includeTaskLocation',
      '--reporter=default',
      `--reporter=${join(ROOT, 'test/support/skip-report.ts')}`,
    ],
    { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  expect(run.status).toBe(0);
  const report = run.stdout.slice(run.stdout.indexOf('SKIPPED'));
  expect(report).toContain('SKIPPED: 2 test suite(s) or test(s) did not run');
  expect(report).toContain('needs.test.ts > pages in a browser: skipIf(chromium === undefined)');
  expect(report).toContain('needs.test.ts > backups > on a full disk: cannot mount a tmpfs here');
  expect(report).not.toContain('backups > run');
});
