#!/usr/bin/env node
'use strict';
// The mlplat CLI. Runs a bundle of the TypeScript sources kept up to date in
// node_modules/.cache/mlplat (bin/bundle.js: fast start), or the sources themselves through tsx's
// require hook when no bundle can be built; either way the CLI needs no build step after `npm ci`.
const path = require('node:path');
const { ensureBundle, loadBundle } = require('./bundle.js');

let cli;
let saveCache = () => {};
const bundle = ensureBundle(path.resolve(__dirname, '..'));
if (bundle) {
  ({ exports: cli, saveCache } = loadBundle(bundle));
} else {
  require('tsx/cjs/api').register();
  cli = require('./cli.ts');
}

let code;
try {
  code = cli.run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`mlplat: internal error: ${e && e.message ? e.message : e}\n`);
  if (process.env.MLPLAT_DEBUG) process.stderr.write(`${e && e.stack}\n`);
  else process.stderr.write('(set MLPLAT_DEBUG=1 for the stack trace; please report it)\n');
  code = 1;
}
process.exitCode = code;
saveCache();
