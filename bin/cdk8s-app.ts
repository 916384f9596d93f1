import * as path from 'node:path';
import { ConfigError, formatIssue, loadPlatform } from '../lib/config/load';
import { outputFiles, writeAtomically } from '../lib/synth';
import { platformApp } from '../stacks/platform';
import { DEFAULT_CONFIG } from './cli';

/** cdk8s app entry (cdk8s.yaml): synthesizes $MLPLAT_CONFIG or the bundled example into $CDK8S_OUTDIR. */
function main(): void {
  const config = process.env.MLPLAT_CONFIG ?? path.relative(process.cwd(), DEFAULT_CONFIG);
  const outDir = process.env.CDK8S_OUTDIR ?? 'dist/acme';
  try {
    const { spec, warnings } = loadPlatform(config);
    for (const w of warnings) process.stderr.write(`${formatIssue(w)}\n`);
    const files = outputFiles(platformApp(spec).app);
    writeAtomically(outDir, files);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.issues.map(formatIssue).join('\n')}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

main();
