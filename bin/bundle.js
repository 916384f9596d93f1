'use strict';
/**
 * The CLI's fast start. Loading ~150 TypeScript modules through tsx and compiling cdk8s' 2.7 MB
 * of generated API classes on every start cost ~0.6 s of a ~1.2 s `mlplat synth`. Instead the CLI
 * (bin/cli.ts with its sources and dependencies) is bundled by esbuild (already installed: tsx
 * uses it) into one file in node_modules/.cache/mlplat/, and V8's code cache for that file is
 * kept next to it, so later starts skip parsing and compiling.
 *
 * The bundle is rebuilt when a source file (bin/ lib/ constructs/ stacks/), package.json,
 * package-lock.json, tsconfig.json, Node or esbuild changes: its stamp hashes every such file's
 * path and content (not mtimes, which a same-size edit within the clock's granularity would not
 * change; ~10 ms). The code cache is named after the hash of the bundle text it was made from, so a
 * cache of another bundle is never used (V8 itself checks only the source's length). Any failure
 * here (no esbuild, read-only node_modules) returns null and the caller falls back to running the
 * TypeScript sources through tsx; so does MLPLAT_NO_BUNDLE=1.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const SOURCE_DIRS = ['bin', 'lib', 'constructs', 'stacks'];
const ROOT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json'];
const SOURCE_FILE = /\.(ts|js|py|json)$/;

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

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
      else if (SOURCE_FILE.test(e.name)) h.update(`${r}\0${sha256(fs.readFileSync(path.join(root, r)))}\n`);
    }
  };
  for (const d of SOURCE_DIRS) visit(d);
  for (const f of ROOT_FILES) {
    try {
      h.update(`${f}\0${sha256(fs.readFileSync(path.join(root, f)))}\n`);
    } catch {
      h.update(`${f}\0absent\n`);
    }
  }
  return h.digest('hex').slice(0, 32);
}

function writeAtomic(file, data) {
  const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.tmp`;
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
    // A bundle that cannot be written is not worth building on every run.
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
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
    writeAtomic(file, result.outputFiles[0].contents);
    for (const old of fs.readdirSync(dir)) if (old.endsWith('.v8cache')) fs.rmSync(path.join(dir, old), { force: true });
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
  const text = fs.readFileSync(file, 'utf8');
  const cacheFile = `${file}.${sha256(text).slice(0, 16)}.v8cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first run */
  }
  const script = new vm.Script(Module.wrap(text), { filename: file, cachedData });
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
