/**
 * What the function loads on its first tick, bundled on its own (dist/lib/runtime.js) so that the host
 * loads only the small function entry at a cold start.
 */
export { createMonitor } from './monitor';
export { summarizeTick, tickProblems } from './tick';
