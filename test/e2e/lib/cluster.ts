import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ToolsEnv } from './tools';

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Admission plugins a real cluster runs, beyond the API server's defaults. */
const EXTRA_ADMISSION = ['NodeRestriction'];

const live = new Set<Cluster>();
function deleteAll(): void {
  for (const c of live) c.delete();
}
process.on('exit', deleteAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    deleteAll();
    process.exit(130);
  });
}

/**
 * A throw-away control plane (run.ts starts the suite in a network namespace that has only
 * loopback): etcd, kube-apiserver (with Pod Security, ResourceQuota,
 * LimitRanger, NodeRestriction and ValidatingAdmissionPolicy), controller-manager, scheduler and
 * kwok, started by kwokctl's binary runtime from the cached binaries. Deleted on `delete()`,
 * and on process exit or interrupt if the suite dies.
 */
export class Cluster {
  static create(name: string, tools: ToolsEnv): Cluster {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mlplat-e2e-${name}-`));
    const cluster = new Cluster(name, tools, dir);
    live.add(cluster);
    const r = cluster.kwokctl([
      'create', 'cluster',
      '--runtime', 'binary',
      '--wait', '180s',
      '--kubeconfig', cluster.kubeconfig,
      '--extra-args', `kube-apiserver=enable-admission-plugins=${EXTRA_ADMISSION.join(',')}`,
      // The suite's network namespace has no default route to derive an address from.
      '--extra-args', 'kube-apiserver=advertise-address=127.0.0.1',
    ]);
    if (r.code !== 0) {
      cluster.delete();
      throw new Error(`kwokctl create cluster failed (${r.code}):\n${r.stderr || r.stdout}`);
    }
    return cluster;
  }

  readonly kubeconfig: string;
  private deleted = false;

  private constructor(
    readonly name: string,
    private readonly tools: ToolsEnv,
    private readonly dir: string,
  ) {
    this.kubeconfig = path.join(dir, 'kubeconfig');
  }

  get env(): NodeJS.ProcessEnv {
    return { ...this.tools.env, KUBECONFIG: this.kubeconfig, KWOK_WORKDIR: path.join(this.dir, 'kwok') };
  }

  kwokctl(args: string[]): Run {
    return run(path.join(this.tools.env.MLPLAT_KWOK_BIN ?? '', 'kwokctl'), ['--name', this.name, ...args], this.env);
  }

  kubectl(args: string[], input?: string): Run {
    return run(path.join(this.tools.kubeBin, 'kubectl'), args, this.env, input);
  }

  /** kubectl that must succeed; returns stdout. */
  mustKubectl(args: string[], input?: string): string {
    const r = this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Parsed JSON of `kubectl get … -o json`. */
  get<T = any>(args: string[]): T {
    return JSON.parse(this.mustKubectl(['get', ...args, '-o', 'json'])) as T;
  }

  /** Server-side apply of one object; returns the API server's message on rejection. */
  apply(obj: object): Run {
    return this.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=mlplat-e2e', '-f', '-'], JSON.stringify(obj));
  }

  /** Creates an object; the result tells whether admission accepted it. */
  create(obj: object): Run {
    return this.kubectl(['create', '-f', '-'], JSON.stringify(obj));
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    live.delete(this);
    this.kwokctl(['delete', 'cluster']);
    killProcessesUnder(this.dir); // whatever kwokctl did not stop
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * SIGKILLs every process started from a path under `dir` (argv[0]: kwokctl links the cached
 * binaries into the cluster directory, so the resolved executable lies elsewhere); returns their
 * names.
 */
export function killProcessesUnder(dir: string): string[] {
  const killed: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let exe: string;
    try {
      exe = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    } catch {
      continue; // gone, or not ours to read
    }
    if (!exe.startsWith(dir)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed.push(`${path.basename(exe)} (pid ${pid})`);
    } catch {
      /* already gone */
    }
  }
  return killed;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Run {
  const r = spawnSync(cmd, args, { env, input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Polls `check` until it returns a value or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

