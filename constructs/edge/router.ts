import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { CredentialGenerator } from '../credentials/generator';
import { IOidcProvider, PlatformRole } from '../identity/types';
import { ICertificateIssuer } from './cert-manager';
import { OAUTH2_PROXY_PORT } from './oauth2-proxy';
import { SsoGate } from './sso-gate';
import { ACME_SOLVER_LABEL } from './traefik';
import { ExposeOptions, IIngressRouter, IRoute } from './types';

const TRAEFIK_API = 'traefik.io/v1alpha1';
/** Port of cert-manager's HTTP-01 solver pods (pkg/issuer/acme/http: acmesolver listens on 8089). */
const ACME_SOLVER_PORT = 8089;
const APP_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface IngressRouterProps {
  /** Namespace of the Traefik pods (let in to routed apps). */
  readonly traefikNamespace: string;
  /** The entry point of https (the chart's `websecure`). */
  readonly entryPoint: string;
  readonly certificates: ICertificateIssuer;
  /** The platform's credentials generator (created on first use). */
  readonly credentials: () => CredentialGenerator;
}

/**
 * The one way to put an app on the platform's ingress: `expose()` writes, in the app's namespace
 * (cross-namespace references are off in Traefik), the host's Certificate, a security-headers
 * Middleware, for ForwardAuth an oauth2-proxy with its own OIDC client and a forwardAuth
 * Middleware, the IngressRoute and a NetworkPolicy that lets Traefik in. Objects are created in
 * the scope the caller passes, so they land in the app's own output file.
 */
export class IngressRouter implements IIngressRouter {
  private readonly list: IRoute[] = [];
  private provider?: IOidcProvider;
  private readonly solverAllowed = new Set<string>();

  constructor(private readonly props: IngressRouterProps) {}

  get routes(): readonly IRoute[] {
    return this.list;
  }

  /** The identity provider ForwardAuth gates log in against. */
  useIdentityProvider(provider: IOidcProvider): void {
    if (this.provider && this.provider !== provider) throw new Error('the ingress already uses another identity provider');
    this.provider = provider;
  }

  expose(scope: Construct, id: string, options: ExposeOptions): IRoute {
    if (!APP_LABEL.test(options.app) || options.app.length > 46) throw new Error(`app "${options.app}" must be a DNS label of at most 46 characters (it names the route objects)`);
    const labels = options.hostLabels ?? options.app;
    if (!labels.split('.').every((l) => APP_LABEL.test(l) && l.length <= 63)) throw new Error(`host labels "${labels}" must be DNS labels`);
    if (this.list.some((r) => r.namespace === options.namespace && r.app === options.app)) throw new Error(`app "${options.app}" is exposed twice in namespace ${options.namespace}`);
    const provider = this.provider;
    if (options.auth.kind === 'forwardAuth' && !provider) throw new Error(`app "${options.app}" is routed behind SSO, which needs the identity provider: enable sso`);
    const ctx = PlatformContext.of(scope);
    const host = ctx.host(labels);
    if (this.list.some((r) => r.host === host)) throw new Error(`host ${host} is routed twice`);
    const ns = options.namespace;
    const c = new Construct(scope, id);

    const certificateSecret = this.props.certificates.certificate(c, 'Certificate', { namespace: ns, secretName: `${options.app}-tls`, hosts: [host] });
    // A Traefik Middleware in the route's namespace (cross-namespace references are off).
    const middleware = (mid: string, name: string, spec: Record<string, unknown>): string => {
      new ApiObject(c, mid, { apiVersion: TRAEFIK_API, kind: 'Middleware', metadata: { name, namespace: ns }, spec });
      return name;
    };
    const headers = middleware('Headers', `${options.app}-headers`, {
        headers: {
          stsSeconds: 31536000,
          stsIncludeSubdomains: true,
          forceSTSHeader: true,
          // Apps with their own framing rules (Keycloak's login iframes) keep them.
          frameDeny: !options.ownFrameOptions,
          contentTypeNosniff: true,
          referrerPolicy: 'strict-origin-when-cross-origin',
        },
    });

    const routes: Array<Record<string, unknown>> = [];
    const appRoute = (middlewares: string[], paths?: readonly string[]) => ({
      kind: 'Rule',
      match: `Host(\`${host}\`)${paths ? ` && (${paths.map((p) => `PathPrefix(\`${p}\`)`).join(' || ')})` : ''}`,
      middlewares: middlewares.map((name) => ({ name })),
      services: [{ kind: 'Service', name: options.service.name, port: options.service.port }],
    });
    // An oauth2-proxy for this app: its login callback route, and the forwardAuth middleware.
    const ssoGate = (roles: readonly PlatformRole[]): string => {
      if (!provider) throw new Error('unreachable: checked above');
      // Read when the output is written: tenants added later are let in too.
      const allowedGroups = () => [...new Set(roles.flatMap((r) => provider.roleGroups[r]))];
      const gate = new SsoGate(c, 'Sso', { app: options.app, title: options.title, namespace: ns, host, provider, credentials: this.props.credentials(), allowedGroups });
      const sso = middleware('ForwardAuth', `${options.app}-sso`, {
        // The gate refreshes its session on a 202: Traefik passes that cookie (and its split
        // parts) to the browser only when named here.
        forwardAuth: forwardAuth(gate.address, { addAuthCookiesToResponse: ssoCookieNames(options.app) }),
      });
      // The login callback and sign-out go to the gate itself (longer rule: higher priority).
      routes.push({
        kind: 'Rule',
        match: `Host(\`${host}\`) && PathPrefix(\`/oauth2/\`)`,
        middlewares: [{ name: headers }],
        services: [{ kind: 'Service', name: gate.service.name, port: gate.service.port }],
      });
      this.allowTraefik(c, 'AllowTraefikToSso', ns, `${options.app}-sso`, gate.podSelector, OAUTH2_PROXY_PORT);
      return sso;
    };
    if (options.auth.kind === 'forwardAuth') {
      routes.push(appRoute([headers, ssoGate(options.auth.allowedRoles ?? ['admin', 'editor', 'viewer'])]));
    } else if (options.auth.kind === 'token') {
      const token = middleware('TokenAuth', `${options.app}-token`, { forwardAuth: forwardAuth(options.auth.address) });
      // The caller's token also opens the Kubernetes API: the app behind the route never sees it.
      const strip = middleware('StripToken', `${options.app}-strip-token`, { headers: { customRequestHeaders: { Authorization: '' } } });
      routes.push(appRoute([headers, token, strip]));
    } else {
      if (options.adminPaths?.length) {
        if (!provider) throw new Error(`app "${options.app}" has admin paths behind SSO, which needs the identity provider: enable sso`);
        // Only platform admins reach these paths at all (e.g. Keycloak's admin console).
        routes.push(appRoute([headers, ssoGate(['admin'])], options.adminPaths));
      }
      routes.push(appRoute([headers]));
    }
    new ApiObject(c, 'Resource', {
      apiVersion: TRAEFIK_API,
      kind: 'IngressRoute',
      metadata: { name: options.app, namespace: ns },
      spec: {
        entryPoints: [this.props.entryPoint],
        routes,
        // Without a certificate of its own, the host is served by the default (TLSStore) one.
        tls: certificateSecret ? { secretName: certificateSecret } : {},
      },
    });
    this.allowTraefik(c, 'AllowTraefik', ns, options.app, options.podSelector, options.targetPort);
    // ACME HTTP-01: cert-manager runs its solver pod in the Certificate's namespace, where a
    // namespace's default-deny would keep Traefik out (once per namespace).
    if (certificateSecret && this.props.certificates.tls.mode === 'acme' && !this.solverAllowed.has(ns)) {
      this.solverAllowed.add(ns);
      this.allowTraefik(c, 'AllowAcmeSolver', ns, 'acme-solver', { [ACME_SOLVER_LABEL]: 'true' }, ACME_SOLVER_PORT);
    }

    const route: IRoute = { app: options.app, title: options.title, purpose: options.purpose, namespace: ns, host, url: `https://${host}/`, auth: options.auth.kind };
    this.list.push(route);
    return route;
  }

  /** Traefik's pods may reach `port` of the app's pods (whatever else the namespace denies). */
  private allowTraefik(scope: Construct, id: string, namespace: string, name: string, podSelector: Readonly<Record<string, string>>, port: number): void {
    new k8s.KubeNetworkPolicy(scope, id, {
      metadata: { name: `mlplat-ingress-${name}`, namespace },
      spec: {
        podSelector: { matchLabels: { ...podSelector } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': this.props.traefikNamespace } } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }],
          },
        ],
      },
    });
  }
}

/**
 * A forwardAuth spec: Traefik asks `address` first and copies the gate's user headers to the app
 * (the entry point drops X-Forwarded-* a client sent, so those are Traefik's own).
 */
function forwardAuth(address: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    address,
    trustForwardHeader: true,
    authResponseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email', 'X-Auth-Request-Groups', 'X-Auth-Request-Preferred-Username'],
    ...extra,
    maxResponseBodySize: 65536,
  };
}

/** Session cookie names of an app's SSO gate: oauth2-proxy splits large cookies into `_0`, `_1`, … */
export function ssoCookieNames(app: string): string[] {
  const base = `_mlplat_${app.replace(/-/g, '_')}`;
  return [base, ...[0, 1, 2, 3].map((i) => `${base}_${i}`)];
}
