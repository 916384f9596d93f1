import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const TOOLS_DIR = path.resolve(__dirname, '..', 'tools');

/** Environment with the cached e2e tools on PATH (KWOK_*, PULUMI_HOME, MLPLAT_*_BIN …). */
export interface ToolsEnv {
  readonly env: NodeJS.ProcessEnv;
  /** Directory of kube-apiserver, kubectl, … */
  readonly kubeBin: string;
  readonly k8sVersion: string;
  /** Set when both the Pulumi language host and the Kubernetes provider are available. */
  readonly pulumiReady: boolean;
}

/**
 * Builds what is missing (seconds when the cache is warm) and loads env.sh. Build output goes
 * to stderr so the suite's own output stays readable.
 */
let loaded: ToolsEnv | undefined;

/** Where run.ts hands the loaded tools to the suite it starts in a network namespace. */
export const TOOLS_JSON_ENV = 'MLPLAT_E2E_TOOLS_JSON';

export function loadTools(): ToolsEnv {
  const handed = process.env[TOOLS_JSON_ENV];
  loaded ??= handed ? (JSON.parse(fs.readFileSync(handed, 'utf8')) as ToolsEnv) : buildAndLoad();
  return loaded;
}

function buildAndLoad(): ToolsEnv {
  const script = `set -e; bash ${JSON.stringify(path.join(TOOLS_DIR, 'build.sh'))} >&2; source ${JSON.stringify(path.join(TOOLS_DIR, 'env.sh'))} >&2; env -0`;
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  const env: NodeJS.ProcessEnv = {};
  for (const entry of out.split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  const kubeBin = env.MLPLAT_KUBE_BIN;
  if (!kubeBin) throw new Error('test/e2e/tools/env.sh did not export MLPLAT_KUBE_BIN');
  return {
    env,
    kubeBin,
    k8sVersion: env.MLPLAT_K8S_VERSION ?? '',
    pulumiReady:
      Boolean(env.MLPLAT_PULUMI_KUBERNETES_BIN) &&
      fs.existsSync(path.join(env.MLPLAT_TOOLS_CACHE ?? '', `pulumi-language-nodejs-${env.MLPLAT_PULUMI_VERSION}`, 'bin', 'pulumi-language-nodejs')),
  };
}
