import { Construct } from 'constructs';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { CredentialGenerator } from '../credentials/generator';
import { secretEnv } from '../credentials/types';
import { KUBERNETES_CLIENT_ID } from '../identity/kubernetes-access';
import { IOidcProvider } from '../identity/types';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { FORWARD_AUTH_FLAGS, keycloakEndpointFlags, LISTEN_FLAGS, oauth2ProxyWorkload, OAUTH2_PROXY_PORT as PORT } from '../edge/oauth2-proxy';


export interface TokenGateProps {
  /** The tenant whose endpoints it guards (names the gate `gate-<tenant>`). */
  readonly tenant: string;
  /** Namespace of the gate: a platform namespace, out of the tenant's reach. */
  readonly namespace: string;
  readonly provider: IOidcProvider;
  readonly credentials: CredentialGenerator;
  /** Groups let through, read when the output is written (the tenant's and the admins'). */
  readonly allowedGroups: () => readonly string[];
}

/**
 * Token check in front of a tenant's model endpoints (APIs, not browsers): an oauth2-proxy that
 * accepts only requests with a Keycloak ID token of the `kubernetes` client (what `kubectl
 * oidc-login get-token` prints) whose `groups` claim names an allowed group, and answers 401
 * otherwise; no login redirects, no cookies. It runs in a platform namespace, so the tenant (who
 * may change anything in its own namespace) cannot loosen it. Keys are fetched from Keycloak over
 * the cluster network.
 */
export class TokenGate extends Construct implements IMetricsSource {
  readonly name: string;
  /** ForwardAuth URL (oauth2-proxy's auth endpoint). */
  readonly address: string;
  readonly podSelector: Readonly<Record<string, string>>;
  readonly scrapeTargets: readonly ScrapeTarget[];

  constructor(scope: Construct, id: string, props: TokenGateProps) {
    super(scope, id);
    this.name = `gate-${props.tenant}`;
    const ns = props.namespace;
    this.address = `http://${this.name}.${ns}.svc.cluster.local:${PORT}/oauth2/auth`;
    this.podSelector = { 'app.kubernetes.io/name': 'oauth2-proxy', [`${MLPLAT_PREFIX}/guards`]: `models-of-${props.tenant}` };
    this.scrapeTargets = [{ name: this.name, namespace: ns, podSelector: this.podSelector, port: 'metrics', path: '/metrics', component: 'token-gate' }];
    // oauth2-proxy insists on a client secret and a cookie secret even when it only verifies
    // bearer tokens; both are random and used for nothing else.
    const secret = props.credentials.secret(ns, `${this.name}-secrets`, { CLIENT_SECRET: { generate: 32 }, COOKIE_SECRET: { generate: 32 } });
    const args = (): string[] => {
      const groups = [...props.allowedGroups()];
      if (groups.length === 0) throw new Error(`the token gate of tenant ${props.tenant} lets no group in`);
      return [
        '--provider=keycloak-oidc',
        `--client-id=${KUBERNETES_CLIENT_ID}`,
        `--oidc-issuer-url=${props.provider.issuerUrl}`,
        ...keycloakEndpointFlags(props.provider),
        // Any valid bearer token is a session; without one the answer is 401, never a redirect.
        '--skip-jwt-bearer-tokens=true',
        '--bearer-token-login-fallback=false',
        '--email-domain=*',
        ...groups.map((g) => `--allowed-group=${g}`),
        ...FORWARD_AUTH_FLAGS,
        ...LISTEN_FLAGS,
      ];
    };
    oauth2ProxyWorkload(this, {
      name: this.name,
      namespace: ns,
      podSelector: this.podSelector,
      args,
      env: [secretEnv('OAUTH2_PROXY_CLIENT_SECRET', secret, 'CLIENT_SECRET'), secretEnv('OAUTH2_PROXY_COOKIE_SECRET', secret, 'COOKIE_SECRET')],
    });
  }
}
