import { ISecretRef } from '../credentials/types';

/** Keys of the Secret an app reads its OIDC client credentials from. */
export const OIDC_CLIENT_KEYS = { clientId: 'CLIENT_ID', clientSecret: 'CLIENT_SECRET' } as const;

/** The claim that carries a user's group names (no leading `/`) in ID and access tokens. */
export const GROUPS_CLAIM = 'groups';

/** Platform-wide roles; every realm group maps to at most one. */
export type PlatformRole = 'admin' | 'editor' | 'viewer';

export interface OidcClientOptions {
  /** Client id in the realm; also names the app's client Secret (`oidc-<clientId>`). */
  readonly clientId: string;
  /** Shown on Keycloak's login and consent pages. */
  readonly name: string;
  /** Exact redirect URIs (no wildcards). */
  readonly redirectUris: readonly string[];
  /**
   * Where to go after logout.
   * @default - none
   */
  readonly postLogoutRedirectUris?: readonly string[];
  /**
   * CORS origins for browser-side token calls.
   * @default - none
   */
  readonly webOrigins?: readonly string[];
  /**
   * A public client (PKCE, no secret), e.g. a CLI such as kubectl oidc-login.
   * @default false
   */
  readonly public?: boolean;
  /**
   * Namespace of the app that reads the client secret (confidential clients).
   * @default - required unless `public`
   */
  readonly namespace?: string;
}

/** An OIDC client registered in the platform realm. */
export interface IOidcClient {
  readonly clientId: string;
  /** `https://auth.<domain>/realms/<realm>`: what tokens carry as `iss`. */
  readonly issuerUrl: string;
  /** CLIENT_ID and CLIENT_SECRET in the app's namespace; undefined for public clients. */
  readonly secret?: ISecretRef;
}

/** The platform's identity provider, as its consumers see it. */
export interface IOidcProvider {
  readonly realm: string;
  /** Browser-facing issuer, `https://auth.<domain>/realms/<realm>`. */
  readonly issuerUrl: string;
  /**
   * The same realm over the cluster network (`http://keycloak.<ns>.svc:8080/realms/<realm>`), for
   * back-channel calls (token, JWKS) of in-cluster apps: tokens still carry `issuerUrl` as `iss`.
   */
  readonly internalIssuerUrl: string;
  /** Realm groups per platform role (tenant groups included as viewers). */
  readonly roleGroups: Readonly<Record<PlatformRole, readonly string[]>>;
  /** Realm groups per platform role as configured: the platform's own people, without tenant groups. */
  readonly platformRoleGroups: Readonly<Record<PlatformRole, readonly string[]>>;
  /** Registers a client; a confidential client's secret is generated once and given to its app. */
  addClient(options: OidcClientOptions): IOidcClient;
}
