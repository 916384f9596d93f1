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
    /** NVIDIA GPU Operator v26.7.0 (chart version == app version, with the leading v): helm.ngc.nvidia.com/nvidia. */
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
    },
  },
  crds: {
    // Flux v2.9.5 ships source-controller v1.9.5 and helm-controller v1.6.4.
    fluxSource: { goModule: 'github.com/fluxcd/source-controller', version: 'v1.9.5', crdDir: 'config/crd/bases' },
    fluxHelm: { goModule: 'github.com/fluxcd/helm-controller', version: 'v1.6.4', crdDir: 'config/crd/bases' },
  },
};
