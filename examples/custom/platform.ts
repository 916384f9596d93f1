/**
 * A client platform composed in TypeScript instead of YAML: the same constructs the YAML path
 * uses, plus a construct of the client's own (GpuSmokeTest).
 *
 *   npx tsx examples/custom/platform.ts [outDir]     # writes dist/globex/ by default
 */
import { App } from 'cdk8s';
import { ComponentChart } from '../../lib/component';
import { outputFiles, writeAtomically } from '../../lib/synth';
import { MlPlatform } from '../../stacks/platform';
import { GpuSmokeTest } from './gpu-smoke-test';

export function buildGlobex(): { app: App; platform: MlPlatform } {
  const app = new App();
  const platform = new MlPlatform(app, 'Platform', {
    client: 'globex',
    domain: 'ml.globex.example',
    imageRegistry: 'registry.globex.internal/mirror',
    gpu: { driver: 'managed' },
  });

  const h100 = platform.gpu.addPool('h100', {
    gpuModel: 'H100-80GB',
    gpusPerNode: 8,
    nodeSelector: { 'node.kubernetes.io/instance-type': 'p5.48xlarge' },
    sharing: { mode: 'mig', profile: 'all-3g.40gb' },
  });
  const l40s = platform.gpu.addPool('l40s', {
    gpuModel: 'L40S',
    gpusPerNode: 4,
    nodeSelector: { 'node.kubernetes.io/instance-type': 'g6e.12xlarge' },
  });

  const vision = platform.addTenant('vision', { groups: ['vision'], cpu: '96', memory: '512Gi' });
  vision.grantGpus(h100, 8);
  vision.grantGpus(l40s, 4);
  const nlp = platform.addTenant('nlp', { groups: ['nlp', 'nlp-contractors'], cpu: '48', memory: '256Gi', allowInternetEgress: true });
  nlp.grantGpus(h100, 8);

  // The client's own construct, in a chart (and output file) of its own.
  const checks = new ComponentChart(platform, 'Checks', { name: 'gpu-smoke-tests', component: 'checks', order: 90 });
  new GpuSmokeTest(checks, 'VisionL40s', { tenant: vision, pool: l40s });
  new GpuSmokeTest(checks, 'NlpH100', { tenant: nlp, pool: h100, schedule: '30 6 * * *' });
  return { app, platform };
}

if (require.main === module) {
  const outDir = process.argv[2] ?? 'dist/globex';
  const files = outputFiles(buildGlobex().app);
  writeAtomically(outDir, files);
  process.stdout.write(`wrote ${files.length} files to ${outDir}\n`);
}
