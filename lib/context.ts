import { IConstruct } from 'constructs';
import { MLPLAT_PREFIX } from './naming';
import { VERSIONS, VersionsCatalog, ImageRef } from './versions';

const CONTEXT_KEY = 'mlplat:platform-context';

export interface PlatformContextProps {
  /** Client id (DNS-1123 label). */
  readonly client: string;
  /** Apps are served at `<app>.<domain>`. */
  readonly domain: string;
  /**
   * Registry that mirrors every upstream image (air-gapped clusters).
   * @default - images are pulled from their upstream registries
   */
  readonly imageRegistry?: string;
  /**
   * Prefix the API server puts in front of OIDC group names.
   * @default 'oidc:'
   */
  readonly groupPrefix?: string;
  /**
   * Pinned chart and image versions.
   * @default VERSIONS
   */
  readonly versions?: VersionsCatalog;
}

/**
 * The one typed context of a platform: client, domain, labels, naming, versions and the
 * image registry override. Constructs read it with `PlatformContext.of(this)`.
 */
export class PlatformContext {
  /** Attaches a context to the root of a construct tree; call before adding children. */
  static attach(root: IConstruct, props: PlatformContextProps): PlatformContext {
    const ctx = new PlatformContext(props);
    root.node.setContext(CONTEXT_KEY, ctx);
    return ctx;
  }

  /** The context of the platform `scope` belongs to. */
  static of(scope: IConstruct): PlatformContext {
    const ctx = scope.node.tryGetContext(CONTEXT_KEY);
    if (!(ctx instanceof PlatformContext)) {
      throw new Error(
        `${scope.node.path || '<root>'} is not inside an mlplat platform: create it under an MlPlatform, or call PlatformContext.attach(app, {...}) first`,
      );
    }
    return ctx;
  }

  readonly client: string;
  readonly domain: string;
  readonly imageRegistry: string | undefined;
  readonly groupPrefix: string;
  readonly versions: VersionsCatalog;

  private constructor(props: PlatformContextProps) {
    this.client = props.client;
    this.domain = props.domain;
    this.imageRegistry = props.imageRegistry?.replace(/\/+$/, '');
    this.groupPrefix = props.groupPrefix ?? 'oidc:';
    this.versions = props.versions ?? VERSIONS;
  }

  /** Labels on every object of a component (`app.kubernetes.io/*` and the client). */
  labels(name: string, component: string): Record<string, string> {
    return {
      'app.kubernetes.io/name': name,
      'app.kubernetes.io/instance': this.client,
      'app.kubernetes.io/component': component,
      'app.kubernetes.io/part-of': 'mlplat',
      'app.kubernetes.io/managed-by': 'mlplat',
      [`${MLPLAT_PREFIX}/client`]: this.client,
    };
  }

  /** `<app>.<domain>` */
  host(app: string): string {
    return `${app}.${this.domain}`;
  }

  /** The group name the API server sees for an SSO group. */
  kubernetesGroup(ssoGroup: string): string {
    return `${this.groupPrefix}${ssoGroup}`;
  }

  /** Full image reference, pulled through the registry override when one is set. */
  image(ref: ImageRef): string {
    const repo = this.imageRegistry ? `${this.imageRegistry}/${ref.repository}` : `${ref.registry}/${ref.repository}`;
    return `${repo}:${ref.tag}`;
  }

}
