import { defineConfig } from 'vitest/config';

/**
 * The real-cluster suite (`npm run test:connect`): test/connect/globalSetup.ts starts a real Kafka broker and
 * two Connect workers once, which every file shares; test/globalSetup.ts adds the test CA and Azurite as for
 * the unit suite. One file at a time (they share the cluster), generous timeouts (rebalances take seconds).
 */
export default defineConfig({
  test: {
    include: ['test/connect/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts', 'test/connect/globalSetup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // CI reads its pass/fail counts from this file (.ci/run): one per Connect version it runs.
    reporters: process.env.CI ? ['default', ['json', { outputFile: process.env.KC_CONNECT_RESULTS ?? '.vitest-connect-results.json' }]] : ['default'],
  },
});
