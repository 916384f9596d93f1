/**
 * Identity assertions of the e2e suite: the synthesized Keycloak server, realm file and realm Job
 * run for real on loopback (Keycloak from test/e2e/tools, PostgreSQL 15), and a tenant user logs
 * in through a browser-style authorization-code flow. While it runs, the SSO gates and the model
 * token gates (real oauth2-proxy) are checked against it. Registered into each example's suite by
 * e2e.test.ts; skips itself when the example has no Keycloak.
 *
 * The core, `exerciseRealKeycloak`, takes only the synthesized objects and a way to read Secret
 * values, so it also runs outside a cluster (with generated values) while developing.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { Keycloak } from '../../constructs/identity/keycloak';
import { KUBERNETES_CLIENT_ID } from '../../constructs/identity/kubernetes-access';
import { KSERVE_NAMESPACE } from '../../constructs/serving/kserve';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';
import { exerciseSsoGates, exerciseTokenGates, GateUser } from './sso-gate';
import { freePort, Processes, startPostgres } from './lib/processes';
import { secretData } from './lib/storage';

const NAMESPACE = 'keycloak';
const REALM_CONFIGMAP = 'keycloak-realm';
/** First start on an empty database takes ~80 s on a busy 2-core machine (docs/design/identity.md). */
const READY_TIMEOUT_MS = 240_000;

export function identityTests(state: () => SuiteState): void {
  it('real Keycloak imports the synthesized realm; a tenant user gets a token with its group; re-applying keeps the user; every SSO gate and model token gate (real oauth2-proxy) lets in only its groups', { timeout: 600_000 }, async (t) => {
    const s = state();
    const objects = s.files.flatMap((f) => f.objects);
    if (!objects.some((o) => o.kind === 'ConfigMap' && o.metadata.namespace === NAMESPACE && o.metadata.name === REALM_CONFIGMAP)) {
      return t.skip('no Keycloak in this example');
    }
    const keycloak = s.platform.node.root.node.findAll().find((c): c is Keycloak => c instanceof Keycloak);
    assert.ok(keycloak, 'the tree has a Keycloak construct');
    const tenant = s.platform.tenants[0];
    assert.ok(tenant, 'the example has a tenant');
    const env = s.cluster.env;
    const tool = (k: string) => env[k] ?? assert.fail(`${k} is not set (test/e2e/tools/env.sh)`);
    const secrets = new Map<string, Record<string, string>>();
    const value = (namespace: string, name: string, key: string): string => {
      const id = `${namespace}/${name}`;
      if (!secrets.has(id)) secrets.set(id, secretData(s.cluster, namespace, name));
      return secrets.get(id)![key] ?? assert.fail(`Secret ${id} has no key ${key}`);
    };
    const result = await exerciseRealKeycloak({
      objects,
      secretValue: value,
      keycloakHome: tool('MLPLAT_KEYCLOAK_HOME'),
      postgresBin: tool('MLPLAT_POSTGRES_BIN'),
      realm: keycloak.realm,
      issuerUrl: keycloak.issuerUrl,
      tenantGroup: tenant.groups[0],
      whileRunning: async ({ base, createUser }) => {
        // Every SSO gate as synthesized, with a tenant member and a platform admin.
        const tenantUser = { ...(await createUser('e2e-tenant-member', [tenant.groups[0]])), groups: [tenant.groups[0]] };
        const adminGroup = keycloak.roleGroups.admin[0];
        const adminUser = { ...(await createUser('e2e-platform-admin', [adminGroup])), groups: [adminGroup] };
        const gates = await exerciseSsoGates({
          objects,
          secretValue: value,
          oauth2ProxyBin: tool('MLPLAT_OAUTH2_PROXY_BIN'),
          keycloakBase: base,
          keycloakInternalUrl: keycloak.endpoint.url,
          keycloakPublicOrigin: new URL(keycloak.issuerUrl).origin,
          users: [tenantUser, adminUser],
        });
        for (const g of gates) t.diagnostic(`SSO gate ${g.app}: ${Object.entries(g.outcome).map(([u, c]) => `${u} ${c}`).join(', ')}`);
        // Admin consoles (and Keycloak's admin paths) refuse tenants; the others let both in.
        for (const g of gates) {
          const adminOnly = g.app === 'minio' || g.app === 'ceph' || g.app === 'auth';
          assert.equal(g.outcome['e2e-tenant-member'], adminOnly ? 403 : 202, `${g.app}: tenant member`);
          assert.equal(g.outcome['e2e-platform-admin'], 202, `${g.app}: platform admin`);
        }

        // Model endpoints: each tenant's token gate takes the ID token kubectl's oidc-login gets
        // from the public client (authorization code + PKCE, no secret), from its members and
        // the platform admins only.
        if (!objects.some((o) => o.kind === 'Deployment' && o.metadata.namespace === KSERVE_NAMESPACE && o.metadata.name.startsWith('gate-'))) return;
        const realmDoc = JSON.parse(one(objects, 'ConfigMap', REALM_CONFIGMAP).data['realm.json']);
        const kubectlClient = realmDoc.clients.find((c: any) => c.clientId === KUBERNETES_CLIENT_ID) ?? assert.fail(`the realm has no client ${KUBERNETES_CLIENT_ID}`);
        assert.equal(kubectlClient.publicClient, true, `${KUBERNETES_CLIENT_ID} is a public client`);
        const loopback = 'http://localhost:8000';
        assert.ok(kubectlClient.redirectUris.includes(loopback), `${KUBERNETES_CLIENT_ID} accepts oidc-login's ${loopback}`);
        const members = new Map<string, GateUser>();
        for (const tn of s.platform.tenants) members.set(tn.name, { ...(await createUser(`e2e-token-${tn.name}`, [tn.groups[0]])), groups: [tn.groups[0]] });
        const tokenGates = await exerciseTokenGates({
          objects,
          secretValue: value,
          oauth2ProxyBin: tool('MLPLAT_OAUTH2_PROXY_BIN'),
          keycloakBase: base,
          keycloakInternalUrl: keycloak.endpoint.url,
          namespace: KSERVE_NAMESPACE,
          idToken: async (u) => {
            const tokens = await authorizationCodeLogin(base, keycloak.realm, { clientId: KUBERNETES_CLIENT_ID, redirectUris: [loopback] }, u.username, u.password, keycloak.issuerUrl);
            assert.ok([claims(tokens.id_token).aud].flat().includes(KUBERNETES_CLIENT_ID), `${u.username}'s ID token is for ${KUBERNETES_CLIENT_ID}`);
            return tokens.id_token;
          },
          users: [...members.values(), adminUser],
        });
        for (const g of tokenGates) {
          const tenant = s.platform.tenants.find((tn) => `gate-${tn.name}` === g.gate) ?? assert.fail(`token gate ${g.gate} guards no tenant`);
          assert.equal(g.outcome[`e2e-token-${tenant.name}`], 202, `${g.gate}: a member of ${tenant.name}`);
          assert.equal(g.outcome['e2e-platform-admin'], 202, `${g.gate}: a platform admin`);
          for (const other of s.platform.tenants.filter((tn) => !tn.groups.some((grp) => tenant.groups.includes(grp)))) {
            assert.ok([401, 403].includes(g.outcome[`e2e-token-${other.name}`]), `${g.gate}: a member of ${other.name} is refused (got ${g.outcome[`e2e-token-${other.name}`]})`);
          }
          assert.equal(g.anonymous, 401, `${g.gate}: no token`);
          t.diagnostic(`token gate ${g.gate}: ${Object.entries(g.outcome).map(([u, c]) => `${u} ${c}`).join(', ')}, no token ${g.anonymous}, forged ${g.forged}`);
        }
      },
    });
    t.diagnostic(`Keycloak ready in ${result.readySeconds.toFixed(1)} s; first realm apply ${result.firstApplySeconds.toFixed(1)} s; unchanged re-apply ${result.reapplySeconds.toFixed(1)} s`);
  });
}

export interface RealKeycloakOptions {
  /** Every synthesized object of the platform. */
  readonly objects: readonly KubeObject[];
  /** A value of a Secret as the cluster holds it (generated in-cluster, never in the output). */
  readonly secretValue: (namespace: string, name: string, key: string) => string;
  /** The pre-built Keycloak distribution (MLPLAT_KEYCLOAK_HOME); used read-only. */
  readonly keycloakHome: string;
  /** PostgreSQL 15 binaries (MLPLAT_POSTGRES_BIN). */
  readonly postgresBin: string;
  /** Realm the platform declares. */
  readonly realm: string;
  /** What tokens must carry as `iss` (the platform's issuer URL, https://auth.<domain>/realms/<realm>). */
  readonly issuerUrl: string;
  /** A realm group of a tenant; the fixture user joins it. */
  readonly tenantGroup: string;
  /** Progress lines. @default - none */
  readonly log?: (line: string) => void;
  /**
   * Runs while Keycloak still runs, after the realm checks, with its loopback URL and a way to
   * make users in realm groups (e.g. to log in through the SSO gates).
   * @default - nothing
   */
  readonly whileRunning?: (kc: { readonly base: string; readonly createUser: (username: string, groups: readonly string[]) => Promise<{ username: string; password: string }> }) => Promise<void>;
}

export interface RealKeycloakResult {
  readonly readySeconds: number;
  readonly firstApplySeconds: number;
  readonly reapplySeconds: number;
}

/**
 * Starts PostgreSQL and the synthesized Keycloak, runs the synthesized realm Job twice, logs a
 * tenant user in, then changes, drifts and re-applies the realm and checks the user, their
 * membership and their session survived. Everything started is stopped before it returns.
 */
export async function exerciseRealKeycloak(o: RealKeycloakOptions): Promise<RealKeycloakResult> {
  const log = o.log ?? (() => undefined);
  const objects = o.objects;
  const realmCm = one(objects, 'ConfigMap', REALM_CONFIGMAP);
  const realmJson: string = realmCm.data['realm.json'];
  const realmDoc = JSON.parse(realmJson);
  assert.equal(realmDoc.realm, o.realm, 'realm.json names the platform realm');
  const deployment = one(objects, 'Deployment', 'keycloak');
  const server = deployment.spec.template.spec.containers.find((c: any) => c.name === 'keycloak') ?? assert.fail('Deployment keycloak has no container "keycloak"');
  const job = one(objects, 'Job', /^keycloak-realm/);
  const applier = job.spec.template.spec.containers[0];
  const serverEnv = containerEnv(server, objects, o.secretValue);
  const jobEnv = containerEnv(applier, objects, o.secretValue);

  // What the rewrite below replaces must be right in the first place.
  assert.equal(jobEnv.KC_CLIENT_ID, serverEnv.KC_BOOTSTRAP_ADMIN_CLIENT_ID, 'the Job logs in as the bootstrap service account');
  assert.equal(jobEnv.KC_CLIENT_SECRET, serverEnv.KC_BOOTSTRAP_ADMIN_CLIENT_SECRET, 'with its secret');
  const internal = new URL(jobEnv.KC_URL);
  const service = one(objects, 'Service', internal.hostname.split('.')[0]);
  assert.equal(internal.hostname, `${service.metadata.name}.${NAMESPACE}.svc`, 'KC_URL names the Keycloak Service');
  const servicePort = service.spec.ports.find((p: any) => p.port === Number(internal.port)) ?? assert.fail(`Service keycloak has no port ${internal.port}`);
  const httpPort = server.ports.find((p: any) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort);
  assert.equal(httpPort?.containerPort, Number(serverEnv.KC_HTTP_PORT ?? 8080), 'the Service port targets Keycloak\'s HTTP port');
  for (const [k, v] of Object.entries<string>(service.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v, `Service selector ${k}`);
  assert.equal(new URL(o.issuerUrl).origin, serverEnv.KC_HOSTNAME, 'KC_HOSTNAME is the issuer\'s origin');

  const client = appClient(realmDoc, jobEnv);
  const procs = new Processes('mlplat-e2e-keycloak');
  try {
    // PostgreSQL with the role and database KC_DB_URL names (CloudNativePG's job in a cluster).
    const pg = await startPostgres(procs, o.postgresBin);
    const db = /^jdbc:postgresql:\/\/([^/:]+):(\d+)\/([^?]+)/.exec(serverEnv.KC_DB_URL) ?? assert.fail(`KC_DB_URL ${serverEnv.KC_DB_URL}`);
    assert.equal(serverEnv.KC_DB, 'postgres');
    pg.psql(`CREATE ROLE "${serverEnv.KC_DB_USERNAME}" LOGIN PASSWORD '${serverEnv.KC_DB_PASSWORD.replace(/'/g, "''")}'`);
    pg.psql(`CREATE DATABASE "${db[3]}" OWNER "${serverEnv.KC_DB_USERNAME}"`);

    // Keycloak as synthesized; only addresses and the cache (no cluster discovery) differ.
    const [port, managementPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const child = startKeycloak(procs, o.keycloakHome, server, {
      ...serverEnv,
      KC_DB_URL: serverEnv.KC_DB_URL.replace(`//${db[1]}:${db[2]}/`, `//127.0.0.1:${pg.port}/`),
      KC_HTTP_HOST: '127.0.0.1',
      KC_HTTP_PORT: String(port),
      KC_HTTP_MANAGEMENT_PORT: String(managementPort),
      KC_CACHE: 'local',
    });
    await waitReady(child, `http://127.0.0.1:${managementPort}/health/ready`, () => procs.tail('keycloak'));
    const readySeconds = (Date.now() - started) / 1000;
    log(`keycloak ready in ${readySeconds.toFixed(1)} s`);

    // The realm Job, twice: the second run finds nothing to do.
    const secretsOfJob = Object.entries(jobEnv).filter(([k]) => k === 'KC_CLIENT_SECRET' || k.startsWith('OIDC_SECRET_')).map(([, v]) => v);
    const apply = (realmText = realmJson, extra: Record<string, string> = {}) => {
      const r = runApplier(procs, job, applier, objects, { ...jobEnv, KC_URL: base, ...extra }, realmText);
      for (const secret of secretsOfJob) assert.ok(!r.output.includes(secret), 'the applier never prints a secret');
      return r;
    };
    const first = apply();
    assert.equal(first.status, 0, first.output);
    assert.ok(first.changes > 0, first.output);
    const second = apply();
    assert.equal(second.status, 0, second.output);
    assert.equal(second.changes, 0, `an unchanged realm is applied with 0 changes:\n${second.output}`);
    const refused = apply(realmJson, { KC_CLIENT_SECRET: 'not-the-secret', KC_WAIT_SECONDS: '5' });
    assert.notEqual(refused.status, 0, 'wrong credentials fail the Job');
    assert.match(refused.output, /refused: 401/);

    // A tenant user, made by hand as an admin would (a realm file never holds users).
    const admin = new AdminApi(base, o.realm, jobEnv.KC_LOGIN_REALM ?? 'master', jobEnv.KC_CLIENT_ID, jobEnv.KC_CLIENT_SECRET);
    const group = ((await admin.call('GET', `/groups?search=${encodeURIComponent(o.tenantGroup)}&exact=true`)) as any[]).find((g) => g.name === o.tenantGroup);
    assert.ok(group, `the realm has the tenant group ${o.tenantGroup}`);
    const password = randomBytes(18).toString('base64url');
    const username = 'e2e-tenant-user';
    const userId = await admin.create('/users', {
      username, enabled: true, email: `${username}@example.com`, emailVerified: true, firstName: 'E2e', lastName: 'User',
      credentials: [{ type: 'password', value: password, temporary: false }],
    });
    await admin.call('PUT', `/users/${userId}/groups/${group.id}`);

    // A browser login through the app client: the ID token names the tenant group.
    const tokens = await authorizationCodeLogin(base, o.realm, client, username, password, o.issuerUrl);
    const idToken = claims(tokens.id_token);
    assert.equal(idToken.iss, o.issuerUrl);
    assert.ok([idToken.aud].flat().includes(client.clientId), `aud ${JSON.stringify(idToken.aud)} names ${client.clientId}`);
    assert.ok(idToken.groups?.includes(o.tenantGroup), `groups ${JSON.stringify(idToken.groups)} has ${o.tenantGroup}`);
    const clientBefore = (await admin.call('GET', `/clients?clientId=${encodeURIComponent(client.clientId)}`))[0];

    // A changed realm (one more redirect URI), a hand-made drift, the original again.
    const changed = JSON.parse(realmJson);
    changed.clients.find((c: any) => c.clientId === client.clientId).redirectUris.push('https://e2e.invalid/callback');
    const withChange = apply(JSON.stringify(changed));
    assert.equal(withChange.status, 0, withChange.output);
    assert.ok(withChange.changes > 0, withChange.output);
    await admin.call('DELETE', `/clients/${clientBefore.id}/default-client-scopes/${(await admin.call('GET', '/client-scopes')).find((x: any) => x.name === 'groups').id}`);
    const back = apply();
    assert.equal(back.status, 0, back.output);
    assert.match(back.output, /^PUT \/\S+\/clients\/[0-9a-f-]+$/m, 'the extra redirect URI is removed');
    assert.match(back.output, /^PUT \S+\/default-client-scopes\/\S+$/m, 'the removed groups scope is restored');
    const reapplyStarted = Date.now();
    const last = apply();
    const reapplySeconds = (Date.now() - reapplyStarted) / 1000;
    assert.equal(last.changes, 0, last.output);

    // The user, the membership and the session survived; the client kept its identity.
    const clientAfter = (await admin.call('GET', `/clients?clientId=${encodeURIComponent(client.clientId)}`))[0];
    assert.equal(clientAfter.id, clientBefore.id, 'the client was updated in place');
    assert.deepEqual([...clientAfter.redirectUris].sort(), [...client.redirectUris].sort());
    const user = await admin.call('GET', `/users/${userId}`);
    assert.equal(user.username, username);
    assert.deepEqual(((await admin.call('GET', `/users/${userId}/groups`)) as any[]).map((g) => g.name), [o.tenantGroup]);
    const refreshed = await tokenRequest(base, o.realm, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.clientId, client_secret: client.secret });
    assert.equal(claims(refreshed.id_token).sub, idToken.sub);
    assert.ok(claims(refreshed.id_token).groups?.includes(o.tenantGroup), 'the refreshed token still names the tenant group');

    if (o.whileRunning) {
      const createUser = async (name: string, groups: readonly string[]) => {
        const pw = randomBytes(18).toString('base64url');
        const id = await admin.create('/users', {
          username: name, enabled: true, email: `${name}@example.com`, emailVerified: true, firstName: 'E2e', lastName: name,
          credentials: [{ type: 'password', value: pw, temporary: false }],
        });
        const all = (await admin.call('GET', '/groups?briefRepresentation=true&max=1000')) as any[];
        for (const g of groups) await admin.call('PUT', `/users/${id}/groups/${(all.find((x) => x.name === g) ?? assert.fail(`no realm group ${g}`)).id}`);
        return { username: name, password: pw };
      };
      await o.whileRunning({ base, createUser });
    }
    return { readySeconds, firstApplySeconds: first.seconds, reapplySeconds };
  } finally {
    procs.cleanup();
  }
}

function one(objects: readonly KubeObject[], kind: string, name: string | RegExp): any {
  const hits = objects.filter((x) => x.kind === kind && x.metadata.namespace === NAMESPACE && (typeof name === 'string' ? x.metadata.name === name : name.test(x.metadata.name)));
  assert.equal(hits.length, 1, `one ${kind} ${NAMESPACE}/${name} in the output`);
  return hits[0];
}

/** A container's environment as the kubelet builds it (secretKeyRef through `secretValue`). */
function containerEnv(c: any, objects: readonly KubeObject[], secretValue: RealKeycloakOptions['secretValue']): Record<string, string> {
  assert.equal(c.envFrom, undefined, `${c.name}: envFrom is not resolved here`);
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m: string, k: string) => env[k] ?? m);
    else if (from?.secretKeyRef) env[e.name] = secretValue(NAMESPACE, from.secretKeyRef.name, from.secretKeyRef.key);
    else if (from?.configMapKeyRef) env[e.name] = one(objects, 'ConfigMap', from.configMapKeyRef.name).data[from.configMapKeyRef.key];
    else assert.fail(`${c.name}: env ${e.name} cannot be resolved locally`);
  }
  return env;
}

/** The realm's first confidential app client with a login flow, and its secret as the Job passes it. */
function appClient(realm: any, jobEnv: Record<string, string>): OidcClient & { secret: string } {
  const c = (realm.clients ?? []).find((x: any) => !x.publicClient && x.standardFlowEnabled && /^\$\(env:\w+\)$/.test(x.secret ?? ''));
  assert.ok(c, 'the realm has a confidential app client whose secret comes from the environment');
  const variable = /^\$\(env:(\w+)\)$/.exec(c.secret)![1];
  assert.ok(jobEnv[variable], `the realm Job sets ${variable}`);
  return { clientId: c.clientId, secret: jobEnv[variable], redirectUris: c.redirectUris };
}

/**
 * `kc.sh start --optimized` on the pre-built tree (the image re-augments at start instead). kc.sh
 * takes its home from its own path, so a copy of it in a fresh directory beside links to the
 * shared tree gives this run its own `data/` and leaves the tool cache untouched.
 */
function startKeycloak(procs: Processes, home: string, container: any, env: Record<string, string>): ChildProcess {
  const own = path.join(procs.dir, 'keycloak-home');
  fs.mkdirSync(path.join(own, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(home, 'bin', 'kc.sh'), path.join(own, 'bin', 'kc.sh'));
  for (const entry of ['lib', 'conf', 'providers', 'themes']) fs.symlinkSync(path.join(home, entry), path.join(own, entry));
  const tmp = path.join(own, 'tmp');
  fs.mkdirSync(tmp);
  assert.ok(!container.command || /(^|\/)kc\.sh$/.test(container.command.at(-1)), `keycloak runs kc.sh, not ${container.command}`);
  const args: string[] = container.args ?? ['start'];
  assert.equal(args[0], 'start', 'Keycloak runs in production mode');
  const argv = [...args, ...(args.includes('--optimized') ? [] : ['--optimized']), `-Djava.io.tmpdir=${tmp}`];
  return procs.start('keycloak', path.join(own, 'bin', 'kc.sh'), argv, { PATH: process.env.PATH, HOME: own, ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}), ...env });
}

async function waitReady(child: ChildProcess, url: string, tail: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) assert.fail(`Keycloak exited (${child.exitCode ?? child.signalCode}):\n${tail()}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) assert.fail(`Keycloak not ready within ${READY_TIMEOUT_MS / 1000} s:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The realm Job's container as a local process: its command with the ConfigMap mount as a directory. */
function runApplier(procs: Processes, job: any, container: any, objects: readonly KubeObject[], env: Record<string, string>, realmText: string): { status: number | null; output: string; changes: number; seconds: number } {
  const dir = fs.mkdtempSync(path.join(procs.dir, 'realm-job-'));
  const mount = container.volumeMounts.find((m: any) => job.spec.template.spec.volumes.find((v: any) => v.name === m.name)?.configMap?.name === REALM_CONFIGMAP);
  assert.ok(mount, `the realm Job mounts ConfigMap ${REALM_CONFIGMAP}`);
  for (const [k, v] of Object.entries<string>(one(objects, 'ConfigMap', REALM_CONFIGMAP).data)) fs.writeFileSync(path.join(dir, k), k === 'realm.json' ? realmText : v);
  const [cmd, ...args] = [...(container.command ?? []), ...(container.args ?? [])].map((a: string) => a.split(`${mount.mountPath}/`).join(`${dir}/`));
  assert.match(cmd, /^python3?$/, 'the realm Job runs python');
  const started = Date.now();
  const r = spawnSync('python3', args, { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 120_000 });
  const output = `${r.stdout}${r.stderr}`;
  const last = /^realm \S+: (\d+) change\(s\)$/m.exec(r.stdout);
  return { status: r.status, output, changes: last ? Number(last[1]) : -1, seconds: (Date.now() - started) / 1000 };
}

class AdminApi {
  private token?: string;
  constructor(
    private readonly base: string,
    private readonly realm: string,
    private readonly loginRealm: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  async call(method: string, p: string, body?: unknown): Promise<any> {
    const r = await this.send(method, p, body);
    const text = await r.text();
    return text ? JSON.parse(text) : undefined;
  }

  /** POSTs and returns the new object's id (from Location). */
  async create(p: string, body: unknown): Promise<string> {
    const r = await this.send('POST', p, body);
    return r.headers.get('location')!.split('/').at(-1)!;
  }

  private async send(method: string, p: string, body?: unknown): Promise<Response> {
    this.token ??= (await tokenRequest(this.base, this.loginRealm, { grant_type: 'client_credentials', client_id: this.clientId, client_secret: this.clientSecret })).access_token;
    const r = await fetch(`${this.base}/admin/realms/${this.realm}${p}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) assert.fail(`${method} ${p}: ${r.status} ${await r.text()}`);
    return r;
  }
}

async function tokenRequest(base: string, realm: string, form: Record<string, string>): Promise<any> {
  const r = await fetch(`${base}/realms/${realm}/protocol/openid-connect/token`, { method: 'POST', body: new URLSearchParams(form) });
  const body: any = await r.json();
  assert.equal(r.status, 200, `token (${form.grant_type}): ${r.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
  return body;
}

/** A client as the login below uses it; public clients have no secret. */
interface OidcClient {
  readonly clientId: string;
  readonly secret?: string;
  readonly redirectUris: readonly string[];
}

/**
 * What a browser does: open the authorization endpoint, post the login form with the cookies it
 * set, follow the redirect to the app only as far as its `code`, which the app exchanges (with
 * its secret, if it has one, and the PKCE verifier). Keycloak writes its public URL (https://auth.<domain>) into
 * the form; the request goes to the same path on loopback.
 */
async function authorizationCodeLogin(base: string, realm: string, client: OidcClient, username: string, password: string, issuerUrl: string): Promise<any> {
  const cookies = new Map<string, string>();
  const keep = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const redirectUri = client.redirectUris[0];
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const auth = new URL(`${base}/realms/${realm}/protocol/openid-connect/auth`);
  auth.search = new URLSearchParams({
    response_type: 'code', client_id: client.clientId, redirect_uri: redirectUri, scope: 'openid', state, nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString();
  const page = await fetch(auth, { redirect: 'manual' });
  keep(page);
  const html = await page.text();
  assert.equal(page.status, 200, `login page: ${page.status}`);
  const action = /<form[^>]*\baction="([^"]+)"/.exec(html)?.[1].replace(/&amp;/g, '&') ?? assert.fail('no login form on the page');
  const publicOrigin = new URL(issuerUrl).origin;
  assert.ok(action.startsWith(`${publicOrigin}/`), `the login form posts to the public URL ${publicOrigin}: ${action}`);
  const posted = await fetch(`${base}${action.slice(publicOrigin.length)}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, credentialId: '' }),
  });
  const location = posted.headers.get('location') ?? '';
  if (posted.status !== 302) {
    const text = (await posted.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    assert.fail(`login answered ${posted.status}, not a redirect to the app: ${/kc-feedback-text[^>]*>([^<]*)/.exec(text)?.[1] ?? text.slice(0, 300)}`);
  }
  assert.ok(location.startsWith(redirectUri), `redirected to the app (${redirectUri}), not ${location.split('?')[0]}`);
  const answer = new URL(location).searchParams;
  assert.equal(answer.get('state'), state);
  const code = answer.get('code') ?? assert.fail('no code in the redirect');
  return tokenRequest(base, realm, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.clientId, ...(client.secret ? { client_secret: client.secret } : {}), code_verifier: verifier });
}

function claims(jwt: string): any {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}
