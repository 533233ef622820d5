import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real Kafka Connect suite has its own config and run (npm run test:connect, vitest.connect.config.mts).
    exclude: [...configDefaults.exclude, 'test/connect/**'],
    // Makes the test CA and sets NODE_EXTRA_CA_CERTS before the test processes start, so the real
    // Azure SDK trusts the https ingestion fake without any test-only code path in src/.
    globalSetup: ['test/globalSetup.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // CI reads its pass/fail counts from this file (.ci/run).
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
