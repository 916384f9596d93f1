import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { hardenedContainer, hardenedPod, resources } from '../../lib/workload';
import { IOidcProvider } from '../identity/types';

/** oauth2-proxy's HTTP port (ForwardAuth, login callback) and its metrics port. */
export const OAUTH2_PROXY_PORT = 4180;
export const OAUTH2_PROXY_METRICS_PORT = 44180;

export interface Oauth2ProxyWorkloadProps {
  /** Names the Deployment, ServiceAccount and Service. */
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Readonly<Record<string, string>>;
  /** Command-line flags, read when the output is written (allowed groups can grow). */
  readonly args: () => string[];
  /** Secrets (client and cookie secret) as environment variables. */
  readonly env: k8s.EnvVar[];
}

/**
 * The workload of one oauth2-proxy (an SSO gate or a token gate), created in `scope`: a
 * Deployment with the security baseline and probes, its own ServiceAccount without an API token,
 * and a Service with the ports `http` and `metrics`.
 */
export function oauth2ProxyWorkload(scope: Construct, props: Oauth2ProxyWorkloadProps): void {
  const ctx = PlatformContext.of(scope);
  const { name, namespace } = props;
  new k8s.KubeServiceAccount(scope, 'ServiceAccount', { metadata: { name, namespace }, automountServiceAccountToken: false });
  new k8s.KubeDeployment(scope, 'Resource', {
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { ...props.podSelector } },
      template: {
        metadata: { labels: { ...props.podSelector } },
        spec: hardenedPod({
          serviceAccountName: name,
          containers: [
            hardenedContainer({
              name: 'oauth2-proxy',
              image: ctx.image(ctx.versions.images.oauth2Proxy),
              args: Lazy.any({ produce: props.args }) as unknown as string[],
              env: props.env,
              ports: [
                { name: 'http', containerPort: OAUTH2_PROXY_PORT },
                { name: 'metrics', containerPort: OAUTH2_PROXY_METRICS_PORT },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: k8s.IntOrString.fromString('http') }, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/ping', port: k8s.IntOrString.fromString('http') }, periodSeconds: 20 },
              resources: resources({ cpu: '10m', memory: '32Mi' }, { memory: '128Mi' }),
            }),
          ],
        }),
      },
    },
  });
  new k8s.KubeService(scope, 'Service', {
    metadata: { name, namespace },
    spec: {
      selector: { ...props.podSelector },
      ports: [
        { name: 'http', port: OAUTH2_PROXY_PORT, targetPort: k8s.IntOrString.fromString('http') },
        { name: 'metrics', port: OAUTH2_PROXY_METRICS_PORT, targetPort: k8s.IntOrString.fromString('metrics') },
      ],
    },
  });
}

/**
 * Keycloak without discovery: browsers go to the public login page; code redemption and keys go
 * to Keycloak over the cluster network (tokens still carry the public issuer).
 */
export function keycloakEndpointFlags(provider: IOidcProvider): string[] {
  const realm = provider.internalIssuerUrl;
  return [
    '--skip-oidc-discovery=true',
    `--login-url=${provider.issuerUrl}/protocol/openid-connect/auth`,
    `--redeem-url=${realm}/protocol/openid-connect/token`,
    `--oidc-jwks-url=${realm}/protocol/openid-connect/certs`,
  ];
}

/** ForwardAuth mode: answer 202 (with the user in X-Auth-Request-*) or refuse/redirect. */
export const FORWARD_AUTH_FLAGS: readonly string[] = ['--upstream=static://202', '--reverse-proxy=true', '--set-xauthrequest=true'];

/** Where oauth2-proxy listens (its Service's `http` and `metrics` ports). */
export const LISTEN_FLAGS: readonly string[] = [`--http-address=0.0.0.0:${OAUTH2_PROXY_PORT}`, `--metrics-address=0.0.0.0:${OAUTH2_PROXY_METRICS_PORT}`];
