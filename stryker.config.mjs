// @ts-check
/**
 * `npm run mutate`: StrykerJS over the pure core, the code whose every branch is a decision about a
 * customer's connectors or credentials. Not part of .ci/run (a full run is about 15 to 30 minutes on 2 cores);
 * run it after changing one of the files below or their tests, and before closing an issue that touches them.
 * Incremental: only mutants in changed code (or covered by changed tests) are run again. Static mutants
 * (module-level constants: the redaction rules, UNADDRESSABLE) are not tracked per test, so their old result
 * is reused until their file changes: after changing the tests of one, run `npm run mutate -- --force`.
 *
 * src/lib/heal/healer.ts and history.ts are left out: they are I/O (Azure Table Storage, the Connect REST
 * API) and are tested against Azurite, which this run does not start (vitest.mutate.config.mts).
 *
 * Equivalent mutants, left alone (no input can tell them from the original):
 * policy.ts
 * - targetOf's /^t:(\d+):([\s\S]*)$/ without `$`: `[\s\S]*` runs to the end anyway.
 * - inWindow's `at !== undefined` → true: Date.parse(undefined) is NaN, never inside the window.
 * - `oldFlaps ?? []` → ["Stryker was here"]: not a date, filtered out by inWindow.
 * - `matched ?? trace ?? ''` → "Stryker was here!": only a pattern matching the empty text could tell.
 * restart.ts
 * - `blocked.length > 0 ? due.filter(…) : due` → true / `>= 0`: filtering out nothing is the same list.
 * - the 204 fallback's `r.outcome === 'restarted'` → true: only a restarted call carries a 204.
 * - describePlan's `!plan || typeof plan !== 'object'` → `&&` / false: a non-object has no `.connector` either.
 * - short()'s /^\/connectors\/…/ without `^`: every path starts with /connectors/.
 * - planCalls' `failedBy.get(connector) ?? []` → ["Stryker was here"]: the healer's failed list holds every
 *   due target, so a due connector is always in it.
 * rows.ts
 * - fitValues' `value.length * 3 > MAX_VALUE_BYTES` guard (→ true, `>=`, `||`): it only skips counting the
 *   bytes of a string too short to exceed the limit; the cut is the same.
 * - shipsDecision's `o.action === 'restart'` → true: only a restart decision carries an HttpStatus.
 * - the decision signature's '|' separator and the '' standing for a target's reason: any constant gives
 *   the same equalities.
 * workers.ts
 * - `[...w.failedConnectors].some(elsewhere)` → every: it is asked only when there is one failed connector.
 * status.ts
 * - `options.secrets ?? []` → ["Stryker was here"]: it would only scrub that text.
 * - describe()'s `Array.isArray(value)` → false, and its 'an array' (no coverage): no caller passes an array
 *   (parseExpanded hands arrays to parseNames, which describes only what is not one).
 * - rootCause's `lines[0] ?? ''` (no coverage): split always returns a line.
 * redact.ts
 * - the default `knownSecrets = []` → ["Stryker was here"] of redact, clip and safeTrace.
 * - headAtBoundary's `boundary > 0` → `>= 0`: slice(0, 0) is '' either way.
 * - `'utf8'` → `''` in utf8Length and headBytes: Node's default encoding is UTF-8.
 * - headBytes's `utf8Length(out) > maxBytes` → false: a decoded prefix is over the budget only through a
 *   trailing U+FFFD, which the other half of the condition drops.
 * - safeTrace's `utf8Length(redacted) <= maxBytes` → false / `<`: headBytes returns a text that fits unchanged.
 * - truncateTrace's `lastCause > 0` → `>= 0`: a Caused by at offset 0 gives causeStart 0, treated as none.
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
