#!/usr/bin/env node
// drctl runs the JavaScript that `npm ci` compiles into dist/ (the `prepare` script), so a command starts
// about as fast as node itself. From a checkout whose sources changed since that build, or with
// DRCTL_FROM_SOURCES=1 (the tests), it runs the TypeScript sources through tsx instead: what runs is never
// older than what is checked out. An installed package has no sources: it always runs dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { main, exitWhenWritten } = (await compiledIsCurrent())
  ? await import('../dist/cli/main.js')
  : await fromSources();
await exitWhenWritten(await main(process.argv.slice(2)));

async function compiledIsCurrent() {
  if (process.env.DRCTL_FROM_SOURCES === '1') return false;
  let built;
  try {
    built = statSync(`${root}dist/.built`).mtimeMs;
  } catch {
    return false;
  }
  if (!existsSync(`${root}src`)) return true;
  // a few hundred stat calls, about a millisecond: cheaper than ever running stale code
  for (const entry of readdirSync(`${root}src`, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(`${entry.parentPath}/${entry.name}`).mtimeMs > built) return false;
  }
  return true;
}

async function fromSources() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli/main.ts');
}
