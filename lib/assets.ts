import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Set by the CLI bundle (bin/bundle.js defines it at build time): the bundle lives in
 * node_modules/.cache/mlplat/, so `__dirname` there is not the source tree.
 */
declare const MLPLAT_PACKAGE_ROOT: string | undefined;

/** Repository root (where package.json, examples/ and the scripts the constructs ship live). */
export const PACKAGE_ROOT: string =
  typeof MLPLAT_PACKAGE_ROOT === 'string' ? MLPLAT_PACKAGE_ROOT : path.resolve(__dirname, '..');

/** A file shipped with mlplat (a script a construct puts into a ConfigMap), by its path from the root. */
export function readAsset(relativePath: string): string {
  return fs.readFileSync(path.join(PACKAGE_ROOT, relativePath), 'utf8');
}
