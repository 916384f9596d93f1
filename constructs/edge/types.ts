import { PlatformRole } from '../identity/types';

/**
 * How a routed app authenticates its users:
 * - `native`: the app logs users in itself (its own OIDC client, or it is the identity provider);
 * - `forwardAuth`: an oauth2-proxy in the app's namespace checks every request against the
 *   identity provider first (apps without a login of their own, or without OIDC). Only members of
 *   the groups of `allowedRoles` get through (default: every role; tenant groups are viewers).
 */
export type RouteAuth =
  | { readonly kind: 'native' }
  | { readonly kind: 'forwardAuth'; readonly allowedRoles?: readonly PlatformRole[] }
  /**
   * APIs (model endpoints): every request carries a Keycloak token (`Authorization: Bearer`),
   * checked by the gate at `address` (a ForwardAuth URL answering 2xx or 401/403).
   */
  | { readonly kind: 'token'; readonly address: string };

export interface ExposeOptions {
  /** Names the route objects (unique per namespace); by default also the host label. */
  readonly app: string;
  /**
   * The host's labels below the domain, e.g. `churn.serving` for `churn.serving.<domain>`.
   * @default - `app`
   */
  readonly hostLabels?: string;
  /** Namespace of the Service (routes, middlewares and the certificate go there too). */
  readonly namespace: string;
  /** The Service and its named port that serves the UI. */
  readonly service: { readonly name: string; readonly port: string };
  /** Labels of the pods behind the Service (Traefik is let in to them by a NetworkPolicy). */
  readonly podSelector: Readonly<Record<string, string>>;
  /** Container port the Service's named port targets (the NetworkPolicy opens this one). */
  readonly targetPort: number;
  readonly auth: RouteAuth;
  /**
   * Path prefixes of a `native` app that only platform admins may reach, behind an SSO gate
   * (e.g. Keycloak's admin console and master realm).
   * @default - none
   */
  readonly adminPaths?: readonly string[];
  /**
   * The app sets its own X-Frame-Options/CSP framing rules (e.g. Keycloak's login iframes), so
   * the route does not deny framing.
   * @default false
   */
  readonly ownFrameOptions?: boolean;
  /** Display name, e.g. "MLflow". */
  readonly title: string;
  /** One-line purpose shown on the start page. */
  readonly purpose: string;
}

/** A routed app. */
export interface IRoute {
  readonly app: string;
  readonly title: string;
  readonly purpose: string;
  readonly namespace: string;
  /** `<app>.<domain>` */
  readonly host: string;
  /** `https://<host>/` */
  readonly url: string;
  readonly auth: RouteAuth['kind'];
}

/** The platform ingress as apps see it. */
export interface IIngressRouter {
  /** Every app routed so far, in the order they were exposed. */
  readonly routes: readonly IRoute[];
}

/** A component's web UI, as the router needs it. */
export interface WebUi {
  readonly namespace: string;
  /** The Service and its named port. */
  readonly service: { readonly name: string; readonly port: string };
  /** Labels of the pods behind the Service. */
  readonly podSelector: Readonly<Record<string, string>>;
  /** Container port behind the Service port. */
  readonly targetPort: number;
}
