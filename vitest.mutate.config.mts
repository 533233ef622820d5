import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run mutate` runs against each mutant (stryker.config.mjs): the unit and property tests of
 * the pure core alone. No global setup: the files it mutates need neither Azurite nor the test CA
 * (test/globalSetup.ts), and starting them for every Stryker worker would only cost time. The setup file fixes
 * fast-check's seed, so a property test has the same name ("… (with seed=N)") in the dry run and in every
 * mutant run: Stryker re-selects the tests covering a mutant by name.
 */
export default defineConfig({
  test: {
    include: [
      'test/lib/heal/policy*.test.ts',
      // scoped.test.ts is pure (HEAL_EXCLUDE, flapping, time to recover); scoped-e2e.test.ts needs Azurite.
      'test/lib/heal/scoped.test.ts',
      'test/lib/heal/restart*.test.ts',
      'test/lib/heal/workers*.test.ts',
      'test/lib/connect/status*.test.ts',
      'test/lib/logs/rows*.test.ts',
      'test/lib/redact*.test.ts',
      'test/property.test.ts',
    ],
    setupFiles: ['test/mutate.setup.ts'],
    // Fewer runs per property than `npm test` (10,000): each property runs for every mutant it covers, and
    // the generators reach their budgets at any count (test/property.test.ts counts how often they do).
    env: { KC_PROPERTY_RUNS: '1000' },
    testTimeout: 60_000,
  },
});
