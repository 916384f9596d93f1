import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { PlatformDatabase } from '../../constructs/database/postgres';
import { CertManager } from '../../constructs/edge/cert-manager';
import { IngressRouter } from '../../constructs/edge/router';
import { GpuOperator } from '../../constructs/gpu/operator';
import { Keycloak, KeycloakOptions } from '../../constructs/identity/keycloak';
import { IOidcClient, IOidcProvider, OidcClientOptions, OIDC_CLIENT_KEYS, PlatformRole } from '../../constructs/identity/types';
import {
  buildDashboards,
  DASHBOARD_UIDS,
  dashboardExpressions,
  DashboardOptions,
  foundationSdkLoaded,
  forPromtool,
} from '../../constructs/observability/dashboards';
import {
  DASHBOARD_FOLDER,
  DASHBOARD_FOLDER_ANNOTATION,
  DASHBOARD_LABEL,
  Grafana,
  GrafanaOptions,
  GrafanaValues,
  roleAttributePath,
} from '../../constructs/observability/grafana';
import { GRAFANA_NAMESPACE, IMetrics } from '../../constructs/observability/types';
import { Tenant } from '../../constructs/tenancy/tenant';
import { ChartRelease } from '../../lib/chart-release';
import { KubeObject } from '../../lib/synth';
import { VERSIONS } from '../../lib/versions';
import { all, find, objectsOf, testChart } from '../helpers';

const DOMAIN = 'ml.test.example';
const METRICS: IMetrics = {
  namespace: 'monitoring',
  prometheusUrl: 'http://kps-prometheus.monitoring.svc:9090',
  alertmanagerUrl: 'http://kps-alertmanager.monitoring.svc:9093',
};
const LOGS = { lokiUrl: 'http://loki.monitoring.svc:3100' };
const sdkInRequireCache = (): boolean => Object.keys(require.cache).some((k) => k.includes('grafana-foundation-sdk'));

interface FixtureOptions {
  readonly grafana?: GrafanaOptions;
  readonly keycloak?: KeycloakOptions;
  readonly logs?: boolean;
  readonly imageRegistry?: string;
  readonly dependsOn?: boolean;
}

/** Grafana on a real Keycloak (platform database, credentials generator) in a test chart. */
function fixture(options: FixtureOptions = {}) {
  const { app, chart } = testChart(options.imageRegistry ? { imageRegistry: options.imageRegistry } : {});
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const database = new PlatformDatabase(chart, 'Db', { credentials });
  const keycloak = new Keycloak(chart, 'Keycloak', { editorGroups: ['ml-engineers'], viewerGroups: ['research', 'serving'], ...options.keycloak, credentials, database });
  const metricsRelease = options.dependsOn
    ? new ChartRelease(chart, 'Kps', { chart: VERSIONS.charts.kubePrometheusStack, releaseName: 'kps', namespace: 'monitoring', values: {} })
    : undefined;
  const grafana = new Grafana(chart, 'Grafana', {
    ...options.grafana,
    provider: keycloak,
    credentials,
    metrics: METRICS,
    ...(options.logs === false ? {} : { logs: LOGS }),
    ...(metricsRelease ? { dependsOn: [metricsRelease] } : {}),
  });
  const render = () => objectsOf(app);
  const values = (objects: readonly KubeObject[] = render()): GrafanaValues => find(objects, 'HelmRelease', 'grafana', GRAFANA_NAMESPACE).spec.values;
  return { app, chart, credentials, keycloak, grafana, render, values };
}

const oauth = (v: GrafanaValues) => v['grafana.ini']['auth.generic_oauth'];

describe('Grafana: the foundation SDK is loaded only to build dashboards', () => {
  // First in the file: nothing before has built a dashboard in this process.
  it('importing the construct and creating it load nothing; rendering without dashboards neither', () => {
    assert.equal(foundationSdkLoaded(), false);
    assert.equal(sdkInRequireCache(), false, 'importing grafana.ts and dashboards/ must not require the SDK');
    const withDashboards = fixture();
    assert.equal(sdkInRequireCache(), false, 'creating the construct must not require the SDK');
    const without = fixture({ grafana: { dashboards: false } });
    const objects = without.render();
    assert.equal(all(objects, 'ConfigMap', GRAFANA_NAMESPACE).length, 0);
    assert.equal(sdkInRequireCache(), false, 'rendering a Grafana without dashboards must not require the SDK');
    withDashboards.render();
    assert.equal(foundationSdkLoaded(), true);
    assert.equal(sdkInRequireCache(), true);
  });
});

describe('Grafana: login through the identity provider only', () => {
  it('registers one confidential client whose redirect URI is Grafana\'s generic OAuth callback', () => {
    const { keycloak, grafana } = fixture();
    const client = (keycloak.realmDocument().clients as any[]).find((c) => c.clientId === 'grafana');
    assert.ok(client, 'client "grafana" in the realm');
    assert.deepEqual(client.redirectUris, [`https://grafana.${DOMAIN}/login/generic_oauth`]);
    assert.equal(client.publicClient, false);
    assert.equal(client.attributes['post.logout.redirect.uris'], `https://grafana.${DOMAIN}/login`);
    assert.equal(grafana.oidcClient.secret!.namespace, GRAFANA_NAMESPACE);
    assert.equal(grafana.url, `https://grafana.${DOMAIN}/`);
  });

  it('sends the browser to the public issuer and redeems codes over the cluster network, with PKCE', () => {
    const { keycloak, values } = fixture();
    const o = oauth(values());
    assert.equal(o.enabled, true);
    assert.equal(o.auth_url, `${keycloak.issuerUrl}/protocol/openid-connect/auth`);
    assert.ok(keycloak.issuerUrl.startsWith(`https://auth.${DOMAIN}/`));
    assert.equal(o.token_url, `${keycloak.internalIssuerUrl}/protocol/openid-connect/token`);
    assert.equal(o.api_url, `${keycloak.internalIssuerUrl}/protocol/openid-connect/userinfo`);
    assert.ok(keycloak.internalIssuerUrl.startsWith('http://keycloak.keycloak.svc:'));
    assert.equal(o.use_pkce, true);
    assert.equal(o.auto_login, true);
    assert.equal(o.use_refresh_token, true);
    assert.equal(o.groups_attribute_path, 'groups');
    assert.equal(o.role_attribute_strict, true);
    assert.equal(o.allow_assign_grafana_admin, true);
    const signOut = new URL(String(o.signout_redirect_url));
    assert.equal(`${signOut.origin}${signOut.pathname}`, `${keycloak.issuerUrl}/protocol/openid-connect/logout`);
    assert.equal(signOut.searchParams.get('client_id'), 'grafana');
    assert.equal(signOut.searchParams.get('post_logout_redirect_uri'), `https://grafana.${DOMAIN}/login`);
  });

  it('turns off every other way in: login form, basic auth, anonymous access, local sign-up', () => {
    const ini = fixture().values()['grafana.ini'];
    assert.equal(ini.auth.disable_login_form, true);
    assert.equal(ini['auth.basic'].enabled, false);
    assert.equal(ini['auth.anonymous'].enabled, false);
    assert.equal(ini.users.allow_sign_up, false);
    assert.equal(ini.server.root_url, `https://grafana.${DOMAIN}/`);
    assert.equal(ini.security.cookie_secure, true);
    // Nothing reaches out to the internet (air-gapped clusters; nothing published).
    assert.equal(ini.plugins.preinstall_disabled, true);
    assert.equal(ini.analytics.reporting_enabled, false);
    assert.equal(ini.analytics.check_for_updates, false);
    assert.equal(ini.snapshots.external_enabled, false);
  });

  it('the grafana.ini generic OAuth section, in full', () => {
    const { keycloak, values } = fixture();
    const { role_attribute_path: role, signout_redirect_url: signOut, ...rest } = oauth(values());
    assert.equal(typeof role, 'string');
    assert.equal(typeof signOut, 'string');
    assert.deepEqual(rest, {
      enabled: true,
      name: 'Keycloak',
      icon: 'signin',
      client_id: '$__env{OIDC_CLIENT_ID}',
      client_secret: '$__env{OIDC_CLIENT_SECRET}',
      scopes: 'openid profile email',
      auth_url: `https://auth.${DOMAIN}/realms/test/protocol/openid-connect/auth`,
      token_url: `${keycloak.internalIssuerUrl}/protocol/openid-connect/token`,
      api_url: `${keycloak.internalIssuerUrl}/protocol/openid-connect/userinfo`,
      use_pkce: true,
      use_refresh_token: true,
      auto_login: true,
      allow_sign_up: true,
      login_attribute_path: 'preferred_username',
      groups_attribute_path: 'groups',
      role_attribute_strict: true,
      allow_assign_grafana_admin: true,
    });
  });
});

describe('Grafana: roles from the platform role groups', () => {
  const GROUPS = { admin: ['platform-admins', 'ops'], editor: ['ml-engineers'], viewer: ['research', 'serving'] };
  const EXPECTED =
    "(contains(groups[*], 'platform-admins') || contains(groups[*], 'ops')) && 'GrafanaAdmin' || " +
    "contains(groups[*], 'ml-engineers') && 'Editor' || " +
    "(contains(groups[*], 'research') || contains(groups[*], 'serving')) && 'Viewer'";

  it('builds the JMESPath expression highest role first', () => {
    assert.equal(roleAttributePath(GROUPS), EXPECTED);
    // Roles without groups are left out; one group needs no parentheses.
    assert.equal(roleAttributePath({ admin: ['a'], editor: [], viewer: ['v'] }), "contains(groups[*], 'a') && 'GrafanaAdmin' || contains(groups[*], 'v') && 'Viewer'");
    assert.throws(() => roleAttributePath({ admin: [], editor: [], viewer: [] }), /no role group/);
  });

  it('yields the right role for sample group lists, and nothing for users in no platform group', (t) => {
    // Evaluated with Python's jmespath (the JMESPath spec Grafana's Go library implements).
    const cases: Array<[string, unknown, string | null]> = [
      ['admin', { groups: ['platform-admins'] }, 'GrafanaAdmin'],
      ['second admin group', { groups: ['ops'] }, 'GrafanaAdmin'],
      ['admin wins over editor', { groups: ['ml-engineers', 'ops'] }, 'GrafanaAdmin'],
      ['editor', { groups: ['ml-engineers'] }, 'Editor'],
      ['editor wins over viewer', { groups: ['research', 'ml-engineers'] }, 'Editor'],
      ['viewer', { groups: ['serving'] }, 'Viewer'],
      ['unknown group', { groups: ['other'] }, null],
      ['no groups', { groups: [] }, null],
      ['no groups claim', { sub: 'x' }, null],
      ['prefix of a group name', { groups: ['ops-team'] }, null],
    ];
    const script = [
      'import json, sys, jmespath',
      'expr, docs = json.load(sys.stdin)',
      'out = []',
      'for d in docs:',
      '    try:',
      '        r = jmespath.search(expr, d)',
      '    except jmespath.exceptions.JMESPathError:',
      '        r = None',
      '    out.append(r if isinstance(r, str) and r else None)',
      'print(json.dumps(out))',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script], { input: JSON.stringify([EXPECTED, cases.map((c) => c[1])]), encoding: 'utf8' });
    if (run.error || (run.status !== 0 && /No module named/.test(run.stderr))) {
      t.skip('python3 with jmespath is not available');
      return;
    }
    assert.equal(run.status, 0, run.stderr);
    const roles = JSON.parse(run.stdout) as Array<string | null>;
    cases.forEach(([name, , expected], i) => assert.equal(roles[i], expected, name));
  });

  it('lets only the platform\'s role groups in by default: a tenant group is refused (every Viewer would read every tenant\'s logs)', () => {
    const { chart, keycloak, values } = fixture();
    const gpus = new GpuOperator(chart, 'Gpu');
    keycloak.addTenant(new Tenant(chart, 'Tenant-vision', { name: 'vision', groups: ['vision-team'], cpu: '8', memory: '32Gi', gpus }));
    const role = String(oauth(values()).role_attribute_path);
    assert.equal(role, roleAttributePath(keycloak.platformRoleGroups));
    assert.doesNotMatch(role, /vision-team/);
  });

  it('with tenantViewers, is read when the output is written: tenant groups added later are viewers', () => {
    const { chart, keycloak, values } = fixture({ grafana: { tenantViewers: true } });
    const gpus = new GpuOperator(chart, 'Gpu');
    const tenant = new Tenant(chart, 'Tenant-vision', { name: 'vision', groups: ['vision-team'], cpu: '8', memory: '32Gi', gpus });
    keycloak.addTenant(tenant);
    const role = String(oauth(values()).role_attribute_path);
    assert.equal(role, roleAttributePath(keycloak.roleGroups));
    assert.match(role, /\(contains\(groups\[\*\], 'research'\) \|\| contains\(groups\[\*\], 'serving'\) \|\| contains\(groups\[\*\], 'vision-team'\)\) && 'Viewer'$/);
  });

  it('reports group names that would break the expression or grafana.ini, at synth', () => {
    // Keycloak refuses such names itself; another provider might not.
    const provider = fakeProvider({ admin: ['admins'], editor: ['a;b'], viewer: ['ok', "o'brien"] });
    const { app, chart } = testChart();
    const credentials = new CredentialGenerator(chart, 'Credentials');
    new Grafana(chart, 'Grafana', { provider, credentials, metrics: METRICS, dashboards: false });
    assert.throws(
      () => objectsOf(app),
      (e: Error) =>
        /sso group "a;b" \(editor\) cannot be used in Grafana's role mapping/.test(e.message) &&
        /sso group "o'brien" \(viewer\) cannot be used/.test(e.message) &&
        !/"ok"/.test(e.message),
    );
  });

  it('reports a provider without role groups (nobody could log in), at synth', () => {
    const provider = fakeProvider({ admin: [], editor: [], viewer: [] });
    const { app, chart } = testChart();
    const credentials = new CredentialGenerator(chart, 'Credentials');
    new Grafana(chart, 'Grafana', { provider, credentials, metrics: METRICS, dashboards: false });
    assert.throws(() => objectsOf(app), /no role group: name admin, editor or viewer groups/);
  });

  it('refuses a provider that registers Grafana as a public client', () => {
    const { chart } = testChart();
    const credentials = new CredentialGenerator(chart, 'Credentials');
    const provider = fakeProvider({ admin: ['a'], editor: [], viewer: [] }, { public: true });
    assert.throws(() => new Grafana(chart, 'Grafana', { provider, credentials, metrics: METRICS }), /public client: Grafana needs a client secret/);
  });
});

describe('Grafana: secrets only by reference', () => {
  it('every Secret the values name is declared, with the key they read', () => {
    const { credentials, values } = fixture();
    const v = values();
    const declared = new Map(credentials.secrets.filter((s) => s.namespace === GRAFANA_NAMESPACE).map((s) => [s.name, s.keys]));
    const refs: Array<{ name: string; key: string }> = [
      ...Object.values(v.envValueFrom).map((e) => e.secretKeyRef),
      { name: v.admin.existingSecret, key: v.admin.userKey },
      { name: v.admin.existingSecret, key: v.admin.passwordKey },
      v.serviceMonitor.basicAuth.username,
      v.serviceMonitor.basicAuth.password,
    ];
    for (const r of refs) {
      assert.ok(declared.get(r.name)?.includes(r.key), `Secret ${GRAFANA_NAMESPACE}/${r.name} is declared with key ${r.key}`);
    }
    assert.deepEqual(v.envValueFrom.OIDC_CLIENT_ID.secretKeyRef, { name: 'oidc-grafana', key: OIDC_CLIENT_KEYS.clientId });
    assert.deepEqual(v.envValueFrom.OIDC_CLIENT_SECRET.secretKeyRef, { name: 'oidc-grafana', key: OIDC_CLIENT_KEYS.clientSecret });
  });

  it('grafana.ini holds no secret value, only $__env references the container defines', () => {
    const v = fixture().values();
    const ini = v['grafana.ini'];
    // The keys the chart's assertNoLeakedSecrets checks (templates/_helpers.tpl), plus the metrics user.
    const sensitive: Array<[string, string]> = [
      ['security', 'secret_key'],
      ['auth.generic_oauth', 'client_id'],
      ['auth.generic_oauth', 'client_secret'],
      ['metrics', 'basic_auth_username'],
      ['metrics', 'basic_auth_password'],
    ];
    for (const [section, key] of sensitive) assert.match(String(ini[section][key]), /^\$__env\{[A-Z_]+\}$/, `${section}.${key}`);
    const text = JSON.stringify(ini);
    for (const m of text.matchAll(/\$__env\{([A-Za-z0-9_]+)\}/g)) assert.ok(m[1] in v.envValueFrom, `env ${m[1]} is set from a Secret`);
    for (const [section, entries] of Object.entries(ini)) {
      for (const [key, value] of Object.entries(entries)) {
        if (/(password|secret|secret_key)$/.test(key)) assert.match(String(value), /^\$__env\{/, `${section}.${key} is a reference`);
      }
    }
  });

  it('the local admin comes from a generated Secret (no chart-made password)', () => {
    const { credentials, grafana, values } = fixture();
    const v = values();
    assert.equal(v.admin.existingSecret, grafana.adminCredentials.name);
    assert.ok(credentials.script().includes(`gen admin-password 32`));
  });
});

describe('Grafana: workload, storage and routing', () => {
  it('documented defaults appear in the values', () => {
    const { grafana, values } = fixture();
    const v = values();
    assert.equal(grafana.size, '5Gi');
    assert.deepEqual(v.persistence, { enabled: true, type: 'pvc', accessModes: ['ReadWriteOnce'], size: '5Gi' });
    assert.deepEqual(v.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } });
    assert.equal(grafana.dashboards, true);
    assert.equal(grafana.alertmanagerDatasource, true);
    assert.deepEqual(v.datasources['datasources.yaml'].datasources.map((d) => d.uid), ['prometheus', 'alertmanager', 'loki']);
    assert.equal(v.replicas, 1);
    assert.deepEqual(v.deploymentStrategy, { type: 'Recreate' });
  });

  it('options override the defaults', () => {
    const { grafana, values, render } = fixture({
      grafana: { size: '20Gi', storageClass: 'fast', alertmanagerDatasource: false, dashboards: false, resources: { cpuRequest: '1', memoryLimit: '4Gi' } },
      logs: false,
    });
    const objects = render();
    const v = values(objects);
    assert.deepEqual(v.persistence, { enabled: true, type: 'pvc', accessModes: ['ReadWriteOnce'], size: '20Gi', storageClassName: 'fast' });
    assert.deepEqual(v.resources, { requests: { cpu: '1', memory: '256Mi' }, limits: { memory: '4Gi' } });
    assert.deepEqual(v.datasources['datasources.yaml'].datasources.map((d) => d.uid), ['prometheus']);
    // Switched off after having been on: removed from Grafana's database too.
    assert.deepEqual(v.datasources['datasources.yaml'].deleteDatasources, [{ orgId: 1, name: 'Alertmanager' }, { orgId: 1, name: 'Loki' }]);
    assert.deepEqual(grafana.dashboardOptions, { logs: false });
    assert.equal(all(objects, 'ConfigMap', GRAFANA_NAMESPACE).length, 0);
  });

  it('refuses a volume size that is not a quantity', () => {
    const { chart } = testChart();
    const credentials = new CredentialGenerator(chart, 'Credentials');
    const provider = fakeProvider({ admin: ['a'], editor: [], viewer: [] });
    assert.throws(() => new Grafana(chart, 'Grafana', { provider, credentials, metrics: METRICS, size: '5 GB' }), /grafana size "5 GB" must be a quantity/);
  });

  it('runs under Pod Security restricted: non-root, read-only root, no init container as root', () => {
    const { render } = fixture();
    const objects = render();
    const ns = find(objects, 'Namespace', GRAFANA_NAMESPACE);
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const v = find(objects, 'HelmRelease', 'grafana', GRAFANA_NAMESPACE).spec.values as GrafanaValues;
    for (const sc of [v.containerSecurityContext, v.sidecar.securityContext]) {
      assert.deepEqual(sc, {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
    assert.equal(v.securityContext.runAsNonRoot, true);
    assert.equal(v.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(v.initChownData.enabled, false);
    // Writable scratch space for the read-only root filesystems.
    assert.deepEqual(v.extraEmptyDirMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.deepEqual(v.sidecar.dashboards.extraMounts, [{ name: 'sidecar-tmp', mountPath: '/tmp' }]);
    assert.ok(v.extraVolumes.some((x) => x.name === 'sidecar-tmp'));
    assert.equal(v.testFramework.enabled, false);
    assert.equal(v.enableServiceLinks, false);
    assert.equal(v.sidecar.livenessProbe.httpGet.path, '/healthz');
  });

  it('the sidecar reads ConfigMaps of Grafana\'s namespace only, through a Role of its own', () => {
    const { render } = fixture();
    const objects = render();
    const v = find(objects, 'HelmRelease', 'grafana', GRAFANA_NAMESPACE).spec.values as GrafanaValues;
    assert.equal(v.rbac.namespaced, true);
    const role = find(objects, 'Role', v.rbac.useExistingRole, GRAFANA_NAMESPACE);
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }]);
    assert.equal(v.sidecar.dashboards.resource, 'configmap');
    assert.equal('searchNamespace' in v.sidecar.dashboards, false, 'searchNamespace unset: only Grafana\'s namespace');
  });

  it('tenants reach Grafana only through the ingress; the platform (Prometheus) directly', () => {
    const objects = fixture().render();
    const np = find(objects, 'NetworkPolicy', 'mlplat-platform-only', GRAFANA_NAMESPACE);
    assert.deepEqual(np.spec.podSelector, {});
    assert.deepEqual(np.spec.ingress, [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'mlplat.io/tenant', operator: 'DoesNotExist' }] } }] }]);
  });

  it('webUi names the chart\'s Service, named port, pod labels and container port', () => {
    const { grafana, values } = fixture();
    const v = values();
    // Chart 12.11.1: Service `grafana.fullname` with port `service.portName` → targetPort
    // `podPortName`, container port `service.targetPort`; pods carry `grafana.selectorLabels`
    // (name: the chart's name, instance: the release name).
    assert.equal(grafana.webUi.namespace, GRAFANA_NAMESPACE);
    assert.deepEqual(grafana.webUi.service, { name: v.fullnameOverride, port: v.service.portName });
    assert.equal(grafana.webUi.targetPort, v.service.targetPort);
    assert.deepEqual(grafana.webUi.podSelector, { 'app.kubernetes.io/name': 'grafana', 'app.kubernetes.io/instance': grafana.release.releaseName });
    assert.equal(grafana.release.chart.chart, 'grafana');
  });

  it('routed natively: the IngressRoute reaches the Service port, Traefik is let in to the container port', () => {
    const { app, chart, keycloak, grafana } = fixture();
    const credentials = new CredentialGenerator(chart, 'RouterCredentials');
    const certificates = new CertManager(chart, 'CertManager', { tls: { mode: 'selfSigned' }, ingressClassName: 'traefik' });
    const router = new IngressRouter({ traefikNamespace: 'traefik', entryPoint: 'websecure', certificates, credentials: () => credentials });
    router.useIdentityProvider(keycloak);
    router.expose(grafana, 'Route', { app: 'grafana', ...grafana.webUi, auth: { kind: 'native' }, title: 'Grafana', purpose: 'Dashboards' });
    const objects = objectsOf(app);
    const ir = find(objects, 'IngressRoute', 'grafana', GRAFANA_NAMESPACE);
    assert.equal(ir.spec.routes.length, 1, 'no SSO gate in front of a native login');
    assert.equal(ir.spec.routes[0].match, `Host(\`${grafana.host}\`)`);
    assert.deepEqual(ir.spec.routes[0].services, [{ kind: 'Service', name: 'grafana', port: 'service' }]);
    const np = find(objects, 'NetworkPolicy', 'mlplat-ingress-grafana', GRAFANA_NAMESPACE);
    assert.deepEqual(np.spec.podSelector.matchLabels, grafana.webUi.podSelector);
    assert.equal(np.spec.ingress[0].ports[0].port, 3000);
  });

  it('metrics: the chart\'s ServiceMonitor scrapes /metrics with the basic auth grafana.ini requires', () => {
    const v = fixture().values();
    assert.equal(v.serviceMonitor.enabled, true);
    assert.equal(v.serviceMonitor.path, '/metrics');
    const ini = v['grafana.ini'].metrics;
    assert.equal(ini.basic_auth_username, '$__env{METRICS_USERNAME}');
    assert.deepEqual(v.envValueFrom.METRICS_USERNAME.secretKeyRef, v.serviceMonitor.basicAuth.username);
    assert.equal(ini.basic_auth_password, '$__env{METRICS_PASSWORD}');
    assert.deepEqual(v.envValueFrom.METRICS_PASSWORD.secretKeyRef, v.serviceMonitor.basicAuth.password);
  });

  it('waits for the releases it depends on, pulls through the image mirror', () => {
    const objects = fixture({ dependsOn: true, imageRegistry: 'mirror.example/' }).render();
    const hr = find(objects, 'HelmRelease', 'grafana', GRAFANA_NAMESPACE);
    assert.deepEqual(hr.spec.dependsOn, [{ name: 'kps', namespace: 'monitoring' }]);
    assert.deepEqual(hr.spec.values.global, { imageRegistry: 'mirror.example' });
    assert.deepEqual(hr.spec.chart.spec.version, VERSIONS.charts.grafana.version);
    const plain = fixture().values();
    assert.equal('global' in plain, false);
  });
});

describe('Grafana: datasources and dashboards', () => {
  const full = () => {
    const f = fixture();
    f.grafana.showTrackingServer({ kind: 'mlflow', namespace: 'mlflow' });
    f.grafana.showObjectStore({ kind: 'minio', namespace: 'minio' });
    return f;
  };

  it('provisions Prometheus (default), Alertmanager and Loki with fixed uids from the handles', () => {
    const v = fixture().values();
    const file = v.datasources['datasources.yaml'];
    assert.equal(file.apiVersion, 1);
    assert.deepEqual(file.deleteDatasources, []);
    const byUid = new Map(file.datasources.map((d) => [d.uid, d]));
    assert.equal(byUid.get('prometheus')!.url, METRICS.prometheusUrl);
    assert.equal(byUid.get('prometheus')!.isDefault, true);
    assert.equal(byUid.get('alertmanager')!.url, METRICS.alertmanagerUrl);
    assert.equal(byUid.get('alertmanager')!.jsonData.implementation, 'prometheus');
    assert.equal(byUid.get('loki')!.url, LOGS.lokiUrl);
    assert.equal(file.datasources.filter((d) => d.isDefault).length, 1);
    assert.ok(file.datasources.every((d) => d.access === 'proxy' && d.editable === false));
  });

  it('ships each dashboard as a ConfigMap the sidecar picks up, in Grafana\'s namespace and folder', () => {
    const { values, render } = full();
    const objects = render();
    const v = values(objects);
    const cms = all(objects, 'ConfigMap', GRAFANA_NAMESPACE);
    assert.deepEqual(cms.map((c) => c.metadata.name), ['mlplat-dashboard-gpu', 'mlplat-dashboard-tenants', 'mlplat-dashboard-platform', 'mlplat-dashboard-tracking-storage']);
    assert.equal(v.sidecar.dashboards.enabled, true);
    for (const cm of cms) {
      assert.equal(cm.metadata.labels[v.sidecar.dashboards.label], v.sidecar.dashboards.labelValue);
      assert.equal(cm.metadata.labels[DASHBOARD_LABEL], '1');
      assert.equal(cm.metadata.annotations[v.sidecar.dashboards.folderAnnotation], DASHBOARD_FOLDER);
      assert.equal(v.sidecar.dashboards.folderAnnotation, DASHBOARD_FOLDER_ANNOTATION);
      const [file, text] = Object.entries(cm.data as Record<string, string>)[0];
      const json = JSON.parse(text);
      assert.equal(file, `${json.uid}.json`);
      assert.equal(json.uid, DASHBOARD_UIDS[cm.metadata.name.replace('mlplat-dashboard-', '') as keyof typeof DASHBOARD_UIDS]);
      assert.ok(Buffer.byteLength(text) < 512 * 1024, `${cm.metadata.name} stays far below the 1 MiB object limit`);
    }
    assert.equal(v.sidecar.dashboards.provider.foldersFromFilesStructure, true);
    assert.equal(v.sidecar.dashboards.skipReload, true, 'basic auth is off: the sidecar cannot call the reload API');
  });

  it('the tracking and storage dashboard exists once something is shown; each is shown once', () => {
    const f = fixture();
    assert.equal(all(f.render(), 'ConfigMap', GRAFANA_NAMESPACE).length, 3);
    f.grafana.showObjectStore({ kind: 'ceph', namespace: 'rook-ceph' });
    f.grafana.showTrackingServer({ kind: 'clearml', namespace: 'clearml' });
    assert.equal(all(f.render(), 'ConfigMap', GRAFANA_NAMESPACE).length, 4);
    assert.throws(() => f.grafana.showObjectStore({ kind: 'minio', namespace: 'minio' }), /already shows the object store ceph/);
    assert.throws(() => f.grafana.showTrackingServer({ kind: 'mlflow', namespace: 'mlflow' }), /already shows the tracking server clearml/);
  });

  it('dashboards are deterministic: built twice, byte-equal; rendered twice, byte-equal', () => {
    const options: DashboardOptions = { logs: true, trackingServer: { kind: 'mlflow', namespace: 'mlflow' }, objectStore: { kind: 'ceph', namespace: 'rook-ceph' } };
    assert.equal(JSON.stringify(buildDashboards(options)), JSON.stringify(buildDashboards(options)));
    const cmText = () => JSON.stringify(all(full().render(), 'ConfigMap', GRAFANA_NAMESPACE));
    assert.equal(cmText(), cmText());
  });

  it('every panel, query and variable names a datasource Grafana provisions; panel ids are unique', () => {
    for (const logs of [true, false]) {
      const f = full();
      if (!logs) {
        // Same platform without logs: no Loki datasource, so no logs panel may remain.
        const g = fixture({ logs: false });
        g.grafana.showObjectStore({ kind: 'ceph', namespace: 'rook-ceph' });
        checkPanels(g.render(), g.values().datasources['datasources.yaml'].datasources.map((d) => d.uid));
        continue;
      }
      checkPanels(f.render(), f.values().datasources['datasources.yaml'].datasources.map((d) => d.uid));
    }
  });

  it('template variables pool and tenant come from kube-state-metrics labels of nodes and namespaces', () => {
    const [gpu] = buildDashboards({ logs: false });
    const vars = (gpu.json as any).templating.list as any[];
    assert.deepEqual(vars.map((v) => [v.name, v.query, v.multi, v.includeAll]), [
      ['pool', 'label_values(kube_node_labels{label_mlplat_io_gpu_pool!=""}, label_mlplat_io_gpu_pool)', true, true],
      ['tenant', 'label_values(kube_namespace_labels{label_mlplat_io_tenant!=""}, label_mlplat_io_tenant)', true, true],
    ]);
    const exprs = dashboardExpressions().filter((e) => e.dashboard === DASHBOARD_UIDS.gpu).map((e) => e.expr);
    assert.ok(exprs.some((e) => e.includes('* on (node) group_left (label_mlplat_io_gpu_pool) kube_node_labels{label_mlplat_io_gpu_pool=~"$pool"}')));
    assert.ok(exprs.some((e) => e.includes('exported_namespace=~"$tenant"')));
    assert.ok(exprs.some((e) => e.includes('DCGM_FI_PROF_GR_ENGINE_ACTIVE')), 'a MIG-aware utilisation panel');
  });

  it('exports every PromQL expression of every dashboard variant, ready for promtool', () => {
    const exprs = dashboardExpressions();
    const built = [
      ...buildDashboards({ logs: true, trackingServer: { kind: 'mlflow', namespace: 'mlflow' }, objectStore: { kind: 'minio', namespace: 'minio' } }),
      ...buildDashboards({ logs: true, trackingServer: { kind: 'clearml', namespace: 'clearml' }, objectStore: { kind: 'ceph', namespace: 'rook-ceph' } }),
    ];
    const targets = built.flatMap((d) => ((d.json as any).panels as any[]).flatMap((p) => (p.targets ?? []).filter((t: any) => t.datasource.uid === 'prometheus').map((t: any) => t.expr as string)));
    const exported = new Set(exprs.map((e) => e.expr));
    for (const t of targets) assert.ok(exported.has(t), `exported: ${t}`);
    for (const e of exprs) {
      assert.doesNotMatch(e.promtool, /\$__/, `${e.source}: Grafana interval variables replaced`);
      assert.equal(depth(e.promtool), 0, `${e.source}: balanced parentheses`);
    }
    assert.ok(exprs.some((e) => e.expr.startsWith('kube_node_labels{')), 'variable selectors included');
    assert.ok(exprs.some((e) => e.expr.includes('minio_cluster_capacity_usable_total_bytes')));
    assert.ok(exprs.some((e) => e.expr.includes('ceph_health_status')));
    assert.ok(exprs.some((e) => e.expr.includes('namespace="clearml"')));
    assert.equal(forPromtool('rate(x[$__rate_interval]) + rate(y[${__interval}])'), 'rate(x[5m]) + rate(y[5m])');
  });
});

/** Panels of every dashboard ConfigMap: provisioned datasource uids, unique ids, on the 24-column grid. */
function checkPanels(objects: readonly KubeObject[], provisioned: readonly string[]): void {
  const cms = all(objects, 'ConfigMap', GRAFANA_NAMESPACE);
  assert.ok(cms.length >= 3);
  for (const cm of cms) {
    const json = JSON.parse(Object.values(cm.data as Record<string, string>)[0]);
    const where = json.uid as string;
    for (const v of json.templating?.list ?? []) assert.ok(provisioned.includes(v.datasource?.uid), `${where} variable ${v.name}`);
    const ids = new Set<number>();
    for (const p of json.panels as any[]) {
      assert.equal(typeof p.id, 'number', `${where}: panel "${p.title}" has an id`);
      assert.ok(!ids.has(p.id), `${where}: panel id ${p.id} is unique`);
      ids.add(p.id);
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${where}: "${p.title}" fits the grid`);
      if (p.type === 'row') continue;
      assert.ok(provisioned.includes(p.datasource?.uid), `${where}: panel "${p.title}" datasource ${p.datasource?.uid} is provisioned`);
      assert.ok((p.targets ?? []).length > 0, `${where}: panel "${p.title}" queries something`);
      for (const t of p.targets) assert.ok(provisioned.includes(t.datasource?.uid), `${where}: "${p.title}" ${t.refId} datasource is provisioned`);
    }
  }
}

function depth(expr: string): number {
  let d = 0;
  for (const c of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if (c === '(') d += 1;
    if (c === ')') d -= 1;
    if (d < 0) return d;
  }
  return d;
}

/** An identity provider with fixed role groups that records the clients it registers. */
function fakeProvider(roleGroups: Record<PlatformRole, string[]>, options: { public?: boolean } = {}): IOidcProvider {
  return {
    realm: 'test',
    issuerUrl: `https://auth.${DOMAIN}/realms/test`,
    internalIssuerUrl: 'http://keycloak.keycloak.svc:8080/realms/test',
    roleGroups,
    platformRoleGroups: roleGroups,
    addClient(client: OidcClientOptions): IOidcClient {
      const secret = options.public
        ? undefined
        : { namespace: client.namespace!, name: `oidc-${client.clientId}`, keys: ['CLIENT_ID', 'CLIENT_SECRET'], producer: 'test', keyRef: (key: string) => ({ name: `oidc-${client.clientId}`, key }) };
      return { clientId: client.clientId, issuerUrl: `https://auth.${DOMAIN}/realms/test`, secret };
    },
  };
}
