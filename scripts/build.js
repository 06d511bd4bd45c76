// The build: compile src/ to dist/ (types are checked by `npm run typecheck`, not here) and copy every
// file under src/ that is not TypeScript (the console's CSS and scripts, architecture notes) beside the
// JavaScript that reads it, so the command as installed finds what the sources find. dist/.built marks a
// finished build for bin/drctl.js.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(dist, { recursive: true, force: true });
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--noCheck'], {
  stdio: 'inherit',
});
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
cpSync(join(root, 'src'), dist, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
writeFileSync(join(dist, '.built'), '');
