import { findGpuModel, GPU_MODELS, GpuModelInfo } from './models';

/** A MIG layout that applies one profile to every GPU of a node: `all-<profile>`. */
export interface MigLayout {
  readonly model: GpuModelInfo;
  /** The per-GPU profile, e.g. `1g.10gb`. */
  readonly profile: string;
  /** MIG instances of that profile on one GPU. */
  readonly perGpu: number;
  /** The extended resource the device plugin advertises under the `mixed` strategy. */
  readonly resourceName: string;
}

export type MigResolution = { readonly ok: true; readonly layout: MigLayout } | { readonly ok: false; readonly message: string };

const LAYOUT_PREFIX = 'all-';

/** Names of the MIG-capable models, for error messages. */
export function migCapableModels(): string[] {
  return GPU_MODELS.filter((m) => m.migProfiles.length > 0).map((m) => m.name);
}

/** Resolves `profile` (e.g. `all-1g.10gb`) for `gpuModel`, or explains what would be valid. */
export function resolveMigLayout(gpuModel: string, profile: string): MigResolution {
  const model = findGpuModel(gpuModel);
  if (!model) {
    return {
      ok: false,
      message: `unknown GPU model "${gpuModel}": MIG needs a known MIG-capable model (${migCapableModels().join(', ')})`,
    };
  }
  if (model.migProfiles.length === 0) {
    return { ok: false, message: `${model.name} does not support MIG (use timeSlicing)` };
  }
  const valid = model.migProfiles.map((p) => LAYOUT_PREFIX + p.name);
  const wanted = profile.startsWith(LAYOUT_PREFIX) ? profile.slice(LAYOUT_PREFIX.length) : undefined;
  const match = model.migProfiles.find((p) => p.name === wanted);
  if (!match) {
    return { ok: false, message: `${model.name} has no MIG layout "${profile}" (valid: ${valid.join(', ')})` };
  }
  return {
    ok: true,
    layout: { model, profile: match.name, perGpu: match.perGpu, resourceName: `nvidia.com/mig-${match.name}` },
  };
}
