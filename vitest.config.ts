import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // the tests judge the sources: a bin/drctl.js they start runs src/ through tsx, never a dist/ build
    env: { DRCTL_FROM_SOURCES: '1' },
  },
});
