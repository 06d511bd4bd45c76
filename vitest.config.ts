import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // a run that skipped tests ends by naming them and why (where their skipIf is needs locations)
    reporters: ['default', './test/support/skip-report.ts'],
    includeTaskLocation: true,
    // the tests judge the sources: a bin/drctl.js they start runs src/ through tsx, never a dist/ build
    env: { DRCTL_FROM_SOURCES: '1' },
  },
});
