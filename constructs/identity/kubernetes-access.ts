import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { OutputArtifact } from '../../lib/artifacts';
import { PlatformContext } from '../../lib/context';
import { ITenant } from '../tenancy/tenant';
import { GROUPS_CLAIM, IOidcProvider } from './types';

/** Client id of kubectl logins (a public client: PKCE, no secret). */
export const KUBERNETES_CLIENT_ID = 'kubernetes';
/** File name of a tenant's kubeconfig under `access/`. */
export const kubeconfigFileName = (tenant: string): string => `kubeconfig-${tenant}.yaml`;
/** Where `kubectl oidc-login get-token` listens for the browser's redirect (first free one). */
const LOGIN_REDIRECTS = ['http://localhost:8000', 'http://localhost:18000'];

export interface KubernetesAccessProps {
  readonly provider: IOidcProvider;
  /**
   * The cluster's API server URL, written into the kubeconfig files.
   * @default - a placeholder the operator replaces
   */
  readonly apiServer?: string;
  /** Whether the platform CA is private (tls mode selfSigned): the files then say where to get it. */
  readonly privateCa: () => boolean;
}

/**
 * Kubernetes API login through the platform's identity provider: the public client
 * `kubernetes`, the API server's structured authentication config
 * (`access/authentication-config.yaml`, `apiserver.config.k8s.io/v1`, Kubernetes ≥ 1.34) that
 * maps `preferred_username` and the `groups` claim with the platform's group prefix (the same
 * names tenant RBAC binds), and one kubeconfig per tenant (`access/kubeconfig-<tenant>.yaml`)
 * that logs in with kubectl's oidc-login plugin. Both are files for the client's cluster admins,
 * not applied objects (docs/identity.md).
 */
export class KubernetesAccess extends Construct {
  readonly clientId = KUBERNETES_CLIENT_ID;
  readonly issuerUrl: string;
  private readonly ctx: PlatformContext;
  private readonly props: KubernetesAccessProps;

  constructor(scope: Construct, id: string, props: KubernetesAccessProps) {
    super(scope, id);
    this.ctx = PlatformContext.of(this);
    this.props = props;
    this.issuerUrl = props.provider.issuerUrl;
    props.provider.addClient({ clientId: KUBERNETES_CLIENT_ID, name: 'Kubernetes API (kubectl oidc-login)', public: true, redirectUris: LOGIN_REDIRECTS });
    new OutputArtifact(this, 'AuthenticationConfig', { fileName: 'authentication-config.yaml', content: () => this.authenticationConfig() });
  }

  /** Writes `access/kubeconfig-<tenant>.yaml`. */
  addTenant(tenant: ITenant): void {
    new OutputArtifact(this, `Kubeconfig-${tenant.name}`, { fileName: kubeconfigFileName(tenant.name), content: () => this.kubeconfig(tenant) });
  }

  private authenticationConfig(): string {
    const prefix = this.ctx.groupPrefix;
    const doc = {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'AuthenticationConfiguration',
      jwt: [
        {
          issuer: { url: this.issuerUrl, audiences: [KUBERNETES_CLIENT_ID] },
          claimValidationRules: [{ expression: 'claims.?email_verified.orValue(true) == true', message: 'the e-mail address must be verified' }],
          claimMappings: {
            username: { claim: 'preferred_username', prefix },
            groups: { claim: GROUPS_CLAIM, prefix },
            uid: { claim: 'sub' },
          },
          userValidationRules: [{ expression: "!user.username.startsWith('system:')", message: 'the system: prefix is reserved' }],
        },
      ],
    };
    const ca = this.props.privateCa()
      ? [
        '#',
        '# tls.mode selfSigned: the API server must trust the platform CA. Add it under',
        '# jwt[0].issuer.certificateAuthority (PEM), from:',
        "#   kubectl -n cert-manager get secret mlplat-ca -o jsonpath='{.data.ca\\.crt}' | base64 -d",
      ]
      : [];
    return [
      `# Written by mlplat for ${this.ctx.client}: OIDC login to the Kubernetes API through ${this.issuerUrl}.`,
      '# Pass it to kube-apiserver with --authentication-config=<this file> (Kubernetes >= 1.34; for',
      '# 1.30-1.33 write apiVersion apiserver.config.k8s.io/v1beta1, same fields; see',
      '# docs/identity.md). Usernames become "<prefix><preferred_username>", groups "<prefix><group>":',
      `# the prefix "${this.ctx.groupPrefix}" is spec.access.groupPrefix, which tenant RoleBindings use too.`,
      ...ca,
      stringify(doc, { lineWidth: 0 }),
    ].join('\n');
  }

  private kubeconfig(tenant: ITenant): string {
    const server = this.props.apiServer;
    const args = ['oidc-login', 'get-token', `--oidc-issuer-url=${this.issuerUrl}`, `--oidc-client-id=${KUBERNETES_CLIENT_ID}`];
    const cluster = this.ctx.client;
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: { server: server ?? 'https://API-SERVER-OF-THE-CLUSTER:6443' } }],
      users: [
        {
          name: `${cluster}-oidc`,
          user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl', args, interactiveMode: 'IfAvailable' } },
        },
      ],
      contexts: [{ name: `${cluster}-${tenant.name}`, context: { cluster, user: `${cluster}-oidc`, namespace: tenant.namespace } }],
      'current-context': `${cluster}-${tenant.name}`,
    };
    return [
      `# Written by mlplat: kubectl access for members of tenant ${tenant.name} (groups: ${tenant.groups.join(', ')}).`,
      '# Needs the oidc-login plugin (kubectl krew install oidc-login); the first kubectl command opens',
      '# the browser for the platform login.',
      ...(server ? [] : ['# Set the API server URL (spec.sso.kubernetesApiServer writes it here) before use.']),
      ...(this.props.privateCa()
        ? ['# The platform CA is private: add --certificate-authority=<ca.crt> to the oidc-login args (docs/identity.md).']
        : []),
      stringify(doc, { lineWidth: 0 }),
    ].join('\n');
  }
}
