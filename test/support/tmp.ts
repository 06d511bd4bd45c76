/** Temporary directories for tests, removed when the test file ends. */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, onTestFinished } from 'vitest';

/**
 * Directories made outside a test — while the file is collected, or in a beforeAll, where an afterAll
 * registered then would never run — removed when the test file ends. This module is imported while a test
 * file is collected, so the afterAll below belongs to that file.
 */
const madeOutsideTests = new Set<string>();
let removedAtFileEnd = false;
try {
  afterAll(() => {
    for (const dir of madeOutsideTests) rmSync(dir, { recursive: true, force: true });
    madeOutsideTests.clear();
  });
  removedAtFileEnd = true;
} catch {
  // imported outside a test file (a benchmark driving the same harness): see tempDir
}

export function tempDir(prefix = 'drctl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    // made inside a test: removed when that test ends
    if (expect.getState().currentTestName !== undefined) onTestFinished(remove);
    else if (removedAtFileEnd) madeOutsideTests.add(dir);
    else process.once('exit', remove);
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
