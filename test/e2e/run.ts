/**
 * Runs the e2e suite with node's test runner and closes with one line `N passed, N failed`
 * (`, N skipped` when some were skipped). Exit code 0 only when nothing failed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const tap = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-e2e-report-')), 'report.tap');
const started = Date.now();
const r = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    path.join(__dirname, 'e2e.test.ts'),
  ],
  { stdio: 'inherit', cwd: path.resolve(__dirname, '..', '..') },
);
const report = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(report)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped');
const minutes = ((Date.now() - started) / 60000).toFixed(1);
process.stdout.write(`\ne2e finished in ${minutes} min\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = r.status === 0 && failed === 0 && passed > 0 ? 0 : 1;
