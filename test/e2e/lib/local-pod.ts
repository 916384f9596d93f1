import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeObject } from '../../../lib/synth';
import { Cluster } from './cluster';
import { Processes } from './processes';

/**
 * Runs a container of a synthesized pod spec as a local process: the command, arguments and
 * environment exactly as synthesized (secretKeyRef / configMapKeyRef values read from the
 * cluster, `$(VAR)` expanded as the kubelet does), ConfigMap, Secret and projected volumes
 * written to a local directory that stands in for their mount paths, emptyDirs as empty
 * directories. Only what cannot be the same on loopback is rewritten: in-cluster service
 * addresses become local ports (`rewrite`), image binaries become local tools (`commands`).
 */
export interface LocalContainerOptions {
  readonly cluster: Cluster;
  readonly procs: Processes;
  /** Pod spec and namespace of the synthesized workload. */
  readonly pod: { readonly namespace: string; readonly spec: any };
  /** ConfigMaps of the synthesized output (volumes are taken from here, not the cluster). */
  readonly objects: readonly KubeObject[];
  /** Container (or init container) name; default: the first container. */
  readonly container?: string;
  /** Used when the container sets no command (the image's entrypoint). */
  readonly entrypoint?: readonly string[];
  /** Substring rewrites applied to every argument and environment value, in order. */
  readonly rewrite?: ReadonlyArray<readonly [string, string]>;
  /** Whole-argument rewrites (e.g. a port number). */
  readonly rewriteArgs?: Readonly<Record<string, string>>;
  /** Image binaries → local binaries. */
  readonly commands?: Readonly<Record<string, string>>;
  /** Variables to set on top (e.g. PATH). */
  readonly extraEnv?: NodeJS.ProcessEnv;
  /** Name of this run (its directory and log). */
  readonly name: string;
  /** Local directories standing in for PersistentVolumeClaims, by claim name. */
  readonly claimDirs?: Readonly<Record<string, string>>;
}

export interface LocalContainer {
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly root: string;
}

export function prepareContainer(o: LocalContainerOptions): LocalContainer {
  const spec = o.pod.spec;
  const c = o.container ? [...(spec.initContainers ?? []), ...spec.containers].find((x: any) => x.name === o.container) : spec.containers[0];
  if (!c) throw new Error(`${o.name}: no container ${o.container ?? ''}`);
  const root = path.join(o.procs.dir, o.name);
  fs.mkdirSync(root, { recursive: true });

  const secretData = (name: string): Record<string, string> => {
    const s = o.cluster.get<any>(['secret', name, '-n', o.pod.namespace]);
    return Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  const configMapData = (name: string): Record<string, string> => {
    const cm = o.objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name === name && x.metadata.namespace === o.pod.namespace) as any;
    if (!cm) throw new Error(`${o.name}: ConfigMap ${o.pod.namespace}/${name} is not in the synthesized output`);
    return cm.data ?? {};
  };

  // Volumes → local directories.
  const volumeDirs = new Map<string, string>();
  for (const v of spec.volumes ?? []) {
    const dir = path.join(root, 'volumes', v.name);
    fs.mkdirSync(dir, { recursive: true });
    const write = (data: Record<string, string>, items?: Array<{ key: string; path: string }>) => {
      for (const [k, val] of Object.entries(data)) {
        const rel = items ? items.find((i) => i.key === k)?.path : k;
        if (!rel) continue;
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), val);
      }
    };
    if (v.configMap) write(configMapData(v.configMap.name), v.configMap.items);
    else if (v.secret) write(secretData(v.secret.secretName), v.secret.items);
    else if (v.projected) {
      for (const src of v.projected.sources ?? []) {
        if (src.secret) write(secretData(src.secret.name), src.secret.items);
        // The cluster's CA bundle, a ServiceAccount token and the namespace are what a pod's
        // API access consists of: locally, KUBECTL carries the test cluster's credentials.
        if (src.configMap && src.configMap.name !== 'kube-root-ca.crt') write(configMapData(src.configMap.name), src.configMap.items);
      }
    } else if (v.persistentVolumeClaim) {
      // A claim is a directory: `claimDirs` shares one between runs (e.g. a cache filled, then read).
      const shared = o.claimDirs?.[v.persistentVolumeClaim.claimName];
      if (shared) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(shared, { recursive: true });
        fs.symlinkSync(shared, dir);
      }
    } else if (!v.emptyDir) throw new Error(`${o.name}: volume ${v.name} cannot run locally`);
    volumeDirs.set(v.name, dir);
  }
  // Longest mount path first, so /tmp/x is not rewritten as /tmp.
  // A mount without a pod volume comes from a StatefulSet's volumeClaimTemplates: a fresh directory.
  const dirOf = (name: string): string => {
    if (!volumeDirs.has(name)) {
      const dir = path.join(root, 'volumes', name);
      fs.mkdirSync(dir, { recursive: true });
      volumeDirs.set(name, dir);
    }
    return volumeDirs.get(name)!;
  };
  const mounts: Array<[string, string]> = (c.volumeMounts ?? [])
    .map((m: any) => [m.mountPath, dirOf(m.name)] as [string, string])
    .sort((a: [string, string], b: [string, string]) => b[0].length - a[0].length);
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const mountRe = mounts.length ? new RegExp(`(^|[\\s=:'"])(${mounts.map(([m]) => esc(m)).join('|')})(?=/|$|[\\s'"])`, 'g') : undefined;
  const mountDir = new Map(mounts);
  const localize = (s: string): string => {
    let out = s;
    for (const [from, to] of o.rewrite ?? []) out = out.split(from).join(to);
    // One pass: a local directory that starts like a mount path is not rewritten again.
    return mountRe ? out.replace(mountRe, (_m, pre: string, mp: string) => `${pre}${mountDir.get(mp)}`) : out;
  };

  // Environment as the kubelet builds it: envFrom first, then env in order (env wins), with
  // $(VAR) expansion from entries defined before.
  const env: Record<string, string> = {};
  for (const ef of c.envFrom ?? []) {
    if (ef.secretRef) Object.assign(env, secretData(ef.secretRef.name));
    if (ef.configMapRef) Object.assign(env, configMapData(ef.configMapRef.name));
  }
  const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k) => (k in env ? env[k] : m));
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = localize(expand(e.value));
    else if (e.valueFrom?.secretKeyRef) {
      const data = secretData(e.valueFrom.secretKeyRef.name);
      if (!(e.valueFrom.secretKeyRef.key in data)) throw new Error(`${o.name}: Secret ${e.valueFrom.secretKeyRef.name} has no key ${e.valueFrom.secretKeyRef.key}`);
      env[e.name] = data[e.valueFrom.secretKeyRef.key];
    } else if (e.valueFrom?.configMapKeyRef) env[e.name] = localize(configMapData(e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key]);
    else throw new Error(`${o.name}: env ${e.name} cannot be resolved locally`);
  }

  const argv = [...(c.command ?? o.entrypoint ?? []), ...(c.args ?? []).map((a: string) => expand(a))];
  if (argv.length === 0) throw new Error(`${o.name}: no command (give entrypoint)`);
  const [cmd, ...rest] = argv.map((a, i) => (i > 0 && o.rewriteArgs && a in o.rewriteArgs ? o.rewriteArgs[a] : localize(a)));
  const command = o.commands?.[cmd] ?? (cmd === '/bin/sh' ? 'sh' : cmd);
  return { command, args: rest, env: { PATH: process.env.PATH, ...env, ...o.extraEnv }, root };
}

/** Runs the container to completion; throws with its output when it fails. */
export function runContainer(o: LocalContainerOptions, timeoutMs = 300_000): string {
  const c = prepareContainer(o);
  const r = spawnSync(c.command, c.args, { env: c.env, cwd: c.root, encoding: 'utf8', timeout: timeoutMs });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${o.name} (${c.command} ${c.args.join(' ')}) exited ${r.status ?? r.signal}:\n${out}`);
  return out;
}

/** Starts the container as a long-running local process. */
export function startContainer(o: LocalContainerOptions): LocalContainer {
  const c = prepareContainer(o);
  o.procs.start(o.name, c.command, c.args, c.env, c.root);
  return c;
}
