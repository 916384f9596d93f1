/**
 * The start page as a browser sees it: the synthesized ConfigMap laid out as the kubelet mounts
 * it, served by busybox httpd with the synthesized command, loaded in headless Chromium. The
 * rendered DOM must list every routed app and every tenant; a screenshot is kept as an artifact.
 * Registered into each example's suite by e2e.test.ts; skips itself when there is no start page.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import { IIngressRouter } from '../../constructs/edge/types';
import { PORTAL_NAMESPACE, START_PAGE_APP } from '../../constructs/portal/start-page';
import { PlatformContext } from '../../lib/context';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';
import { freePort, until } from './lib/processes';

const START_PAGE = 'start-page';

export interface StartPageCheck {
  /** The synthesized ConfigMap `portal/start-page`. */
  readonly configMap: KubeObject;
  /** The synthesized Deployment `portal/start-page` (its container's command is what runs). */
  readonly deployment: KubeObject;
  /** Apps the page must list, with the link each must carry. */
  readonly expectedApps: ReadonlyArray<{ readonly app: string; readonly url: string }>;
  /** Tenants the page must list, with their granted pools. */
  readonly expectedTenants: ReadonlyArray<{ readonly name: string; readonly pools: readonly string[] }>;
  /** The screenshot is written here as `start-page.png`. */
  readonly artifactDir: string;
  /** @default 'chromium' (or $MLPLAT_CHROMIUM) */
  readonly chromium?: string;
}

export interface StartPageResult {
  readonly url: string;
  readonly dom: string;
  readonly screenshot: string;
  readonly screenshotBytes: number;
  /** Milliseconds per step, for the log. */
  readonly timings: Readonly<Record<string, number>>;
}

export function startPageTests(state: () => SuiteState): void {
  it('serves the start page listing every enabled app and tenant, checked in headless Chromium', { timeout: 180_000 }, async (t) => {
    const { files, platform } = state();
    const objects = files.flatMap((f) => f.objects);
    const named = (kind: string) => objects.find((o) => o.kind === kind && o.metadata.namespace === PORTAL_NAMESPACE && o.metadata.name === START_PAGE);
    const configMap = named('ConfigMap');
    if (!configMap) return t.skip('no start page in this example (no ConfigMap portal/start-page)');
    const deployment = named('Deployment') ?? assert.fail('the start page ConfigMap is synthesized without its Deployment');
    // The page lists what the platform's router routes; it cannot exist without one.
    const router: IIngressRouter | undefined = platform.ingress?.router;
    assert.ok(router, 'platform.ingress.router (the IIngressRouter the start page lists) is not exposed');
    const result = await checkStartPage({
      configMap,
      deployment,
      expectedApps: router.routes.filter((r) => r.app !== START_PAGE_APP).map((r) => ({ app: r.app, url: r.url })),
      expectedTenants: platform.tenants.map((tn) => ({ name: tn.name, pools: [...tn.gpuGrants.keys()].map((p) => p.name) })),
      artifactDir: path.join(process.env.MLPLAT_E2E_ARTIFACTS ?? 'test-results/e2e', PlatformContext.of(platform).client),
    });
    t.diagnostic(`screenshot ${result.screenshot} (${result.screenshotBytes} B); ms: ${JSON.stringify(result.timings)}`);
  });
}

/**
 * Serves the synthesized start page with busybox httpd on a free loopback port and checks it
 * over HTTP and in headless Chromium. Every process it starts is stopped before it returns.
 */
export async function checkStartPage(check: StartPageCheck): Promise<StartPageResult> {
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      timings[step] = Date.now() - t0;
    }
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-start-page-'));
  // httpd runs as the pod's user, which must be able to reach the document root.
  fs.chmodSync(work, 0o755);
  const children: ChildProcess[] = [];
  try {
    const pod = (check.deployment as any).spec.template.spec;
    const cmName = check.configMap.metadata.name;
    const volume = (pod.volumes ?? []).find((v: any) => v.configMap?.name === cmName) ?? assert.fail(`the Deployment mounts no volume of ConfigMap ${cmName}`);
    const container = pod.containers.find((c: any) => (c.volumeMounts ?? []).some((m: any) => m.name === volume.name)) ?? assert.fail(`no container mounts volume ${volume.name}`);
    const mount = container.volumeMounts.find((m: any) => m.name === volume.name);
    assert.equal(mount.readOnly, true, 'the page is mounted read-only');

    const docRoot = path.join(work, 'www');
    mountConfigMap(docRoot, (check.configMap as any).data ?? {});

    // The synthesized command with only what cannot be the same here changed: the port (a free
    // loopback one) and the mount path (the local copy of the ConfigMap).
    const argv: string[] = [...(container.command ?? []), ...(container.args ?? [])];
    assert.ok(argv.length > 0, 'the container sets its command');
    const port = await freePort();
    const p = argv.indexOf('-p');
    assert.ok(p > 0 && p + 1 < argv.length, `httpd is given a port with -p: ${argv.join(' ')}`);
    const declared = (container.ports ?? []).map((x: any) => String(x.containerPort));
    assert.ok(declared.includes(argv[p + 1]), `httpd listens on a declared container port (-p ${argv[p + 1]}, ports ${declared.join(', ')})`);
    assert.equal(argv[argv.indexOf('-h') + 1], mount.mountPath, 'httpd serves the mounted ConfigMap (-h)');
    const local = argv.map((a, i) => (i === p + 1 ? `127.0.0.1:${port}` : a === mount.mountPath ? docRoot : a));
    const [command, ...args] = onPath(local[0]) ? local : ['busybox', ...local];

    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? { uid: pod.securityContext?.runAsUser ?? 65534, gid: pod.securityContext?.runAsGroup ?? 65534 } : {};
    const httpdLog = path.join(work, 'httpd.log');
    const httpd = startGroup(command, args, { cwd: work, log: httpdLog, ...user });
    children.push(httpd);
    const url = `http://127.0.0.1:${port}/`;
    const logTail = () => (fs.existsSync(httpdLog) ? fs.readFileSync(httpdLog, 'utf8').slice(-2000) : '');
    await timed('httpd-ready', () =>
      until('httpd to serve the page', async () => (await fetch(url)).ok, 15_000).catch((e) => assert.fail(`${e}\n${command} ${args.join(' ')}\n${logTail()}`)),
    );

    // What a client without a browser sees.
    const index = await fetch(url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(await index.text(), (check.configMap as any).data['index.html'], 'httpd serves the synthesized page as it is');
    const missing = await fetch(`${url}no-such-page`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();

    // What a browser renders.
    const chromium = check.chromium ?? process.env.MLPLAT_CHROMIUM ?? 'chromium';
    const profile = path.join(work, 'chromium-profile');
    const browser = (extra: string[]) =>
      runGroup(chromium, ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--window-size=1280,800', ...extra, url], 60_000, children);
    const dom = await timed('chromium-dump-dom', () => browser(['--dump-dom']));
    assertListed(dom, check);

    fs.mkdirSync(check.artifactDir, { recursive: true });
    const screenshot = path.resolve(check.artifactDir, 'start-page.png');
    fs.rmSync(screenshot, { force: true });
    await timed('chromium-screenshot', () => browser([`--screenshot=${screenshot}`]));
    assert.ok(fs.existsSync(screenshot), `Chromium wrote no screenshot to ${screenshot}`);
    const png = fs.readFileSync(screenshot);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the screenshot is a PNG');
    assert.ok(png.length > 5000, `the screenshot shows a page (${png.length} B)`);
    return { url, dom, screenshot, screenshotBytes: png.length, timings };
  } finally {
    for (const child of children) await stopGroup(child);
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/** The rendered DOM lists exactly the expected apps (with their links) and tenants (with their pools). */
function assertListed(dom: string, check: StartPageCheck): void {
  const apps = elements(dom, 'app');
  assert.deepEqual([...apps.keys()], check.expectedApps.map((a) => a.app), 'apps listed, in router order');
  for (const a of check.expectedApps) {
    const hrefs = [...apps.get(a.app)!.matchAll(/<a\b[^>]*\bhref="([^"]*)"/g)].map((m) => decode(m[1]));
    assert.deepEqual(hrefs, [a.url], `${a.app} links to its route`);
  }
  const tenants = elements(dom, 'tenant');
  assert.deepEqual([...tenants.keys()], check.expectedTenants.map((t) => t.name), 'tenants listed, in add order');
  for (const t of check.expectedTenants) {
    const pools = [...tenants.get(t.name)!.matchAll(/\bdata-pool="([^"]*)"/g)].map((m) => decode(m[1]));
    assert.deepEqual(pools, [...t.pools], `pools of tenant ${t.name}`);
  }
}

/** Elements carrying `data-<attr>`, by value, with their outer HTML (the page nests none of them). */
function elements(dom: string, attr: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of dom.matchAll(new RegExp(`<(\\w+)\\b[^>]*\\bdata-${attr}="([^"]*)"[^>]*>[\\s\\S]*?</\\1>`, 'g'))) {
    const key = decode(m[2]);
    assert.ok(!found.has(key), `data-${attr}="${key}" appears twice`);
    found.set(key, m[0]);
  }
  return found;
}

function decode(attr: string): string {
  return attr.replace(/&(amp|quot|lt|gt|#39);/g, (_, e: string) => ({ amp: '&', quot: '"', lt: '<', gt: '>', '#39': "'" })[e]!);
}

/**
 * Writes ConfigMap data as the kubelet's atomic writer does: the files in a timestamped
 * directory, `..data` pointing to it, and one symlink per key through `..data`.
 */
function mountConfigMap(dir: string, data: Record<string, string>): void {
  const payload = '..2000_01_01_00_00_00.000000000';
  fs.mkdirSync(path.join(dir, payload), { recursive: true, mode: 0o755 });
  for (const [key, value] of Object.entries(data)) fs.writeFileSync(path.join(dir, payload, key), value, { mode: 0o644 });
  fs.symlinkSync(payload, path.join(dir, '..data'));
  for (const key of Object.keys(data)) fs.symlinkSync(path.join('..data', key), path.join(dir, key));
}

function onPath(command: string): boolean {
  if (command.includes('/')) return fs.existsSync(command);
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Starts a long-running process in its own process group, output to `log`. */
function startGroup(command: string, args: readonly string[], o: { cwd: string; log: string; uid?: number; gid?: number }): ChildProcess {
  const fd = fs.openSync(o.log, 'a');
  try {
    const child = spawn(command, args, { cwd: o.cwd, env: { PATH: process.env.PATH }, stdio: ['ignore', fd, fd], detached: true, uid: o.uid, gid: o.gid });
    child.on('error', () => {}); // reported through the readiness wait and the log
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs a command in its own process group to completion; its stdout, or a failure with stderr. */
function runGroup(command: string, args: readonly string[], timeoutMs: number, children: ChildProcess[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (err += b));
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`${command} did not finish within ${timeoutMs} ms\n${err.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Chromium's stderr carries harmless D-Bus noise; only the exit code counts.
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${err.slice(-2000)}`));
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/** SIGTERM to the child's process group (helpers of Chromium included), SIGKILL after 5 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (!signalGroup(child, 'SIGTERM')) return;
  const deadline = Date.now() + 5000;
  while (signalGroup(child, 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  signalGroup(child, 'SIGKILL');
}
