/**
 * Runs the e2e suite with node's test runner and closes with one line `N passed, N failed`
 * (`, N skipped` when some were skipped). Exit code 0 only when nothing failed.
 *
 * Network isolation: tools are built and third-party CRDs fetched here (that needs the package
 * registries); the suite itself then runs in a fresh network namespace that has only loopback,
 * so the throw-away control plane can neither be reached from nor reach anything else.
 *
 * MLPLAT_E2E_EXAMPLES=acme,initech limits the run to those examples; extra arguments go to
 * node's test runner.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { killProcessesUnder } from './lib/cluster';
import { CRDS_JSON_ENV, thirdPartyCrds } from './lib/crds';
import { loadTools, TOOLS_JSON_ENV } from './lib/tools';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-e2e-run-'));
const tap = path.join(work, 'report.tap');
const started = Date.now();

const tools = loadTools();
const toolsFile = path.join(work, 'tools.json');
fs.writeFileSync(toolsFile, JSON.stringify(tools));
removeStaleClusters();
const crdsFile = path.join(work, 'crds.json');
fs.writeFileSync(crdsFile, JSON.stringify(thirdPartyCrds()));
const toolsSeconds = ((Date.now() - started) / 1000).toFixed(0);

const nodeArgs = [
  '--import', 'tsx',
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  // e.g. `npm run test:e2e -- --test-name-pattern=minio`
  ...process.argv.slice(2),
  path.join(__dirname, 'e2e.test.ts'),
];
const env = { ...process.env, [TOOLS_JSON_ENV]: toolsFile, [CRDS_JSON_ENV]: crdsFile };
const isolated = spawnSync('unshare', ['--net', '--', 'true']).status === 0;
if (!isolated) process.stdout.write('warning: cannot create a network namespace (needs root or user namespaces); the control plane will listen on all interfaces\n');
const cmd = isolated ? 'unshare' : process.execPath;
const args = isolated
  ? ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...nodeArgs]
  : nodeArgs;
const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: path.resolve(__dirname, '..', '..'), env });

/**
 * Clusters a killed earlier run left behind (their processes outlive a SIGKILL): kwokctl's own
 * list, and any process still running a binary from a cluster directory of ours in the temp dir.
 */
function removeStaleClusters(): void {
  const kwokctl = path.join(tools.env.MLPLAT_KWOK_BIN ?? '', 'kwokctl');
  const list = spawnSync(kwokctl, ['get', 'clusters'], { env: tools.env, encoding: 'utf8' });
  for (const name of (list.stdout ?? '').split('\n').filter((n) => n.startsWith('mlplat-e2e-'))) {
    process.stdout.write(`removing cluster ${name} left by an earlier run\n`);
    spawnSync(kwokctl, ['--name', name, 'delete', 'cluster'], { env: tools.env, stdio: 'ignore' });
  }
  for (const p of killProcessesUnder(path.join(os.tmpdir(), 'mlplat-e2e-mlplat-e2e-'))) {
    process.stdout.write(`stopped ${p}, left by an earlier run\n`);
  }
  for (const d of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('mlplat-e2e-') && d !== path.basename(work))) {
    fs.rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
  }
}

const report = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(report)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped');
fs.rmSync(work, { recursive: true, force: true });
const minutes = ((Date.now() - started) / 60000).toFixed(1);
process.stdout.write(`\ne2e finished in ${minutes} min (tools and CRDs ready after ${toolsSeconds}s)\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = r.status === 0 && failed === 0 && passed > 0 ? 0 : 1;
