import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Real servers (PostgreSQL, MinIO, MLflow) run as local processes on loopback for the
 * real-component tests; every one is stopped in `stopAll()`, and on exit.
 */
export class Processes {
  private readonly children: Array<{ name: string; child: ChildProcess; log: string }> = [];
  readonly dir: string;

  constructor(prefix: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    fs.chmodSync(this.dir, 0o755);
    process.once('exit', () => this.stopAll());
  }

  /** Starts a long-running process, logging to `<dir>/<name>.log`. */
  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd = this.dir): ChildProcess {
    const log = path.join(this.dir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    this.children.push({ name, child, log });
    return child;
  }

  /** The last lines of a process's log (for failure messages). */
  tail(name: string, lines = 40): string {
    const entry = this.children.find((c) => c.name === name);
    if (!entry || !fs.existsSync(entry.log)) return '';
    return fs.readFileSync(entry.log, 'utf8').split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM to every process group, then SIGKILL to what is still there after 5 s. */
  stopAll(): void {
    const groups = this.children.splice(0).reverse().map((c) => c.child.pid).filter((p): p is number => p !== undefined);
    const signal = (pid: number, sig: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-pid, sig);
        return true;
      } catch {
        return false; // the group is gone
      }
    };
    for (const pid of groups) signal(pid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (groups.some((pid) => signal(pid, 0)) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    for (const pid of groups) signal(pid, 'SIGKILL');
  }

  cleanup(): void {
    this.stopAll();
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until `check` returns true (or throws `what` with the last error). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url);
    return r.ok;
  } catch {
    return false;
  }
}

/**
 * PostgreSQL from the e2e tools. initdb refuses to run as root, so as root the server runs as
 * Debian's `postgres` user. Local (socket) connections are trusted for the test's own setup; TCP
 * connections, which the platform's components use, need their password (SCRAM).
 */
export async function startPostgres(procs: Processes, bin: string): Promise<{ port: number; psql: (sql: string, db?: string) => string }> {
  const data = path.join(procs.dir, 'pgdata');
  const sock = path.join(procs.dir, 'pgsock');
  fs.mkdirSync(sock);
  const asRoot = process.getuid?.() === 0;
  // The tool links point into Debian's /usr/lib/postgresql, which the postgres user can read (the cache in root's home it cannot).
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', fs.realpathSync(cmd), ...args]] : [cmd, args]);
  if (asRoot) execFileSync('chown', ['postgres', sock]);
  if (asRoot) fs.chmodSync(procs.dir, 0o755);
  fs.mkdirSync(data, { mode: 0o700 });
  if (asRoot) execFileSync('chown', ['postgres', data]);
  const [c1, a1] = wrap(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync']);
  execFileSync(c1, a1, { stdio: 'pipe' });
  const port = await freePort();
  const [c2, a2] = wrap(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']);
  procs.start('postgres', c2, a2, process.env);
  const psql = (sql: string, db = 'postgres'): string =>
    execFileSync(path.join(bin, 'psql'), ['-h', sock, '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-tA', '-c', sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  await until('postgres to accept connections', () => {
    psql('select 1');
    return true;
  });
  return { port, psql };
}
