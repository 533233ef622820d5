#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is TypeScript bundled into dist/cli/ by `npm run build`: a small entry that answers
// --help, and the CLI it loads for every command.
try {
  require('../dist/cli/entry.js').run();
} catch (err) {
  // The first line names the module not found; the rest ("Require stack") names who asked for it.
  if (err && err.code === 'MODULE_NOT_FOUND' && /'(\.\.\/dist\/cli\/entry|\.\/kc-monitor)\.js'/.test(String(err.message).split('\n')[0])) {
    process.stderr.write('kc-monitor: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
