import fc from 'fast-check';

/**
 * Only for `npm run mutate` (vitest.mutate.config.mts): one fixed seed, so every property test generates
 * the same inputs, and has the same name, in Stryker's dry run and in each mutant run.
 */
fc.configureGlobal({ seed: 20_261_122 });
