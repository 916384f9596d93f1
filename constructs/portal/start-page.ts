import { createHash } from 'node:crypto';
import { Chart, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ACCESS_DIR } from '../../lib/artifacts';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { TenantIngress } from '../../lib/tenant-ingress';
import { hardenedContainer, hardenedPod, platformNamespace, resources } from '../../lib/workload';
import { IIngressRouter } from '../edge/types';
import { IGpuPool } from '../gpu/pool';
import { kubeconfigFileName } from '../identity/kubernetes-access';
import { ITenant } from '../tenancy/tenant';

/** Host label of the start page itself (`https://home.<domain>/`); its route is not listed on it. */
export const START_PAGE_APP = 'home';
export const PORTAL_NAMESPACE = 'portal';
/** Pod-template annotation with a hash of the page: a changed page rolls the pods. */
export const CONFIG_HASH_ANNOTATION = `${MLPLAT_PREFIX}/config-hash`;
/** Where mlplat writes each tenant's kubeconfig, relative to the output directory. */
export const kubeconfigPath = (tenant: string): string => `${ACCESS_DIR}/${kubeconfigFileName(tenant)}`;

const NAME = 'start-page';
const PORT = 8080;
const DOC_ROOT = '/srv/www';
/** `nobody` in the busybox image: httpd needs no home, shell or writable file. */
const NOBODY = 65534;

/** How users reach the Kubernetes API with their SSO login. */
export interface KubectlAccess {
  /** OIDC issuer the API server trusts, e.g. `https://auth.<domain>/realms/mlplat`. */
  readonly issuerUrl: string;
  /** Public OIDC client kubectl logs in with. */
  readonly clientId: string;
}

export interface StartPageOptions {
  /**
   * Pods serving the page; a PodDisruptionBudget keeps one up when more than one.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Container resources.
   * @default - requests 5m CPU and 8Mi memory, memory limit 32Mi
   */
  readonly resources?: k8s.ResourceRequirements;
}

export interface StartPageProps extends StartPageOptions {
  /** Every app it routes is listed, except the page's own route (`home`). */
  readonly router: IIngressRouter;
}

/** An app as the page lists it. */
export interface StartPageApp {
  readonly app: string;
  readonly title: string;
  readonly purpose: string;
  readonly host: string;
  /** Link target; only http(s) URLs are accepted. */
  readonly url: string;
}

/** A GPU pool granted to a tenant, as the page shows it. */
export interface StartPagePool {
  readonly name: string;
  readonly gpuModel: string;
  /** Physical GPUs granted. */
  readonly gpus: number;
  /** How a GPU is shared, e.g. `whole GPUs`, `MIG 1g.10gb, 7 per GPU`. */
  readonly sharing: string;
  /** The extended resource pods request. */
  readonly resourceName: string;
  /** Units of `resourceName` the grant allows (`gpus × units per GPU`). */
  readonly units: number;
}

export interface StartPageTenant {
  readonly name: string;
  readonly namespace: string;
  readonly groups: readonly string[];
  readonly pools: readonly StartPagePool[];
}

/** Everything the page shows; `renderStartPage` turns it into HTML. */
export interface StartPageModel {
  readonly client: string;
  readonly domain: string;
  readonly apps: readonly StartPageApp[];
  readonly tenants: readonly StartPageTenant[];
  /** @default - no kubectl section */
  readonly kubernetesAccess?: KubectlAccess;
}

/**
 * The client's start page at `https://home.<domain>/`: one static HTML document generated from
 * the routed apps and the tenants, served by busybox httpd from a ConfigMap. Apps and tenants
 * added after construction are listed: the page is rendered at synth time.
 */
export class StartPage extends Construct {
  readonly app = START_PAGE_APP;
  readonly namespace = PORTAL_NAMESPACE;
  /** The Service and named port the router sends `home.<domain>` to. */
  readonly service = { name: NAME, port: 'http' } as const;
  readonly targetPort = PORT;
  readonly podSelector: Record<string, string>;
  readonly configMapName = NAME;
  readonly replicas: number;
  readonly resources: k8s.ResourceRequirements;
  private readonly router: IIngressRouter;
  private readonly tenantList: ITenant[] = [];
  private access: KubectlAccess | undefined;

  constructor(scope: Construct, id: string, props: StartPageProps) {
    if (props.replicas !== undefined && (!Number.isInteger(props.replicas) || props.replicas < 1)) {
      throw new Error(`start page: replicas must be a whole number ≥ 1 (got ${props.replicas})`);
    }
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.router = props.router;
    this.replicas = props.replicas ?? 1;
    this.resources = props.resources ?? resources({ cpu: '5m', memory: '8Mi' }, { memory: '32Mi' });
    this.podSelector = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/instance': ctx.client };

    platformNamespace(this, 'Namespace', this.namespace, 'restricted');
    // Non-tenant namespaces (Traefik, monitoring) reach the page and its SSO gate; tenants do not.
    new TenantIngress(this, 'PlatformIngress', { namespace: this.namespace, openings: [] });

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: NAME, namespace: this.namespace },
      automountServiceAccountToken: false,
    });

    new k8s.KubeConfigMap(this, 'Content', {
      metadata: { name: this.configMapName, namespace: this.namespace },
      data: Lazy.any({ produce: () => ({ 'index.html': this.render() }) }) as unknown as Record<string, string>,
    });

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: NAME, namespace: this.namespace },
      spec: Lazy.any({ produce: () => this.deploymentSpec() }) as unknown as k8s.DeploymentSpec,
    });

    new k8s.KubeService(this, 'Service', {
      metadata: { name: this.service.name, namespace: this.namespace },
      spec: {
        selector: this.podSelector,
        ports: [{ name: this.service.port, port: 80, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
      },
    });

    if (this.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: { name: NAME, namespace: this.namespace },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.podSelector } },
      });
    }
  }

  /** Lists a tenant with its SSO groups and granted GPU pools. */
  addTenant(tenant: ITenant): void {
    if (this.tenantList.some((t) => t.name === tenant.name)) throw new Error(`start page: tenant "${tenant.name}" is added twice`);
    this.tenantList.push(tenant);
  }

  /** Adds a short "kubectl access" section: the OIDC login plugin, issuer and client id. */
  setKubernetesAccess(access: KubectlAccess): void {
    if (this.access) throw new Error('start page: Kubernetes access is set twice');
    if (!/^https:\/\//.test(access.issuerUrl)) {
      throw new Error(`start page: issuerUrl must be an https URL, as the API server requires (got "${access.issuerUrl}")`);
    }
    this.access = access;
  }

  /** What the page shows, as of now. */
  model(): StartPageModel {
    const ctx = PlatformContext.of(this);
    return {
      client: ctx.client,
      domain: ctx.domain,
      apps: this.router.routes
        .filter((r) => r.app !== START_PAGE_APP)
        .map((r) => ({ app: r.app, title: r.title, purpose: r.purpose, host: r.host, url: r.url })),
      tenants: this.tenantList.map((t) => ({
        name: t.name,
        namespace: t.namespace,
        groups: [...t.groups],
        pools: [...t.gpuGrants].map(([pool, gpus]) => poolOnPage(pool, gpus)),
      })),
      ...(this.access ? { kubernetesAccess: { issuerUrl: this.access.issuerUrl, clientId: this.access.clientId } } : {}),
    };
  }

  /** The page as it is served (`index.html`). */
  render(): string {
    return renderStartPage(this.model());
  }

  private deploymentSpec(): k8s.DeploymentSpec {
    const hash = createHash('sha256').update(this.render()).digest('hex').slice(0, 16);
    const probe = (failureThreshold: number): k8s.Probe => ({
      httpGet: { path: '/', port: k8s.IntOrString.fromString('http'), scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold,
    });
    return {
      replicas: this.replicas,
      selector: { matchLabels: this.podSelector },
      template: {
        metadata: {
          labels: { ...Chart.of(this).labels, ...this.podSelector },
          annotations: { [CONFIG_HASH_ANNOTATION]: hash },
        },
        spec: hardenedPod(
          {
            serviceAccountName: NAME,
            containers: [
              hardenedContainer({
                name: 'httpd',
                image: PlatformContext.of(this).image(PlatformContext.of(this).versions.images.busybox),
                // Foreground (-f), requests logged to stderr (-v), documents from the ConfigMap.
                command: ['httpd', '-f', '-v', '-p', String(PORT), '-h', DOC_ROOT],
                ports: [{ name: 'http', containerPort: PORT, protocol: 'TCP' }],
                readinessProbe: probe(3),
                livenessProbe: probe(6),
                resources: this.resources,
                volumeMounts: [{ name: 'www', mountPath: DOC_ROOT, readOnly: true }],
              }),
            ],
            volumes: [{ name: 'www', configMap: { name: this.configMapName } }],
          },
          { uid: NOBODY },
        ),
      },
    };
  }
}

function poolOnPage(pool: IGpuPool, gpus: number): StartPagePool {
  const mig = /^nvidia\.com\/mig-(.+)$/.exec(pool.resourceName);
  const sharing = mig
    ? `MIG ${mig[1]}, ${pool.unitsPerGpu} per GPU`
    : pool.unitsPerGpu > 1
      ? `time-sliced, ${pool.unitsPerGpu} per GPU`
      : 'whole GPUs';
  return { name: pool.name, gpuModel: pool.gpuModel, gpus, sharing, resourceName: pool.resourceName, units: gpus * pool.unitsPerGpu };
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
:root{color-scheme:light;--fg:#1d2330;--muted:#5b6475;--line:#dde2ea;--bg:#f5f7fa;--card:#fff;--accent:#2456c8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#18213a;color:#fff;padding:28px 0}
header h1{margin:0;font-size:28px;font-weight:600}
header p{margin:4px 0 0;color:#b9c3d9}
main,header>div,footer{max-width:1080px;margin:0 auto;padding:0 24px}
h2{font-size:19px;margin:32px 0 12px}
ul.apps{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
li.app{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px}
li.app a{font-weight:600;font-size:17px;color:var(--accent);text-decoration:none}
li.app a:hover{text-decoration:underline}
.host{display:block;color:var(--muted);font-size:13px;font-family:ui-monospace,Menlo,Consolas,monospace}
li.app p{margin:8px 0 0}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px}
th,td{text-align:left;vertical-align:top;padding:10px 14px;border-bottom:1px solid var(--line)}
th{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
td ul{margin:0;padding-left:18px}
td code{white-space:nowrap}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:14px}
pre{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;overflow-x:auto}
.empty,.muted{color:var(--muted)}
footer{color:var(--muted);font-size:13px;margin:40px auto 24px}
`.trim();

/**
 * The start page: one static HTML5 document with inline CSS, no scripts and no external
 * resources, every interpolated string escaped. Deterministic: apps in router order, tenants in
 * the order they were added. Tests and the e2e check find entries by `data-app`, `data-tenant`
 * and `data-pool`.
 */
export function renderStartPage(model: StartPageModel): string {
  const e = escapeHtml;
  for (const a of model.apps) {
    // Escaping keeps a URL from breaking the markup, not from being a `javascript:` link.
    if (!/^https?:\/\//i.test(a.url)) throw new Error(`start page: app "${a.app}" has URL "${a.url}" (only http and https links are listed)`);
  }
  const apps = model.apps.length
    ? `<ul class="apps">\n${model.apps
        .map(
          (a) =>
            `<li class="app" data-app="${e(a.app)}"><a href="${e(a.url)}">${e(a.title)}</a>` +
            `<span class="host">${e(a.host)}</span><p>${e(a.purpose)}</p></li>`,
        )
        .join('\n')}\n</ul>`
    : '<p class="empty">No apps are published yet.</p>';

  const poolItem = (p: StartPagePool) =>
    `<li data-pool="${e(p.name)}"><strong>${e(p.name)}</strong>: ${p.gpus} × ${e(p.gpuModel)} (${e(p.sharing)}); ` +
    `request up to ${p.units} <code>${e(p.resourceName)}</code></li>`;
  const tenants = model.tenants.length
    ? `<table>\n<thead><tr><th>Tenant</th><th>Namespace</th><th>SSO groups</th><th>GPU pools</th></tr></thead>\n<tbody>\n${model.tenants
        .map(
          (t) =>
            `<tr data-tenant="${e(t.name)}"><td>${e(t.name)}</td><td><code>${e(t.namespace)}</code></td>` +
            `<td>${t.groups.map((g) => `<code>${e(g)}</code>`).join(', ')}</td>` +
            `<td>${t.pools.length ? `<ul>${t.pools.map(poolItem).join('')}</ul>` : '<span class="muted">CPU only</span>'}</td></tr>`,
        )
        .join('\n')}\n</tbody>\n</table>`
    : '<p class="empty">No tenants yet.</p>';

  const access = model.kubernetesAccess;
  const kubectl = access
    ? `
<section id="kubectl">
<h2>kubectl access</h2>
<p>Sign in to the Kubernetes API with your SSO account through the kubelogin plugin
(<code>kubectl oidc-login</code>):</p>
<pre>kubectl krew install oidc-login
kubectl oidc-login setup --oidc-issuer-url=${e(access.issuerUrl)} --oidc-client-id=${e(access.clientId)}</pre>
<p>Issuer <code>${e(access.issuerUrl)}</code>, client id <code>${e(access.clientId)}</code>.
Your platform team hands out a kubeconfig per tenant${
        model.tenants.length ? ` (${model.tenants.map((t) => `<code>${e(kubeconfigPath(t.name))}</code>`).join(', ')})` : ''
      }; kubectl opens the login page in your browser on first use.</p>
</section>`
    : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(model.client)} ML platform</title>
<style>
${STYLE}
</style>
</head>
<body>
<header><div><h1>${e(model.client)} ML platform</h1><p>${e(model.domain)}</p></div></header>
<main>
<section id="apps">
<h2>Apps</h2>
${apps}
</section>
<section id="tenants">
<h2>Tenants</h2>
${tenants}
</section>${kubectl}
</main>
<footer>Generated by mlplat for ${e(model.client)}.</footer>
</body>
</html>
`;
}
