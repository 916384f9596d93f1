#!/usr/bin/env node
'use strict';
// The mlplat CLI. TypeScript sources run through tsx's require hook (cached on disk), so the
// CLI needs no build step after `npm ci`.
require('tsx/cjs/api').register();
const { run } = require('./cli.ts');

let code;
try {
  code = run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`mlplat: internal error: ${e && e.message ? e.message : e}\n`);
  if (process.env.MLPLAT_DEBUG) process.stderr.write(`${e && e.stack}\n`);
  else process.stderr.write('(set MLPLAT_DEBUG=1 for the stack trace; please report it)\n');
  code = 1;
}
process.exitCode = code;
