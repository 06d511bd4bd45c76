/** Temporary directories for tests, removed when the test file ends. */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, onTestFinished } from 'vitest';

export function tempDir(prefix = 'drctl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    // made inside a test, where a new afterAll would never run: removed when that test ends
    if (expect.getState().currentTestName !== undefined) onTestFinished(remove);
    else afterAll(remove);
  } catch {
    // outside a test file (a benchmark driving the same harness): removed when the process exits
    process.once('exit', remove);
  }
  return dir;
}

/** Writes files (path → content) under a fresh temporary directory and returns it. */
export function writeFiles(files: Record<string, string | Buffer>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** Every file under `dir`, as bytes: for checking that nothing written there holds a secret. */
export function filesUnder(dir: string): Array<{ file: string; bytes: Buffer }> {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => ({ file, bytes: readFileSync(file) }));
}
