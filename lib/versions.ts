/**
 * The versions catalog: every chart and image version mlplat deploys, pinned in one place with
 * where it came from. Components read it through PlatformContext; tests and the e2e harness read
 * the same object (e.g. to fetch the matching CRDs). Nothing else hard-codes a version.
 */

export interface HelmRepository {
  /** Name of the Flux HelmRepository object; stable. */
  readonly name: string;
  readonly url: string;
}

export interface ChartVersion {
  readonly repository: HelmRepository;
  readonly chart: string;
  readonly version: string;
  /**
   * Go module that ships the chart sources at this version (for air-gapped or test installs
   * from a local chart path), with the chart's directory inside the module.
   */
  readonly goModule?: { readonly path: string; readonly version: string; readonly chartDir: string };
}

export interface ImageRef {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
}

/** An API the platform emits objects of but does not install itself, and where its CRDs live. */
export interface CrdSource {
  /** Go module (fetched with `go mod download`) and the CRD directory inside it. */
  readonly goModule: string;
  readonly version: string;
  readonly crdDir: string;
}

export interface VersionsCatalog {
  readonly charts: {
    /** NVIDIA GPU Operator: https://github.com/NVIDIA/gpu-operator/releases (chart == app version). */
    readonly gpuOperator: ChartVersion;
  };
  /** CRDs of prerequisite APIs (GitOps). */
  readonly crds: {
    /** Flux source-controller (HelmRepository), Flux v2.x. */
    readonly fluxSource: CrdSource;
    /** Flux helm-controller (HelmRelease), Flux v2.x. */
    readonly fluxHelm: CrdSource;
  };
}

export const VERSIONS: VersionsCatalog = {
  charts: {
    gpuOperator: {
      repository: { name: 'nvidia', url: 'https://helm.ngc.nvidia.com/nvidia' },
      chart: 'gpu-operator',
      version: 'v26.7.0',
      goModule: { path: 'github.com/NVIDIA/gpu-operator', version: 'v26.7.0', chartDir: 'deployments/gpu-operator' },
    },
  },
  crds: {
    fluxSource: { goModule: 'github.com/fluxcd/source-controller', version: 'v1.7.2', crdDir: 'config/crd/bases' },
    fluxHelm: { goModule: 'github.com/fluxcd/helm-controller', version: 'v1.4.2', crdDir: 'config/crd/bases' },
  },
};
