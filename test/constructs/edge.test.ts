import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertManager, LETSENCRYPT_PRODUCTION, TlsMode } from '../../constructs/edge/cert-manager';
import { Traefik } from '../../constructs/edge/traefik';
import { ACME, all, find, objectsOf, synthFile, testChart } from '../helpers';

function edge(tls: TlsMode, traefik: ConstructorParameters<typeof Traefik>[2] extends infer P ? Omit<P & object, 'tls'> : never = {}) {
  const { app, chart } = testChart();
  const t = new Traefik(chart, 'Traefik', { ...traefik, tls });
  const cm = new CertManager(chart, 'CertManager', { tls, ingressClassName: t.ingressClassName });
  return { app, chart, traefik: t, certManager: cm };
}

describe('Traefik', () => {
  it('installs the chart with an IngressClass, an https redirect, metrics, and no cross-namespace references', () => {
    const { app } = edge({ mode: 'selfSigned' });
    const objects = objectsOf(app);
    assert.equal(find(objects, 'Namespace', 'traefik').metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const hr = find(objects, 'HelmRelease', 'traefik', 'traefik');
    assert.equal(hr.spec.chart.spec.chart, 'traefik');
    assert.equal(hr.spec.chart.spec.version, '41.3.0');
    const v = hr.spec.values;
    assert.deepEqual(v.ingressClass, { enabled: true, isDefaultClass: false, name: 'traefik' });
    assert.deepEqual(v.ports.web.http.redirections.entryPoint, { to: 'websecure', scheme: 'https', permanent: true });
    assert.equal(v.ports.web.allowACMEByPass, false);
    assert.equal(v.service.spec.type, 'LoadBalancer', 'default service type');
    assert.equal(v.deployment.replicas, 2, 'default replicas');
    assert.deepEqual(v.podDisruptionBudget, { enabled: true, minAvailable: 1 });
    assert.equal(v.providers.kubernetesCRD.allowCrossNamespace, false);
    assert.equal(v.providers.kubernetesIngress.enabled, false, 'no Ingress provider unless ACME needs it');
    assert.equal(v.global.checkNewVersion, false);
  });

  it('opens node ports on bare metal, the Ingress provider for ACME, and serves a client certificate by default', () => {
    const np = edge({ mode: 'acme', email: 'ops@example.com' }, { serviceType: 'NodePort', nodePorts: { http: 30080, https: 30443 }, replicas: 1 });
    const v = find(objectsOf(np.app), 'HelmRelease', 'traefik', 'traefik').spec.values;
    assert.equal(v.service.spec.type, 'NodePort');
    assert.equal(v.ports.web.nodePort, 30080);
    assert.equal(v.ports.websecure.nodePort, 30443);
    assert.equal(v.ports.web.allowACMEByPass, true);
    assert.equal(v.providers.kubernetesIngress.enabled, true);
    assert.deepEqual(v.podDisruptionBudget, { enabled: false });
    const own = edge({ mode: 'existingSecret', secretName: 'wildcard-tls' });
    const store = find(objectsOf(own.app), 'TLSStore', 'default', 'traefik');
    assert.deepEqual(store.spec, { defaultCertificate: { secretName: 'wildcard-tls' } });
  });

  it('refuses node ports without NodePort and non-positive replicas', () => {
    assert.throws(() => edge({ mode: 'selfSigned' }, { nodePorts: { http: 30080, https: 30443 } }), /nodePorts need serviceType NodePort/);
    assert.throws(() => edge({ mode: 'selfSigned' }, { replicas: 0 }), /replicas must be a positive integer/);
  });
});

describe('CertManager', () => {
  it('installs cert-manager with its CRDs and, for selfSigned, a private CA chain', () => {
    const { app, chart, certManager } = edge({ mode: 'selfSigned' });
    const secret = certManager.certificate(chart, 'Cert', { namespace: 'apps', secretName: 'app-tls', hosts: ['app.ml.test.example'] });
    const objects = objectsOf(app);
    const hr = find(objects, 'HelmRelease', 'cert-manager', 'cert-manager');
    assert.deepEqual(hr.spec.values.crds, { enabled: true, keep: true });
    assert.deepEqual(find(objects, 'ClusterIssuer', 'mlplat-selfsigned').spec, { selfSigned: {} });
    const ca = find(objects, 'Certificate', 'mlplat-ca', 'cert-manager');
    assert.equal(ca.spec.isCA, true);
    assert.equal(ca.spec.issuerRef.name, 'mlplat-selfsigned');
    assert.deepEqual(find(objects, 'ClusterIssuer', 'mlplat-ca').spec, { ca: { secretName: ca.spec.secretName } });
    assert.equal(secret, 'app-tls');
    const cert = find(objects, 'Certificate', 'app-tls', 'apps');
    assert.deepEqual(cert.spec.dnsNames, ['app.ml.test.example']);
    assert.equal(cert.spec.issuerRef.name, 'mlplat-ca');
  });

  it('uses ACME over HTTP-01 through the ingress class, or no issuer with the client\'s certificate', () => {
    const acme = edge({ mode: 'acme', email: 'ops@example.com' });
    const issuer = find(objectsOf(acme.app), 'ClusterIssuer', 'mlplat-acme');
    assert.equal(issuer.spec.acme.server, LETSENCRYPT_PRODUCTION);
    assert.equal(issuer.spec.acme.email, 'ops@example.com');
    assert.deepEqual(issuer.spec.acme.solvers, [{ http01: { ingress: { ingressClassName: 'traefik', serviceType: 'ClusterIP' } } }]);
    const own = edge({ mode: 'existingSecret', secretName: 'wildcard-tls' });
    assert.equal(own.certManager.certificate(own.chart, 'Cert', { namespace: 'apps', secretName: 'app-tls', hosts: ['a.example'] }), undefined);
    assert.equal(all(objectsOf(own.app), 'ClusterIssuer').length, 0);
    assert.equal(all(objectsOf(own.app), 'Certificate').length, 0);
  });

  it('refuses a bad ACME e-mail and a certificate without hosts', () => {
    assert.throws(() => edge({ mode: 'acme', email: 'not-an-address' }), /tls.email "not-an-address" must be an e-mail address/);
    const { chart, certManager } = edge({ mode: 'selfSigned' });
    assert.throws(() => certManager.certificate(chart, 'X', { namespace: 'a', secretName: 's', hosts: [] }), /needs at least one host/);
  });
});

describe('Traefik with ACME on a whole platform', () => {
  it('serves Ingresses only from cert-manager solvers in routed apps\' namespaces, also in the values Pulumi reads', () => {
    const { objects, platform } = synthFile(ACME);
    const values = find(objects, 'HelmRelease', 'traefik', 'traefik').spec.values;
    const routed = [...new Set(platform.ingress!.router.routes.map((r) => r.namespace))];
    assert.deepEqual(values.providers.kubernetesIngress.namespaces, [...new Set(['traefik', ...routed])].sort());
    assert.ok(!values.providers.kubernetesIngress.namespaces.includes('research'), 'no tenant namespace');
    assert.equal(values.providers.kubernetesIngress.labelSelector, 'acme.cert-manager.io/http01-solver=true');
    // The release object Pulumi installs from gets the same, resolved values.
    assert.deepEqual((platform.ingress!.traefik.release.values as any).providers.kubernetesIngress, values.providers.kubernetesIngress);
  });
});
