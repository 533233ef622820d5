// @ts-check
/**
 * `npm run mutate`: StrykerJS over the pure core, the code whose every branch is a decision about a
 * customer's connectors or credentials. Not part of .ci/run (minutes, not seconds); run it after changing
 * one of the files below, and before closing an issue that touches them. Incremental: only mutants in
 * changed code (or covered by changed tests) are run again; `npm run mutate -- --force` runs them all.
 *
 * src/lib/heal/healer.ts and history.ts are left out: they are I/O (Azure Table Storage, the Connect REST
 * API) and are tested against Azurite, which this run does not start (vitest.mutate.config.mts).
 *
 * Equivalent mutants, left alone (no test can tell them from the original):
 * - (filled in from the run: see the list at the end of this file's header once known)
 */
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.mts' },
  coverageAnalysis: 'perTest',
  mutate: ['src/lib/heal/policy.ts', 'src/lib/heal/restart.ts', 'src/lib/heal/workers.ts', 'src/lib/connect/status.ts', 'src/lib/logs/rows.ts', 'src/lib/redact.ts'],
  // Not needed in the sandboxes Stryker copies the project into.
  ignorePatterns: ['dist', 'coverage', 'bench/results', 'test/connect/.jars', '.vitest-*.json'],
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  concurrency: 2,
  // The restart tests wait for a loopback simulator; a busy 2-core machine needs the slack.
  timeoutMS: 10_000,
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
};
