import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { platformNamespace } from '../../lib/workload';
import { IMetricsSource, ScrapeTarget } from '../observability/types';

export const CERT_MANAGER_NAMESPACE = 'cert-manager';
const CERT_MANAGER_API = 'cert-manager.io/v1';
/** Let's Encrypt production directory. */
export const LETSENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
const RELEASE = 'cert-manager';

/** How the platform's hosts get certificates (`spec.tls`). */
export type TlsMode =
  /** A private CA (self-signed root, kept by cert-manager) issues every host's certificate. */
  | { readonly mode: 'selfSigned' }
  /** An ACME CA (Let's Encrypt by default) over HTTP-01, answered through the ingress class. */
  | { readonly mode: 'acme'; readonly email: string; readonly server?: string }
  /** The client's own (wildcard) certificate, a Secret in the ingress namespace. */
  | { readonly mode: 'existingSecret'; readonly secretName: string };

/** Typed subset of the cert-manager chart's values (v1.21 deploy/charts/cert-manager/values.yaml). */
export interface CertManagerValues {
  /** The chart ships its CRDs as templates: installed only when enabled, kept on uninstall. */
  readonly crds: { readonly enabled: boolean; readonly keep: boolean };
  /** Aggregation of cert-manager's roles into `edit`/`admin`/`view` (which tenants hold). */
  readonly global: { readonly rbac: { readonly aggregateClusterRoles: boolean } };
  readonly prometheus: { readonly enabled: boolean };
  /** Pulled through the platform's mirror when one is set. */
  readonly imageRegistry?: string;
}

export interface CertManagerProps {
  readonly tls: TlsMode;
  /** IngressClass that answers ACME HTTP-01 challenges (mode `acme`). */
  readonly ingressClassName: string;
}

/** Who issues the certificate of a routed host. */
export interface ICertificateIssuer {
  readonly tls: TlsMode;
  /**
   * Certificate for `hosts` as Secret `secretName` in `namespace`; undefined when the ingress
   * serves the client's own certificate (mode `existingSecret`).
   */
  certificate(scope: Construct, id: string, props: { readonly namespace: string; readonly secretName: string; readonly hosts: readonly string[] }): string | undefined;
}

/**
 * cert-manager (Helm, through ChartRelease) and the ClusterIssuer of the configured TLS mode.
 * Traefik's IngressRoutes are not watched by cert-manager's ingress-shim, so each routed host
 * gets an explicit `Certificate` (`certificate()`). With `selfSigned`, every issued Secret carries
 * the CA as `ca.crt`; clients trust `cert-manager/mlplat-ca` (docs/edge.md).
 */
export class CertManager extends Construct implements ICertificateIssuer, IMetricsSource {
  readonly tls: TlsMode;
  readonly release: ChartRelease<CertManagerValues>;
  /** ClusterIssuer that signs host certificates, unless the client brings its own. */
  readonly issuerName: string | undefined;
  /**
   * The controller (certificate and ACME metrics), webhook and cainjector serve metrics on
   * container port `http-metrics` (9402) with `prometheus.enabled`. mlplat scrapes them with
   * PodMonitors of its own rather than the chart's ServiceMonitor, which Helm could not install
   * before the monitoring release has put the CRD in place. Pod labels as the chart's
   * deployment templates set them (v1.21.2). The controller's labels are honoured, as the
   * chart's ServiceMonitor does it: `namespace` of a certificate series is the Certificate's.
   */
  readonly scrapeTargets: readonly ScrapeTarget[] = (
    [
      ['cert-manager', 'cert-manager', 'controller'],
      ['cert-manager-webhook', 'webhook', 'webhook'],
      ['cert-manager-cainjector', 'cainjector', 'cainjector'],
    ] as const
  ).map(([name, appName, component]) => ({
    name,
    namespace: CERT_MANAGER_NAMESPACE,
    podSelector: { 'app.kubernetes.io/name': appName, 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': component },
    port: 'http-metrics',
    path: '/metrics',
    component: name,
    ...(component === 'controller' ? { honorLabels: true } : {}),
  }));

  constructor(scope: Construct, id: string, props: CertManagerProps) {
    if (props.tls.mode === 'acme' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.tls.email)) {
      throw new Error(`tls.email "${props.tls.email}" must be an e-mail address (the ACME account contact)`);
    }
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.tls = props.tls;
    platformNamespace(this, 'Namespace', CERT_MANAGER_NAMESPACE, 'restricted');
    this.release = new ChartRelease<CertManagerValues>(this, 'Release', {
      chart: ctx.versions.charts.certManager,
      releaseName: RELEASE,
      namespace: CERT_MANAGER_NAMESPACE,
      provides: ['cert-manager.io', 'acme.cert-manager.io'],
      values: {
        crds: { enabled: true, keep: true },
        // Off: tenants (who hold `edit`) must not create Certificates or CertificateRequests
        // against the platform's issuers, i.e. get any name signed by the CA clients trust.
        global: { rbac: { aggregateClusterRoles: false } },
        prometheus: { enabled: true },
        ...(ctx.imageRegistry ? { imageRegistry: ctx.imageRegistry } : {}),
      },
    });

    const tls = props.tls;
    if (tls.mode === 'selfSigned') {
      // Root (self-signed) → CA certificate → CA issuer. A ClusterIssuer reads its Secret from
      // the cluster resource namespace, the release's namespace by default.
      this.clusterIssuer('SelfSigned', 'mlplat-selfsigned', { selfSigned: {} });
      new ApiObject(this, 'Ca', {
        apiVersion: CERT_MANAGER_API,
        kind: 'Certificate',
        metadata: { name: 'mlplat-ca', namespace: CERT_MANAGER_NAMESPACE },
        spec: {
          isCA: true,
          commonName: `${ctx.client} platform CA`,
          // The CA signs names under the platform domain only (cert-manager's NameConstraints
          // feature, on by default since v1.15): a leaked key cannot impersonate other sites.
          nameConstraints: { critical: true, permitted: { dnsDomains: [ctx.domain] } },
          secretName: 'mlplat-ca',
          duration: '87600h',
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { kind: 'ClusterIssuer', name: 'mlplat-selfsigned', group: 'cert-manager.io' },
        },
      });
      this.issuerName = this.clusterIssuer('Resource', 'mlplat-ca', { ca: { secretName: 'mlplat-ca' } });
    } else if (tls.mode === 'acme') {
      this.issuerName = this.clusterIssuer('Resource', 'mlplat-acme', {
        acme: {
          server: tls.server ?? LETSENCRYPT_PRODUCTION,
          email: tls.email,
          privateKeySecretRef: { name: 'mlplat-acme-account' },
          solvers: [{ http01: { ingress: { ingressClassName: props.ingressClassName, serviceType: 'ClusterIP' } } }],
        },
      });
    } else {
      this.issuerName = undefined;
    }
  }

  certificate(scope: Construct, id: string, props: { readonly namespace: string; readonly secretName: string; readonly hosts: readonly string[] }): string | undefined {
    if (!this.issuerName) return undefined;
    if (props.hosts.length === 0) throw new Error(`certificate ${props.namespace}/${props.secretName} needs at least one host`);
    new ApiObject(scope, id, {
      apiVersion: CERT_MANAGER_API,
      kind: 'Certificate',
      metadata: { name: props.secretName, namespace: props.namespace },
      spec: {
        secretName: props.secretName,
        dnsNames: [...props.hosts],
        issuerRef: { kind: 'ClusterIssuer', name: this.issuerName, group: 'cert-manager.io' },
        privateKey: { rotationPolicy: 'Always' },
      },
    });
    return props.secretName;
  }

  private clusterIssuer(id: string, name: string, spec: object): string {
    new ApiObject(this, id, { apiVersion: CERT_MANAGER_API, kind: 'ClusterIssuer', metadata: { name }, spec });
    return name;
  }
}
