import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { PlatformDatabase } from '../../constructs/database/postgres';
import { GpuOperator } from '../../constructs/gpu/operator';
import { Keycloak, KEYCLOAK_NAMESPACE, KeycloakOptions, secretEnvName } from '../../constructs/identity/keycloak';
import { KUBERNETES_CLIENT_ID } from '../../constructs/identity/kubernetes-access';
import { OIDC_CLIENT_KEYS } from '../../constructs/identity/types';
import { Tenant } from '../../constructs/tenancy/tenant';
import { OutputArtifact } from '../../lib/artifacts';
import { parsePlatform } from '../../lib/config/load';
import { KubeObject, OutputFile, outputFiles } from '../../lib/synth';
import { VERSIONS } from '../../lib/versions';
import { platformApp, MlPlatform } from '../../stacks/platform';
import { ACME, acmeWith, all, find, objectsOf, ROOT, testChart } from '../helpers';

const INITECH = path.join(ROOT, 'examples', 'initech', 'platform.yaml');
const DOMAIN = 'ml.test.example';

/** A Keycloak on a real platform database and credentials generator, alone in a test chart. */
function fixture(options: KeycloakOptions = {}) {
  const { app, chart } = testChart();
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const database = new PlatformDatabase(chart, 'Db', { credentials });
  const keycloak = new Keycloak(chart, 'Keycloak', { ...options, credentials, database });
  const gpus = new GpuOperator(chart, 'Gpu');
  const tenant = (name: string, groups: string[]) => new Tenant(chart, `Tenant-${name}`, { name, groups, cpu: '8', memory: '32Gi', gpus });
  return { app, chart, credentials, database, keycloak, tenant };
}

/** A confidential app client as an SSO gate registers it. */
function appClient(clientId: string, namespace = clientId) {
  return { clientId, name: clientId.toUpperCase(), namespace, redirectUris: [`https://${clientId}.${DOMAIN}/oauth2/callback`] };
}

type SecretSource = { kind: 'gen'; length: number } | { kind: 'lit'; value: string } | { kind: 'copy'; namespace: string; name: string; key: string };

/** The Secrets the credentials script creates, by `namespace/name`, with where each key comes from. */
function declaredSecrets(credentials: CredentialGenerator): Map<string, { type: string; keys: Map<string, SecretSource> }> {
  const unq = (s: string) => s.replace(/^'(.*)'$/, '$1');
  const out = new Map<string, { type: string; keys: Map<string, SecretSource> }>();
  let current: Map<string, SecretSource> | undefined;
  for (const line of credentials.script().split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'begin') {
      current = new Map();
      out.set(`${unq(words[1])}/${unq(words[2])}`, { type: unq(words[3]), keys: current });
    } else if (current && words[0] === 'gen') current.set(words[1], { kind: 'gen', length: Number(words[2]) });
    else if (current && words[0] === 'lit') current.set(words[1], { kind: 'lit', value: unq(words.slice(2).join(' ')) });
    else if (current && words[0] === 'copy') current.set(words[1], { kind: 'copy', namespace: unq(words[2]), name: unq(words[3]), key: words[4] });
    else if (words[0] === 'commit') current = undefined;
  }
  return out;
}

const envOf = (container: any): Map<string, any> => new Map((container.env ?? []).map((e: any) => [e.name, e]));
const secretRefOf = (e: any): { name: string; key: string } => e?.valueFrom?.secretKeyRef;
const server = (objects: readonly KubeObject[]): any => find(objects, 'Deployment', 'keycloak', KEYCLOAK_NAMESPACE);
const realmJob = (objects: readonly KubeObject[]): any => {
  const jobs = all(objects, 'Job', KEYCLOAK_NAMESPACE);
  assert.equal(jobs.length, 1, 'one realm Job');
  return jobs[0];
};
const realmOf = (objects: readonly KubeObject[]): any => JSON.parse(find(objects, 'ConfigMap', 'keycloak-realm', KEYCLOAK_NAMESPACE).data['realm.json']);

/** acme and initech, synthesized once for every test that reads them. */
const synthCache = new Map<string, { objects: KubeObject[]; files: OutputFile[]; platform: MlPlatform }>();
function synthExample(text: string): { objects: KubeObject[]; files: OutputFile[]; platform: MlPlatform } {
  let hit = synthCache.get(text);
  if (!hit) {
    const { app, platform } = platformApp(parsePlatform(text, 'platform.yaml').spec);
    const files = outputFiles(app);
    hit = { objects: objectsOf(app), files, platform };
    synthCache.set(text, hit);
  }
  return hit;
}
const acme = () => synthExample(fs.readFileSync(ACME, 'utf8'));
const initech = () => synthExample(fs.readFileSync(INITECH, 'utf8'));
const fileOf = (files: readonly OutputFile[], name: string): string => {
  const f = files.find((x) => x.name === name);
  assert.ok(f, `no output file ${name} (have: ${files.map((x) => x.name).join(', ')})`);
  return f.content;
};

describe('Keycloak server', () => {
  it('runs in production mode on the platform database, with the public hostname behind the proxy', () => {
    const { app, database, credentials } = fixture();
    const objects = objectsOf(app);
    const d = server(objects);
    const c = d.spec.template.spec.containers[0];
    const env = envOf(c);
    assert.deepEqual(c.args, ['start'], 'production mode');
    const kc = VERSIONS.images.keycloak;
    assert.equal(c.image, `${kc.registry}/${kc.repository}:${kc.tag}`, 'default image: the catalog');
    assert.equal(env.get('KC_DB').value, 'postgres');
    // The database: the read-write Service CloudNativePG creates for the platform Cluster, db `keycloak`.
    const cluster = find(objects, 'Cluster', 'platform', 'databases');
    assert.equal(database.endpoint.host, `${cluster.metadata.name}-rw.${cluster.metadata.namespace}.svc`);
    assert.equal(env.get('KC_DB_URL').value, `jdbc:postgresql://${database.endpoint.host}:${database.endpoint.port}/keycloak`);
    assert.equal(find(objects, 'Database', 'keycloak', 'databases').spec.name, 'keycloak');
    // Its login is a copy, in namespace keycloak, of the role's generated password.
    assert.deepEqual(secretRefOf(env.get('KC_DB_USERNAME')), { name: 'keycloak-db', key: 'username' });
    assert.deepEqual(secretRefOf(env.get('KC_DB_PASSWORD')), { name: 'keycloak-db', key: 'password' });
    const login = declaredSecrets(credentials).get('keycloak/keycloak-db');
    assert.ok(login, 'keycloak-db is declared in namespace keycloak');
    assert.deepEqual(login.keys.get('password'), { kind: 'copy', namespace: 'databases', name: 'role-keycloak', key: 'password' });
    assert.deepEqual(declaredSecrets(credentials).get('databases/role-keycloak')!.keys.get('password'), { kind: 'gen', length: 32 });
    // Public hostname as a full URL (fixed issuer); TLS ends at Traefik.
    assert.equal(env.get('KC_HOSTNAME').value, `https://auth.${DOMAIN}`);
    assert.equal(env.get('KC_PROXY_HEADERS').value, 'xforwarded');
    assert.equal(env.get('KC_HTTP_ENABLED').value, 'true');
    assert.equal(env.get('KC_HEALTH_ENABLED').value, 'true');
    assert.equal(env.get('KC_METRICS_ENABLED').value, 'true');
    assert.equal(env.get('KC_CACHE').value, 'local', 'one replica: local caches');
    assert.equal(d.spec.replicas, 1, 'default replicas');
    assert.equal(all(objects, 'PodDisruptionBudget', KEYCLOAK_NAMESPACE).length, 0, 'no PDB for one replica');
    assert.ok(!c.ports.some((p: any) => p.name === 'jgroups'), 'no cluster port for one replica');
  });

  it('takes the bootstrap admin (user and client) from a generated Secret: no literal secret anywhere', () => {
    const { app, credentials, keycloak } = fixture();
    keycloak.addClient(appClient('mlflow'));
    const objects = objectsOf(app);
    const env = envOf(server(objects).spec.template.spec.containers[0]);
    const admin = { name: 'keycloak-bootstrap-admin' };
    assert.deepEqual(secretRefOf(env.get('KC_BOOTSTRAP_ADMIN_USERNAME')), { ...admin, key: 'username' });
    assert.deepEqual(secretRefOf(env.get('KC_BOOTSTRAP_ADMIN_PASSWORD')), { ...admin, key: 'password' });
    assert.deepEqual(secretRefOf(env.get('KC_BOOTSTRAP_ADMIN_CLIENT_ID')), { ...admin, key: 'clientId' });
    assert.deepEqual(secretRefOf(env.get('KC_BOOTSTRAP_ADMIN_CLIENT_SECRET')), { ...admin, key: 'clientSecret' });
    const declared = declaredSecrets(credentials).get(`${KEYCLOAK_NAMESPACE}/keycloak-bootstrap-admin`);
    assert.ok(declared, 'the credentials generator declares keycloak-bootstrap-admin in namespace keycloak');
    assert.equal(declared.keys.get('password')!.kind, 'gen');
    assert.equal(declared.keys.get('clientSecret')!.kind, 'gen');
    assert.ok((declared.keys.get('password') as { length: number }).length >= 32);
    assert.equal(declared.keys.get('username')!.kind, 'lit');
    assert.equal(declared.keys.get('clientId')!.kind, 'lit');
    assert.deepEqual(keycloak.bootstrapAdmin.keys, ['username', 'password', 'clientId', 'clientSecret']);
    // Nothing secret is written: no Secret objects, every secret-looking variable is a reference,
    // and the realm file names client secrets by environment variable only.
    assert.equal(all(objects, 'Secret').length, 0);
    for (const o of [server(objects), realmJob(objects)]) {
      for (const e of o.spec.template.spec.containers[0].env) {
        if (/PASSWORD|SECRET/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${o.kind} env ${e.name} must come from a Secret`);
      }
    }
    for (const client of realmOf(objects).clients) if ('secret' in client) assert.match(client.secret, /^\$\(env:[A-Z_][A-Z0-9_]*\)$/);
  });

  it('probes the management port, which the container and the Service expose; the Service selects the pods', () => {
    const { app, keycloak } = fixture();
    const objects = objectsOf(app);
    const d = server(objects);
    const c = d.spec.template.spec.containers[0];
    const env = envOf(c);
    const ports = new Map<string, number>(c.ports.map((p: any) => [p.name, p.containerPort]));
    assert.equal(ports.get('management'), Number(env.get('KC_HTTP_MANAGEMENT_PORT').value));
    assert.equal(ports.get('http'), Number(env.get('KC_HTTP_PORT').value));
    const probes: Record<string, string> = { startupProbe: '/health/started', readinessProbe: '/health/ready', livenessProbe: '/health/live' };
    for (const [probe, p] of Object.entries(probes)) {
      assert.deepEqual(c[probe].httpGet, { path: p, port: 'management' }, probe);
    }
    const svc = find(objects, 'Service', 'keycloak', KEYCLOAK_NAMESPACE);
    assert.deepEqual(svc.spec.selector, d.spec.template.metadata.labels, 'Service selects the server pods');
    assert.deepEqual(d.spec.selector.matchLabels, d.spec.template.metadata.labels);
    assert.deepEqual(svc.spec.selector, keycloak.podSelector);
    for (const name of ['http', 'management']) {
      const sp = svc.spec.ports.find((p: any) => p.name === name);
      assert.ok(sp, `Service port ${name}`);
      assert.ok(ports.has(sp.targetPort), `Service port ${name} targets a container port (${sp.targetPort})`);
      assert.equal(sp.port, ports.get(sp.targetPort));
    }
    assert.equal(svc.spec.ports.find((p: any) => p.name === keycloak.service.port).port, keycloak.endpoint.port);
    assert.equal(keycloak.endpoint.url, `http://keycloak.${KEYCLOAK_NAMESPACE}.svc:8080`);
    assert.equal(keycloak.internalIssuerUrl, `${keycloak.endpoint.url}/realms/test`);
    assert.equal(keycloak.targetPort, ports.get('http'));
  });

  it('follows the security baseline (own ServiceAccount without token, non-root, no capabilities, resources)', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    assert.equal(find(objects, 'Namespace', KEYCLOAK_NAMESPACE).metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(find(objects, 'ServiceAccount', 'keycloak', KEYCLOAK_NAMESPACE).automountServiceAccountToken, false);
    for (const o of [server(objects), realmJob(objects)]) {
      const pod = o.spec.template.spec;
      assert.equal(pod.serviceAccountName, 'keycloak', o.kind);
      assert.equal(pod.automountServiceAccountToken, false, o.kind);
      assert.equal(pod.securityContext.runAsNonRoot, true, o.kind);
      assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
      const c = pod.containers[0];
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${o.kind} resources`);
    }
    assert.equal(server(objects).spec.template.spec.securityContext.runAsUser, 1000, "the image's own user");
  });

  it('runs two replicas with the distributed cache, a cluster port and a PodDisruptionBudget', () => {
    const { app, keycloak } = fixture({ replicas: 2 });
    const objects = objectsOf(app);
    const d = server(objects);
    assert.equal(keycloak.replicas, 2);
    assert.equal(d.spec.replicas, 2);
    assert.equal(envOf(d.spec.template.spec.containers[0]).get('KC_CACHE').value, 'ispn');
    assert.ok(d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'jgroups'));
    const pdb = find(objects, 'PodDisruptionBudget', 'keycloak', KEYCLOAK_NAMESPACE);
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels);
    assert.equal(pdb.spec.maxUnavailable, 1);
  });

  it('refuses a non-positive or fractional replica count', () => {
    assert.throws(() => fixture({ replicas: 0 }), /sso replicas must be a positive integer, got 0/);
    assert.throws(() => fixture({ replicas: 1.5 }), /sso replicas must be a positive integer, got 1\.5/);
  });
});

describe('Keycloak realm as code', () => {
  it('ships the applier and the realm in a ConfigMap that the realm Job mounts and runs against the Service', () => {
    const { app, keycloak } = fixture();
    const objects = objectsOf(app);
    const cm = find(objects, 'ConfigMap', 'keycloak-realm', KEYCLOAK_NAMESPACE);
    assert.deepEqual(Object.keys(cm.data).sort(), ['apply.py', 'realm.json']);
    assert.equal(cm.data['apply.py'], fs.readFileSync(path.join(ROOT, 'constructs', 'identity', 'realm-apply.py'), 'utf8'));
    assert.deepEqual(JSON.parse(cm.data['realm.json']), keycloak.realmDocument());
    const job = realmJob(objects);
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    const mount = c.volumeMounts[0];
    assert.equal(pod.volumes.find((v: any) => v.name === mount.name).configMap.name, cm.metadata.name);
    assert.deepEqual(c.command.slice(-2), [`${mount.mountPath}/apply.py`, `${mount.mountPath}/realm.json`]);
    assert.equal(mount.readOnly, true);
    const env = envOf(c);
    assert.equal(env.get('KC_URL').value, keycloak.endpoint.url, 'the applier calls the Service, not the public host');
    assert.deepEqual(secretRefOf(env.get('KC_CLIENT_ID')), { name: keycloak.bootstrapAdmin.name, key: 'clientId' });
    assert.deepEqual(secretRefOf(env.get('KC_CLIENT_SECRET')), { name: keycloak.bootstrapAdmin.name, key: 'clientSecret' });
    assert.equal(pod.restartPolicy, 'OnFailure');
    const python = VERSIONS.images.python;
    assert.equal(c.image, `${python.registry}/${python.repository}:${python.tag}`);
  });

  it('names the Job after a hash of the realm: equal for the same input, new for a new client or tenant', () => {
    const name = (build: (f: ReturnType<typeof fixture>) => void): string => {
      const f = fixture({ editorGroups: ['ml-leads'] });
      build(f);
      const job = realmJob(objectsOf(f.app));
      assert.match(job.metadata.name, /^keycloak-realm-[0-9a-f]{10}$/);
      return job.metadata.name;
    };
    const base = name((f) => f.keycloak.addClient(appClient('mlflow')));
    assert.equal(name((f) => f.keycloak.addClient(appClient('mlflow'))), base, 'stable for the same input');
    const withClient = name((f) => {
      f.keycloak.addClient(appClient('mlflow'));
      f.keycloak.addClient(appClient('minio'));
    });
    assert.notEqual(withClient, base, 'a new client re-creates the Job');
    const withTenant = name((f) => {
      f.keycloak.addClient(appClient('mlflow'));
      f.keycloak.addTenant(f.tenant('research', ['research']));
    });
    assert.notEqual(withTenant, base, 'a new tenant group re-creates the Job');
    assert.notEqual(withTenant, withClient);
  });

  it('passes one OIDC_SECRET_<CLIENT> per confidential client, and each client secret names exactly that variable', () => {
    const { app, keycloak } = fixture();
    keycloak.addClient(appClient('mlflow'));
    keycloak.addClient(appClient('my-app', 'apps'));
    keycloak.addClient({ clientId: 'cli', name: 'CLI', public: true, redirectUris: ['http://localhost:8000'] });
    const objects = objectsOf(app);
    const env = realmJob(objects).spec.template.spec.containers[0].env as any[];
    const secretVars = env.filter((e) => e.name.startsWith('OIDC_SECRET_'));
    assert.deepEqual(secretVars.map((e) => e.name), ['OIDC_SECRET_MLFLOW', 'OIDC_SECRET_MY_APP']);
    assert.equal(secretEnvName('my-app'), 'OIDC_SECRET_MY_APP');
    const realm = realmOf(objects);
    for (const e of secretVars) {
      const ref = secretRefOf(e);
      const client = realm.clients.find((c: any) => `oidc-${c.clientId}` === ref.name);
      assert.ok(client, `${e.name} reads the Secret of a realm client (${ref.name})`);
      assert.equal(ref.key, OIDC_CLIENT_KEYS.clientSecret);
      assert.equal(client.secret, `$(env:${e.name})`);
      assert.equal(client.publicClient, false);
      assert.equal(client.clientAuthenticatorType, 'client-secret');
    }
    const cli = realm.clients.find((c: any) => c.clientId === 'cli');
    assert.equal(cli.publicClient, true);
    assert.equal('secret' in cli, false, 'a public client has no secret');
    // The Job reads the source Secrets in its own namespace (the app namespaces get copies).
    const realmEnvSecrets = new Set(secretVars.map((e) => secretRefOf(e).name));
    assert.deepEqual([...realmEnvSecrets].sort(), ['oidc-mlflow', 'oidc-my-app']);
  });

  it('declares roles admin/editor/viewer, a group per role group and tenant group, and the groups claim', () => {
    const { app, keycloak, tenant } = fixture({ editorGroups: ['ml-leads'], viewerGroups: ['everyone'] });
    // A tenant group that already has a role keeps it; the others become viewers.
    keycloak.addTenant(tenant('research', ['research', 'ml-leads']));
    keycloak.addTenant(tenant('vision', ['vision', 'research']));
    const realm = realmOf(objectsOf(app));
    assert.equal(realm.realm, 'test', 'default realm: the client');
    assert.deepEqual(realm.roles.realm.map((r: any) => r.name), ['admin', 'editor', 'viewer']);
    assert.deepEqual(realm.groups, [
      { name: 'platform-admins', realmRoles: ['admin'] },
      { name: 'ml-leads', realmRoles: ['editor'] },
      { name: 'everyone', realmRoles: ['viewer'] },
      { name: 'research', realmRoles: ['viewer'] },
      { name: 'vision', realmRoles: ['viewer'] },
    ]);
    assert.deepEqual(keycloak.roleGroups, { admin: ['platform-admins'], editor: ['ml-leads'], viewer: ['everyone', 'research', 'vision'] });
    const roleNames = new Set(realm.roles.realm.map((r: any) => r.name));
    for (const g of realm.groups) for (const r of g.realmRoles) assert.ok(roleNames.has(r), `group ${g.name}: role ${r} is declared`);
    const scope = realm.clientScopes.find((s: any) => s.name === 'groups');
    assert.ok(scope, 'client scope groups');
    assert.equal(scope.protocol, 'openid-connect');
    const mapper = scope.protocolMappers.find((m: any) => m.protocolMapper === 'oidc-group-membership-mapper');
    assert.ok(mapper, 'group membership mapper');
    assert.equal(mapper.config['claim.name'], 'groups');
    assert.equal(mapper.config['full.path'], 'false', 'group names without a leading "/", as RBAC binds them');
    assert.equal(mapper.config['access.token.claim'], 'true');
    assert.equal(mapper.config['id.token.claim'], 'true');
  });

  it('gives every client the groups scope, PKCE S256, its exact redirect URIs and an audience mapper', () => {
    const { app, keycloak } = fixture();
    keycloak.addClient({ ...appClient('mlflow'), postLogoutRedirectUris: [`https://mlflow.${DOMAIN}/`, `https://home.${DOMAIN}/`] });
    keycloak.addClient({ clientId: 'cli', name: 'CLI', public: true, redirectUris: ['http://localhost:8000', 'http://127.0.0.1:18000/cb'] });
    const realm = realmOf(objectsOf(app));
    assert.deepEqual(realm.clients.map((c: any) => c.clientId), ['mlflow', 'cli']);
    const scopes = new Set(realm.clientScopes.map((s: any) => s.name));
    for (const c of realm.clients) {
      assert.ok(c.defaultClientScopes.includes('groups'), `${c.clientId}: groups scope`);
      // Scopes the realm file declares, or Keycloak's built-in ones.
      for (const s of c.defaultClientScopes) assert.ok(scopes.has(s) || ['web-origins', 'acr', 'profile', 'roles', 'basic', 'email'].includes(s), s);
      assert.equal(c.attributes['pkce.code.challenge.method'], 'S256');
      assert.equal(c.standardFlowEnabled, true);
      assert.equal(c.implicitFlowEnabled, false);
      assert.equal(c.directAccessGrantsEnabled, false);
      for (const uri of c.redirectUris) assert.ok(!uri.includes('*'), `${c.clientId}: exact redirect URI ${uri}`);
      const audience = c.protocolMappers.find((m: any) => m.protocolMapper === 'oidc-audience-mapper');
      assert.ok(audience, `${c.clientId}: audience mapper`);
      assert.equal(audience.config['included.client.audience'], c.clientId);
      assert.equal(audience.config['access.token.claim'], 'true');
    }
    const mlflow = realm.clients[0];
    assert.deepEqual(mlflow.redirectUris, [`https://mlflow.${DOMAIN}/oauth2/callback`]);
    assert.equal(mlflow.attributes['post.logout.redirect.uris'], `https://mlflow.${DOMAIN}/##https://home.${DOMAIN}/`);
    assert.deepEqual(realm.clients[1].redirectUris, ['http://localhost:8000', 'http://127.0.0.1:18000/cb']);
  });

  it('uses the realm option in the document and both issuer URLs', () => {
    const { app, keycloak } = fixture({ realm: 'staff' });
    assert.equal(keycloak.realm, 'staff');
    assert.equal(keycloak.issuerUrl, `https://auth.${DOMAIN}/realms/staff`);
    assert.equal(keycloak.internalIssuerUrl, `http://keycloak.keycloak.svc:8080/realms/staff`);
    assert.equal(realmOf(objectsOf(app)).realm, 'staff');
  });

  it('refuses a group in two role lists', () => {
    assert.throws(() => fixture({ adminGroups: ['ops'], viewerGroups: ['all', 'ops'] }), /sso group "ops" is listed for both admin and viewer: give each group one role/);
    assert.throws(() => fixture({ editorGroups: ['leads'], viewerGroups: ['leads'] }), /"leads" is listed for both editor and viewer/);
  });

  it('refuses bad and duplicate clients, inexact or insecure redirect URIs, and confidential clients without a namespace', () => {
    const { keycloak } = fixture();
    for (const id of ['MLflow', '-x', 'x-', 'a_b', '']) {
      assert.throws(() => keycloak.addClient(appClient(id, 'apps')), new RegExp(`OIDC client id "${id}" must be lowercase letters, digits and "-"`), id);
    }
    keycloak.addClient(appClient('mlflow'));
    assert.throws(() => keycloak.addClient(appClient('mlflow', 'other')), /OIDC client "mlflow" is registered twice/);
    assert.throws(() => keycloak.addClient({ ...appClient('a'), redirectUris: [] }), /OIDC client "a" needs at least one redirect URI/);
    assert.throws(() => keycloak.addClient({ ...appClient('b'), redirectUris: [`https://*.${DOMAIN}/oauth2/callback`] }), /redirect URI "https:\/\/\*\.ml\.test\.example\/oauth2\/callback" must be exact \(no "\*"\)/);
    assert.throws(() => keycloak.addClient({ ...appClient('c'), redirectUris: [`https://c.${DOMAIN}/*`] }), /must be exact/);
    assert.throws(() => keycloak.addClient({ ...appClient('d'), postLogoutRedirectUris: ['https://d.example/*'] }), /must be exact/, 'post-logout URIs too');
    for (const uri of [`http://e.${DOMAIN}/oauth2/callback`, 'http://localhost.evil.example/', 'http://127.0.0.1.evil.example/', 'ftp://localhost/']) {
      assert.throws(() => keycloak.addClient({ ...appClient('e'), redirectUris: [uri] }), /must be https \(or http on localhost for CLIs\)/, uri);
    }
    assert.doesNotThrow(() => keycloak.addClient({ clientId: 'cli', name: 'CLI', public: true, redirectUris: ['http://localhost:8000', 'http://127.0.0.1/'] }));
    assert.throws(
      () => keycloak.addClient({ clientId: 'f', name: 'F', redirectUris: ['https://f.example/cb'] }),
      /OIDC client "f" is confidential: name the namespace of the app that reads its secret/,
    );
  });
});

describe('Keycloak addClient', () => {
  it('gives a confidential client a generated secret in keycloak, copied into the app namespace', () => {
    const { keycloak, credentials } = fixture();
    const client = keycloak.addClient(appClient('mlflow', 'tracking'));
    assert.equal(client.clientId, 'mlflow');
    assert.equal(client.issuerUrl, keycloak.issuerUrl);
    assert.ok(client.secret);
    assert.equal(client.secret.namespace, 'tracking', 'the app reads the copy in its own namespace');
    assert.equal(client.secret.name, 'oidc-mlflow');
    assert.deepEqual([...client.secret.keys], [OIDC_CLIENT_KEYS.clientId, OIDC_CLIENT_KEYS.clientSecret]);
    const declared = declaredSecrets(credentials);
    const source = declared.get('keycloak/oidc-mlflow');
    assert.ok(source, 'the source Secret lives next to Keycloak');
    assert.deepEqual(source.keys.get('CLIENT_ID'), { kind: 'lit', value: 'mlflow' });
    assert.deepEqual(source.keys.get('CLIENT_SECRET'), { kind: 'gen', length: 48 });
    const copy = declared.get('tracking/oidc-mlflow');
    assert.ok(copy, 'the copy in the app namespace');
    assert.deepEqual(copy.keys.get('CLIENT_ID'), { kind: 'copy', namespace: 'keycloak', name: 'oidc-mlflow', key: 'CLIENT_ID' });
    assert.deepEqual(copy.keys.get('CLIENT_SECRET'), { kind: 'copy', namespace: 'keycloak', name: 'oidc-mlflow', key: 'CLIENT_SECRET' });
    assert.deepEqual(
      credentials.secrets.filter((s) => s.name === 'oidc-mlflow').map((s) => s.namespace),
      ['keycloak', 'tracking'],
    );
  });

  it('declares no secret for a public client, and no copy for an app in namespace keycloak', () => {
    const { keycloak, credentials } = fixture();
    const before = credentials.secrets.length;
    const pub = keycloak.addClient({ clientId: 'cli', name: 'CLI', public: true, redirectUris: ['http://localhost:8000'] });
    assert.equal(pub.secret, undefined);
    assert.equal(credentials.secrets.length, before, 'a public client has no Secret');
    const own = keycloak.addClient(appClient('account', KEYCLOAK_NAMESPACE));
    assert.equal(own.secret!.namespace, KEYCLOAK_NAMESPACE);
    assert.deepEqual(credentials.secrets.filter((s) => s.name === 'oidc-account').map((s) => s.namespace), [KEYCLOAK_NAMESPACE]);
  });
});

/** NetworkPolicy semantics (matchLabels and matchExpressions), enough to check who may call whom. */
function matches(selector: any, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
  }
  return true;
}

/** Whether the policies of `to`'s namespace admit a connection from `from` to `port`. */
function admitted(objects: readonly KubeObject[], from: { ns: string; labels: Record<string, string> }, to: { ns: string; labels: Record<string, string> }, port: number): boolean {
  const nsLabels = (ns: string): Record<string, string> => ({ ...((all(objects, 'Namespace').find((n) => n.metadata.name === ns)?.metadata.labels as Record<string, string>) ?? {}), 'kubernetes.io/metadata.name': ns });
  const policies = all(objects, 'NetworkPolicy', to.ns).filter((p) => (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && matches(p.spec.podSelector, to.labels));
  if (policies.length === 0) return true;
  return policies.some((p) =>
    (p.spec.ingress ?? []).some((rule: any) => {
      const portOk = !rule.ports || rule.ports.some((x: any) => x.port === port);
      const peerOk = !rule.from || rule.from.some((peer: any) => {
        const sameNs = peer.namespaceSelector === undefined;
        const nsOk = sameNs ? from.ns === to.ns : matches(peer.namespaceSelector, nsLabels(from.ns));
        return nsOk && matches(peer.podSelector, from.labels);
      });
      return portOk && peerOk;
    }),
  );
}

describe('Keycloak in the platform', () => {
  it(
    'lets every in-cluster caller reach Keycloak: the realm Job, each SSO gate (token and keys) and the other replicas',
    () => {
      const text = acmeWith([['adminGroups: [platform-admins]', 'adminGroups: [platform-admins]\n    replicas: 2']]);
      const { objects } = synthExample(text);
      const keycloak = { ns: KEYCLOAK_NAMESPACE, labels: server(objects).spec.template.metadata.labels };
      const problems: string[] = [];
      const job = realmJob(objects);
      if (!admitted(objects, { ns: job.metadata.namespace, labels: job.spec.template.metadata.labels }, keycloak, 8080)) problems.push('realm Job → keycloak:8080');
      for (const gate of all(objects, 'Deployment').filter((d) => d.metadata.name.endsWith('-sso'))) {
        if (!admitted(objects, { ns: gate.metadata.namespace, labels: gate.spec.template.metadata.labels }, keycloak, 8080)) problems.push(`${gate.metadata.namespace}/${gate.metadata.name} → keycloak:8080`);
      }
      if (!admitted(objects, keycloak, keycloak, 7800)) problems.push('keycloak → keycloak:7800 (cluster)');
      assert.deepEqual(problems, []);
    },
  );

  it('keeps Traefik able to reach the Keycloak UI (auth route)', () => {
    const { objects } = acme();
    const keycloak = { ns: KEYCLOAK_NAMESPACE, labels: server(objects).spec.template.metadata.labels };
    assert.ok(admitted(objects, { ns: 'traefik', labels: { 'app.kubernetes.io/name': 'traefik' } }, keycloak, 8080));
    assert.ok(!admitted(objects, { ns: 'research', labels: {} }, keycloak, 8080), 'tenants do not reach Keycloak in-cluster');
  });

  it('registers the kubernetes public client and every gate in one realm of acme, with matching Job env', () => {
    const { objects, platform } = acme();
    const realm = realmOf(objects);
    assert.equal(realm.realm, 'acme');
    const k8sClient = realm.clients.find((c: any) => c.clientId === KUBERNETES_CLIENT_ID);
    assert.equal(k8sClient.publicClient, true);
    for (const uri of k8sClient.redirectUris) assert.match(uri, /^http:\/\/localhost:\d+$/);
    const gates = platform.ingress!.router.routes.filter((r) => r.auth === 'forwardAuth').map((r) => r.app);
    const confidential = realm.clients.filter((c: any) => !c.publicClient).map((c: any) => c.clientId);
    // Plus Keycloak's own admin-path gate (`auth`) and Grafana's native login.
    assert.deepEqual([...confidential].sort(), [...gates, 'auth', 'grafana'].sort(), 'one confidential client per gated app and per native OIDC app');
    const env = realmJob(objects).spec.template.spec.containers[0].env.filter((e: any) => e.name.startsWith('OIDC_SECRET_')).map((e: any) => e.name);
    assert.deepEqual([...env].sort(), confidential.map(secretEnvName).sort());
    // Realm groups: role groups and every tenant group.
    const groups = realm.groups.map((g: any) => g.name);
    for (const t of platform.tenants) for (const g of t.groups) assert.ok(groups.includes(g), `tenant group ${g}`);
    assert.deepEqual(realm.groups.find((g: any) => g.name === 'ml-leads').realmRoles, ['editor']);
  });
});

describe('KubernetesAccess and access/ artifacts', () => {
  const authConfig = (files: readonly OutputFile[]) => parse(fileOf(files, 'access/authentication-config.yaml'));

  it('writes the API server authentication config for the realm, with the platform group prefix', () => {
    const { files, platform, objects } = acme();
    const doc = authConfig(files);
    assert.equal(doc.apiVersion, 'apiserver.config.k8s.io/v1');
    assert.equal(doc.kind, 'AuthenticationConfiguration');
    assert.equal(doc.jwt.length, 1);
    const jwt = doc.jwt[0];
    assert.equal(jwt.issuer.url, platform.sso!.issuerUrl);
    assert.deepEqual(jwt.issuer.audiences, [KUBERNETES_CLIENT_ID]);
    assert.equal(jwt.claimMappings.username.claim, 'preferred_username');
    assert.equal(jwt.claimMappings.username.prefix, 'oidc:');
    assert.equal(jwt.claimMappings.groups.prefix, 'oidc:');
    // Tokens carry the claim the realm maps, with the audience the API server checks.
    const realm = realmOf(objects);
    assert.equal(jwt.claimMappings.groups.claim, realm.clientScopes.find((s: any) => s.name === 'groups').protocolMappers[0].config['claim.name']);
    const k8sClient = realm.clients.find((c: any) => c.clientId === KUBERNETES_CLIENT_ID);
    assert.ok(k8sClient.defaultClientScopes.includes('groups'));
    assert.ok(k8sClient.protocolMappers.some((m: any) => m.config['included.client.audience'] === jwt.issuer.audiences[0]));
  });

  it('binds exactly the prefixed names of the tenant groups that tokens carry', () => {
    for (const [text, prefix] of [[fs.readFileSync(ACME, 'utf8'), 'oidc:'], [acmeWith([['domain: ml.acme.example', 'domain: ml.acme.example\n  access: { groupPrefix: "sso-" }']]), 'sso-']] as const) {
      const { files, objects, platform } = synthExample(text);
      const groups = authConfig(files).jwt[0].claimMappings.groups;
      assert.equal(groups.prefix, prefix);
      for (const t of platform.tenants) {
        const bound = all(objects, 'RoleBinding', t.namespace).flatMap((rb) => (rb.subjects ?? []).filter((s: any) => s.kind === 'Group').map((s: any) => s.name));
        assert.deepEqual(bound.sort(), t.groups.map((g) => `${groups.prefix}${g}`).sort(), `tenant ${t.name}`);
      }
    }
  });

  it('writes one kubeconfig per tenant that logs in with oidc-login against the realm', () => {
    const { files, platform } = acme();
    const kubeconfigs = files.filter((f) => /^access\/kubeconfig-/.test(f.name)).map((f) => f.name);
    assert.deepEqual(kubeconfigs.sort(), platform.tenants.map((t) => `access/kubeconfig-${t.name}.yaml`).sort());
    for (const t of platform.tenants) {
      const text = fileOf(files, `access/kubeconfig-${t.name}.yaml`);
      const kc = parse(text);
      assert.equal(kc.apiVersion, 'v1');
      assert.equal(kc.kind, 'Config');
      const ctx = kc.contexts.find((c: any) => c.name === kc['current-context']);
      assert.ok(ctx, 'the current context exists');
      assert.equal(ctx.context.namespace, t.namespace);
      const cluster = kc.clusters.find((c: any) => c.name === ctx.context.cluster);
      const user = kc.users.find((u: any) => u.name === ctx.context.user);
      assert.ok(cluster && user, 'the context names a cluster and a user of the file');
      assert.equal(cluster.cluster.server, 'https://k8s.acme.example:6443', 'spec.sso.kubernetesApiServer');
      const exec = user.user.exec;
      assert.equal(exec.command, 'kubectl');
      assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
      assert.deepEqual(exec.args.slice(0, 2), ['oidc-login', 'get-token']);
      assert.ok(exec.args.includes(`--oidc-issuer-url=${platform.sso!.issuerUrl}`));
      assert.ok(exec.args.includes(`--oidc-client-id=${KUBERNETES_CLIENT_ID}`));
      assert.ok(text.includes(`tenant ${t.name}`) && t.groups.every((g) => text.includes(g)), 'the header names the tenant and its groups');
      assert.doesNotMatch(text, /Set the API server URL/);
    }
  });

  it('leaves a placeholder and says how to set it without kubernetesApiServer', () => {
    const { files } = synthExample(acmeWith([['    kubernetesApiServer: https://k8s.acme.example:6443\n', '']]));
    const text = fileOf(files, 'access/kubeconfig-research.yaml');
    assert.equal(parse(text).clusters[0].cluster.server, 'https://API-SERVER-OF-THE-CLUSTER:6443');
    assert.match(text, /^# Set the API server URL \(spec\.sso\.kubernetesApiServer writes it here\) before use\.$/m);
  });

  it('tells where the platform CA is with tls selfSigned (initech), and not with a public CA (acme)', () => {
    const ini = initech();
    const auth = fileOf(ini.files, 'access/authentication-config.yaml');
    assert.match(auth, /certificateAuthority/);
    assert.match(auth, /kubectl -n cert-manager get secret mlplat-ca/);
    find(ini.objects, 'Certificate', 'mlplat-ca', 'cert-manager');
    assert.equal(parse(auth).jwt[0].issuer.url, 'https://auth.ml.initech.example/realms/initech');
    for (const t of ['forecasting', 'vision']) assert.match(fileOf(ini.files, `access/kubeconfig-${t}.yaml`), /--certificate-authority/);
    assert.match(fileOf(ini.files, 'access/kubeconfig-vision.yaml'), /groups: vision, vision-interns/);
    const a = acme();
    assert.doesNotMatch(fileOf(a.files, 'access/authentication-config.yaml'), /certificateAuthority|mlplat-ca/);
    assert.doesNotMatch(fileOf(a.files, 'access/kubeconfig-research.yaml'), /certificate-authority/);
  });

  it('lists access/ files in no kustomization and counts no objects in them', () => {
    for (const { files } of [acme(), initech()]) {
      const access = files.filter((f) => f.name.startsWith('access/'));
      assert.ok(access.length >= 3);
      for (const f of access) assert.equal(f.count, 0, f.name);
      for (const k of files.filter((f) => f.name.endsWith('kustomization.yml'))) {
        const resources: string[] = parse(k.content).resources;
        assert.ok(!resources.some((r) => r.includes('access') || r.includes('kubeconfig') || r.includes('authentication-config')), `${k.name} lists no access file`);
      }
    }
  });

  it('refuses two artifacts with the same path and bad file names', () => {
    const { app, chart } = testChart();
    new OutputArtifact(new Construct(chart, 'A'), 'File', { fileName: 'notes.md', content: () => 'a' });
    new OutputArtifact(new Construct(chart, 'B'), 'File', { fileName: 'notes.md', content: () => 'b' });
    assert.throws(() => outputFiles(app), /two output files are named access\/notes\.md/);
    for (const fileName of ['Notes.md', 'notes.txt', '../notes.yaml', 'a/b.yaml', '.hidden.yaml', 'notes']) {
      assert.throws(() => new OutputArtifact(chart, `X${fileName}`, { fileName, content: () => '' }), /output file name ".*" must be lowercase letters, digits, "-" and "\." ending in \.yaml or \.md/, fileName);
    }
    const ok = new OutputArtifact(chart, 'Ok', { fileName: 'kubeconfig-a.yaml', content: () => 'x: 1\n' });
    assert.equal(ok.path, 'access/kubeconfig-a.yaml');
    assert.equal(OutputArtifact.isOutputArtifact(ok), true);
    assert.equal(OutputArtifact.isOutputArtifact(chart), false);
  });
});
