import { ApiObject, Lazy } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { ChartVersion } from './versions';

/** The Flux API versions mlplat writes (Flux 2.3+). */
export const FLUX_SOURCE_API = 'source.toolkit.fluxcd.io/v1';
export const FLUX_HELM_API = 'helm.toolkit.fluxcd.io/v2';

/** What Helm does with the CRDs a chart ships, on install and upgrade. */
export type CrdPolicy = 'Skip' | 'Create' | 'CreateReplace';

export interface ChartReleaseProps<V extends object> {
  /** Chart coordinates, from the versions catalog. */
  readonly chart: ChartVersion;
  /** Helm release name; stable, human. */
  readonly releaseName: string;
  /** Namespace the release installs into (and where its Flux objects live). */
  readonly namespace: string;
  /**
   * The typed subset of the chart's values the platform sets. A value may be a cdk8s `Lazy`
   * (read when the output is written, e.g. lists other components add to later).
   */
  readonly values: V;
  /**
   * Releases that must be ready first.
   * @default - none
   */
  readonly dependsOn?: readonly ChartRelease<object>[];
  /**
   * CRD handling on install and upgrade.
   * @default 'CreateReplace'
   */
  readonly crds?: CrdPolicy;
  /**
   * How long Helm waits for the release's resources.
   * @default '10m'
   */
  readonly timeout?: string;
  /**
   * API groups whose CRDs the chart installs. Objects of these groups are written to the
   * output's second layer (`after-operators/`), applied once the release is ready.
   * @default - none
   */
  readonly provides?: readonly string[];
}

/**
 * A third-party Helm chart at a pinned version with typed values. Synthesized output holds it as
 * a Flux HelmRepository + HelmRelease (GitOps); the Pulumi program reads the same construct and
 * installs it as a Helm release from the repository or a local chart, or keeps the Flux objects.
 */
export class ChartRelease<V extends object = object> extends Construct {
  static isChartRelease(x: IConstruct): x is ChartRelease<object> {
    return x instanceof ChartRelease;
  }

  readonly chart: ChartVersion;
  readonly releaseName: string;
  readonly namespace: string;
  readonly dependsOn: readonly ChartRelease<object>[];
  readonly crds: CrdPolicy;
  readonly timeout: string;
  readonly provides: readonly string[];
  /** The Flux HelmRepository (shared by the releases of one repository in one namespace). */
  readonly repository: ApiObject;
  /** The Flux HelmRelease. */
  readonly release: ApiObject;

  private readonly rawValues: V;

  /** The values with every `Lazy` resolved (what the Helm release gets, in any delivery mode). */
  get values(): V {
    return resolveLazy(this.rawValues) as V;
  }

  constructor(scope: Construct, id: string, props: ChartReleaseProps<V>) {
    super(scope, id);
    this.chart = props.chart;
    this.releaseName = props.releaseName;
    this.namespace = props.namespace;
    this.rawValues = props.values;
    this.dependsOn = props.dependsOn ?? [];
    this.crds = props.crds ?? 'CreateReplace';
    this.timeout = props.timeout ?? '10m';
    this.provides = props.provides ?? [];
    this.node.addValidation({
      validate: () =>
        this.dependsOn
          .filter((d) => d.node.root !== this.node.root)
          .map((d) => `release "${this.releaseName}" depends on release "${d.releaseName}" of another construct tree`),
    });

    const repositories = REPOSITORIES.get(this.node.root) ?? new Map<string, ApiObject>();
    REPOSITORIES.set(this.node.root, repositories);
    const repoKey = `${this.namespace}/${props.chart.repository.name}`;
    const shared = repositories.get(repoKey);
    if (shared && (shared.toJson() as { spec: { url: string } }).spec.url !== props.chart.repository.url) {
      throw new Error(`HelmRepository ${repoKey} would point at two URLs (${props.chart.repository.url})`);
    }
    this.repository = shared ?? new ApiObject(this, 'Repository', {
      apiVersion: FLUX_SOURCE_API,
      kind: 'HelmRepository',
      metadata: { name: props.chart.repository.name, namespace: this.namespace },
      spec: {
        url: props.chart.repository.url,
        interval: '1h',
        ...(props.chart.repository.url.startsWith('oci://') ? { type: 'oci' } : {}),
      },
    });
    repositories.set(repoKey, this.repository);

    this.release = new ApiObject(this, 'Resource', {
      apiVersion: FLUX_HELM_API,
      kind: 'HelmRelease',
      metadata: { name: this.releaseName, namespace: this.namespace },
      spec: {
        releaseName: this.releaseName,
        interval: '30m',
        timeout: this.timeout,
        chart: {
          spec: {
            chart: props.chart.chart,
            version: props.chart.version,
            sourceRef: { kind: 'HelmRepository', name: props.chart.repository.name, namespace: this.namespace },
            interval: '1h',
          },
        },
        install: { crds: this.crds, remediation: { retries: 3 } },
        upgrade: { crds: this.crds, remediation: { retries: 3, remediateLastFailure: true } },
        ...(this.dependsOn.length
          ? { dependsOn: this.dependsOn.map((d) => ({ name: d.releaseName, namespace: d.namespace })) }
          : {}),
        values: props.values,
      },
    });
  }
}

/** HelmRepository objects per construct tree, by `<namespace>/<name>`. */
const REPOSITORIES = new WeakMap<IConstruct, Map<string, ApiObject>>();

/** A copy of `value` with every cdk8s `Lazy` replaced by what it produces. */
function resolveLazy(value: unknown): unknown {
  if (value instanceof Lazy) return resolveLazy(value.produce());
  if (Array.isArray(value)) return value.map(resolveLazy);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveLazy(v)]));
  return value;
}
