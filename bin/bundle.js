'use strict';
/**
 * The CLI's fast start. Loading ~150 TypeScript modules through tsx and compiling cdk8s' 2.7 MB
 * of generated API classes on every start cost ~0.6 s of a ~1.2 s `mlplat synth`. Instead the CLI
 * (bin/cli.ts with its sources and dependencies) is bundled by esbuild (already installed: tsx
 * uses it) into one file in node_modules/.cache/mlplat/, and V8's code cache for that file is
 * kept next to it, so later starts skip parsing and compiling.
 *
 * The bundle is rebuilt when a source file (bin/ lib/ constructs/ stacks/), package-lock.json,
 * Node or esbuild changes: its stamp is a hash of every such file's path, size and mtime. Any
 * failure here (no esbuild, read-only node_modules) returns null and the caller falls back to
 * running the TypeScript sources through tsx; so does MLPLAT_NO_BUNDLE=1.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const SOURCE_DIRS = ['bin', 'lib', 'constructs', 'stacks'];
const SOURCE_FILE = /\.(ts|js|py|json)$/;

/** A hash of what the bundle is built from; changes when any of it changes. */
function sourceStamp(root, extra = []) {
  const h = crypto.createHash('sha256');
  for (const x of extra) h.update(`${x}\n`);
  const visit = (rel) => {
    const abs = path.join(root, rel);
    let entries;
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) visit(r);
      else if (SOURCE_FILE.test(e.name)) {
        const st = fs.statSync(path.join(root, r));
        h.update(`${r}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const d of SOURCE_DIRS) visit(d);
  try {
    const st = fs.statSync(path.join(root, 'package-lock.json'));
    h.update(`package-lock.json\0${st.size}\0${st.mtimeMs}\n`);
  } catch {
    /* no lock file: dependencies are then not part of the stamp */
  }
  return h.digest('hex').slice(0, 32);
}

function writeAtomic(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Path of an up-to-date bundle of bin/cli.ts, building it first when needed; null when it can't. */
function ensureBundle(root) {
  if (process.env.MLPLAT_NO_BUNDLE === '1') return null;
  try {
    const esbuild = require(require.resolve('esbuild', { paths: [root] }));
    const dir = path.join(root, 'node_modules', '.cache', 'mlplat');
    const file = path.join(dir, 'cli.cjs');
    const stampFile = `${file}.stamp`;
    const stamp = sourceStamp(root, [process.version, esbuild.version, root]);
    let current = null;
    try {
      current = fs.readFileSync(stampFile, 'utf8');
    } catch {
      /* not built yet */
    }
    if (current === stamp && fs.existsSync(file)) return file;
    const result = esbuild.buildSync({
      entryPoints: [path.join(root, 'bin', 'cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      // The deploy path (bin/pulumi.ts) is not part of the CLI; keep @pulumi out even if imported.
      external: ['@pulumi/*'],
      define: { MLPLAT_PACKAGE_ROOT: JSON.stringify(root) },
      write: false,
      logLevel: 'silent',
      outfile: file,
    });
    fs.mkdirSync(dir, { recursive: true });
    writeAtomic(file, result.outputFiles[0].contents);
    fs.rmSync(`${file}.v8cache`, { force: true });
    writeAtomic(stampFile, stamp);
    return file;
  } catch (e) {
    if (process.env.MLPLAT_DEBUG) process.stderr.write(`mlplat: running from sources (bundle not available: ${e && e.message})\n`);
    return null;
  }
}

/**
 * Loads the bundle as a CommonJS module with V8's code cache; writes the cache (after the
 * caller has run, so it covers the functions that ran) when there is none or V8 rejected it.
 */
function loadBundle(file) {
  const cacheFile = `${file}.v8cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first run */
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(m.exports, m.exports, (id) => m.require(id), m, file, path.dirname(file));
  const saveCache = () => {
    if (cachedData && !script.cachedDataRejected) return;
    try {
      writeAtomic(cacheFile, script.createCachedData());
    } catch {
      /* a cache we can't write only costs time */
    }
  };
  return { exports: m.exports, saveCache };
}

module.exports = { ensureBundle, loadBundle, sourceStamp };
