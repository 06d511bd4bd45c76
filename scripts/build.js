// The build: compile src/ to dist/ (types are checked by `npm run typecheck`, not here) and copy every
// file under src/ that is not TypeScript (the console's CSS and scripts, architecture notes) beside the
// JavaScript that reads it, so the command as installed finds what the sources find. dist/.built marks a
// finished build for bin/drctl.js.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
// `drctl validate`'s quick path: the plan and provider schemas precompiled into plain functions
// (src/cli/validators.ts), bundled with the loader into one file, so confirming a valid plan loads
// neither zod nor the providers and one module instead of thirty; then V8's code cache of a validation
// through it (src/cli/quick-bundle.ts)
const { validatorsSource } = await import(pathToFileURL(join(dist, 'cli/validators.js')).href);
writeFileSync(join(dist, 'cli/validators.generated.js'), validatorsSource());
const { build } = await import('esbuild');
await build({
  stdin: {
    contents:
      "export { quicklyValidPlan } from './quick-validate.js'; export { validators } from './validators.generated.js';",
    resolveDir: join(dist, 'cli'),
  },
  outfile: join(dist, 'cli/quick-validate.bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // a CommonJS file has no import.meta: the modules that ask for their URL get the bundle's
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // what only the full path loads stays out: zod's problems module, and yaml for syntax errors
  external: ['yaml'],
  plugins: [
    {
      name: 'schema-problems-outside',
      setup(build) {
        build.onResolve({ filter: /schema-problems/ }, () => ({
          path: '../plan/schema-problems.js',
          external: true,
        }));
      },
    },
  ],
  logLevel: 'warning',
});
rmSync(join(dist, 'cli/validators.generated.js'));
const { writeQuickBundleCache } = await import(pathToFileURL(join(dist, 'cli/quick-bundle.js')).href);
await writeQuickBundleCache(join(root, 'examples/two-site/plan.yaml'));
writeFileSync(join(dist, '.built'), '');
