import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['impl/**/*.test.ts', 'harness/**/*.test.ts', 'checkers/**/*.test.ts', 'workloads/**/*.test.ts', 'docker/**/*.test.ts', '.github/**/*.test.ts'],
    // Integration tests start real processes and containers; unit tests finish far sooner.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One temp dir per test run, removed at the end (harness/testing/tmpdir-global-setup.ts).
    globalSetup: ['harness/testing/tmpdir-global-setup.ts'],
    // Tests never write into the user's results database (`npm run runs -- list` after
    // `npm test` shows only the user's own runs): the empty string opts out of the default
    // local database (harness/results-db/db.ts). Database tests start a throwaway server.
    env: { JEPSEN_DATABASE_URL: '' },
  },
});
