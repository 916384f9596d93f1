import { Construct } from 'constructs';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { CredentialGenerator } from '../credentials/generator';
import { secretEnv } from '../credentials/types';
import { IOidcProvider, OIDC_CLIENT_KEYS } from '../identity/types';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { FORWARD_AUTH_FLAGS, keycloakEndpointFlags, LISTEN_FLAGS, oauth2ProxyWorkload, OAUTH2_PROXY_PORT as PORT } from './oauth2-proxy';


export interface SsoGateProps {
  /** The app it guards (names the objects `<app>-sso` and the OIDC client `<app>`). */
  readonly app: string;
  readonly title: string;
  readonly namespace: string;
  /** `<app>.<domain>` */
  readonly host: string;
  readonly provider: IOidcProvider;
  readonly credentials: CredentialGenerator;
  /** Groups let through (the `groups` claim), read when the output is written; at least one. */
  readonly allowedGroups: () => readonly string[];
}

/**
 * oauth2-proxy (ForwardAuth target) in front of one app, in the app's namespace: its own OIDC
 * client (`<app>`, callback `https://<host>/oauth2/callback`), a host-only session cookie, the
 * allowed groups checked on every request. Traefik asks it before each request (`/` answers 202
 * with X-Auth-Request-* headers, or redirects to Keycloak); `/oauth2/*` on the app's host is routed
 * to it for the login callback. Token and key calls go to Keycloak over the cluster network, so
 * pods need neither a route to `auth.<domain>` nor the platform CA.
 */
export class SsoGate extends Construct implements IMetricsSource {
  readonly name: string;
  /** Named Service port (`http`). */
  readonly service: { readonly name: string; readonly port: string };
  /** ForwardAuth URL Traefik calls. */
  readonly address: string;
  readonly podSelector: Readonly<Record<string, string>>;
  /** oauth2-proxy's own metrics (requests, auth outcomes) on `--metrics-address`. */
  readonly scrapeTargets: readonly ScrapeTarget[];

  constructor(scope: Construct, id: string, props: SsoGateProps) {
    super(scope, id);
    this.name = `${props.app}-sso`;
    const ns = props.namespace;
    this.service = { name: this.name, port: 'http' };
    this.address = `http://${this.name}.${ns}.svc.cluster.local:${PORT}/`;
    this.podSelector = { 'app.kubernetes.io/name': 'oauth2-proxy', [`${MLPLAT_PREFIX}/guards`]: props.app };
    this.scrapeTargets = [{ name: this.name, namespace: ns, podSelector: this.podSelector, port: 'metrics', path: '/metrics', component: 'sso-gate' }];

    const client = props.provider.addClient({
      clientId: props.app,
      name: props.title,
      namespace: ns,
      redirectUris: [`https://${props.host}/oauth2/callback`],
      postLogoutRedirectUris: [`https://${props.host}/`],
    });
    // 32 random characters (oauth2-proxy accepts a 16, 24 or 32 byte secret; it base64-decodes
    // this one to 24 bytes: AES-192).
    const cookie = props.credentials.secret(ns, `${this.name}-cookie`, { COOKIE_SECRET: { generate: 32 } });
    const realm = props.provider.internalIssuerUrl;
    const groups = (): string[] => {
      const g = [...props.allowedGroups()];
      // oauth2-proxy lets everyone in when no group is listed: never emit that.
      if (g.length === 0) throw new Error(`the SSO gate of ${props.app} lets no group in: name the groups of its roles`);
      return g.map((x) => `--allowed-group=${x}`);
    };
    const args = (): string[] => [
      '--provider=keycloak-oidc',
      `--oidc-issuer-url=${props.provider.issuerUrl}`,
      ...keycloakEndpointFlags(props.provider),
      `--validate-url=${realm}/protocol/openid-connect/userinfo`,
      `--redirect-url=https://${props.host}/oauth2/callback`,
      `--whitelist-domain=${props.host}`,
      `--cookie-name=_mlplat_${props.app.replace(/-/g, '_')}`,
      '--cookie-secure=true',
      '--cookie-samesite=lax',
      // Re-check the Keycloak session (and re-read the groups) every 5 minutes; a session ends
      // after 12 hours. The default keeps a session 7 days without asking Keycloak again.
      '--cookie-refresh=5m',
      '--cookie-expire=12h',
      '--email-domain=*',
      ...groups(),
      '--code-challenge-method=S256',
      // Without a session: straight to Keycloak's login (no oauth2-proxy sign-in page).
      ...FORWARD_AUTH_FLAGS,
      '--skip-provider-button=true',
      ...LISTEN_FLAGS,
    ];
    oauth2ProxyWorkload(this, {
      name: this.name,
      namespace: ns,
      podSelector: this.podSelector,
      args,
      env: [
        secretEnv('OAUTH2_PROXY_CLIENT_ID', client.secret!, OIDC_CLIENT_KEYS.clientId),
        secretEnv('OAUTH2_PROXY_CLIENT_SECRET', client.secret!, OIDC_CLIENT_KEYS.clientSecret),
        secretEnv('OAUTH2_PROXY_COOKIE_SECRET', cookie, 'COOKIE_SECRET'),
      ],
    });
  }
}
