import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CrdSource, VERSIONS } from '../../../lib/versions';

/**
 * The CRDs of every third-party API the platform emits, taken from those projects' own Go modules
 * at the versions in the versions catalog (`go mod download`, then their CRD YAML); never copied
 * into the repo. The module cache makes repeated runs free.
 */
/** Where run.ts hands the prefetched CRDs to the suite it starts in a network namespace. */
export const CRDS_JSON_ENV = 'MLPLAT_E2E_CRDS_JSON';

export function thirdPartyCrds(sources: readonly CrdSource[] = Object.values(VERSIONS.crds)): object[] {
  const handed = process.env[CRDS_JSON_ENV];
  if (handed) return JSON.parse(fs.readFileSync(handed, 'utf8')) as object[];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-crds-'));
  try {
    // go mod download needs a module context; an empty go.mod is enough.
    fs.writeFileSync(path.join(scratch, 'go.mod'), 'module mlplat.local/crds\n\ngo 1.22\n');
    return sources.flatMap((s) => {
      const out = execFileSync('go', ['mod', 'download', '-json', `${s.goModule}@${s.version}`], {
        cwd: scratch,
        encoding: 'utf8',
        env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      });
      const info = JSON.parse(out) as { Dir?: string; Error?: string };
      if (!info.Dir) throw new Error(`go mod download ${s.goModule}@${s.version}: ${info.Error ?? 'no directory'}`);
      const dir = path.join(info.Dir, s.crdDir);
      return fs
        .readdirSync(dir)
        .filter((f) => (s.files ? s.files.includes(f) : f.endsWith('.yaml')))
        .sort()
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()))
        .filter((o) => o && o.kind === 'CustomResourceDefinition');
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
