#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is TypeScript bundled into dist/cli/ by `npm run build` (one file loads faster).
let cli;
try {
  cli = require('../dist/cli/kc-monitor.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('kc-monitor.js')) {
    process.stderr.write('kc-monitor: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
cli.run();
