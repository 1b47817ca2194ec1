import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['impl/**/*.test.ts', 'harness/**/*.test.ts', 'checkers/**/*.test.ts', 'workloads/**/*.test.ts', 'docker/**/*.test.ts'],
    // Integration tests start real processes and containers; unit tests finish far sooner.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
