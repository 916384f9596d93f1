/**
 * Catalog of NVIDIA GPU models: memory, architecture and the MIG profiles each one supports.
 *
 * Sources (checked 2026-08):
 *  - NVIDIA Multi-Instance GPU User Guide, "Supported GPUs" and "Supported MIG Profiles"
 *    (docs.nvidia.com/datacenter/tesla/mig-user-guide/): profile names and "Number of Instances Available".
 *  - NVIDIA GPU Operator v26.7.0, assets/state-mig-manager/0400_configmap.yaml (the operator's
 *    default mig-parted config): the `all-<profile>` configs and their per-PCI-device-ID `device-filter`s.
 *  - NVIDIA go-nvml pkg/nvml/mock/gpus/{a100,a30,h100,h200,b200}.go: GPU-instance profile counts.
 *  - NVIDIA product datasheets for memory sizes.
 *
 * Only the plain compute profiles are listed. Variants that trade engines (`+me`, `+me.all`, `-me`)
 * or add graphics (`+gfx`) are left out: at most one `+me` instance fits a GPU, and they are named
 * differently by the device plugin (`+` becomes `.`, e.g. `nvidia.com/mig-1g.10gb.me`).
 * MIG profile names carry the usable memory (e.g. B200: 180 GB -> `7g.180gb`), which can be less
 * than the marketed `memoryGiB`.
 */

/** One MIG profile a GPU model supports, e.g. 1g.10gb: at most `perGpu` instances on one GPU. */
export interface MigProfile {
  readonly name: string;
  readonly perGpu: number;
}

export interface GpuModelInfo {
  /** Canonical name as users write it in config, e.g. 'A100-80GB', 'L4', 'H100-80GB', 'RTX-6000-Ada'. */
  readonly name: string;
  /** Other spellings accepted (case-insensitive match is done by findGpuModel), only where unambiguous. */
  readonly aliases: readonly string[];
  readonly segment: 'datacenter' | 'workstation';
  readonly memoryGiB: number;
  /** Architecture, e.g. 'Ampere', 'Hopper', 'Blackwell', 'Ada Lovelace', 'Turing'. */
  readonly architecture: string;
  /** MIG profiles (per-GPU instance shapes, named as nvidia mig-parted / device plugin name them). Empty if no MIG. */
  readonly migProfiles: readonly MigProfile[];
}

/** Builds a profile list from `[name, perGpu]` pairs. */
function mig(...profiles: ReadonlyArray<readonly [string, number]>): readonly MigProfile[] {
  return profiles.map(([name, perGpu]) => ({ name, perGpu }));
}

const NO_MIG: readonly MigProfile[] = [];

// Seven-slice GPUs (A100, H100, H200, B200, ...) share one geometry; only the memory in the names differs.
const MIG_A100_40GB = mig(['1g.5gb', 7], ['1g.10gb', 4], ['2g.10gb', 3], ['3g.20gb', 2], ['4g.20gb', 1], ['7g.40gb', 1]);
const MIG_80GB = mig(['1g.10gb', 7], ['1g.20gb', 4], ['2g.20gb', 3], ['3g.40gb', 2], ['4g.40gb', 1], ['7g.80gb', 1]);
const MIG_94GB = mig(['1g.12gb', 7], ['1g.24gb', 4], ['2g.24gb', 3], ['3g.47gb', 2], ['4g.47gb', 1], ['7g.94gb', 1]);
const MIG_96GB = mig(['1g.12gb', 7], ['1g.24gb', 4], ['2g.24gb', 3], ['3g.48gb', 2], ['4g.48gb', 1], ['7g.96gb', 1]);
const MIG_H200 = mig(['1g.18gb', 7], ['1g.35gb', 4], ['2g.35gb', 3], ['3g.71gb', 2], ['4g.71gb', 1], ['7g.141gb', 1]);
const MIG_GH200_144GB = mig(['1g.18gb', 7], ['1g.36gb', 4], ['2g.36gb', 3], ['3g.72gb', 2], ['4g.72gb', 1], ['7g.144gb', 1]);
const MIG_B200 = mig(['1g.23gb', 7], ['1g.45gb', 4], ['2g.45gb', 3], ['3g.90gb', 2], ['4g.90gb', 1], ['7g.180gb', 1]);
const MIG_GB200 = mig(['1g.23gb', 7], ['1g.47gb', 4], ['2g.47gb', 3], ['3g.93gb', 2], ['4g.93gb', 1], ['7g.186gb', 1]);
const MIG_B300 = mig(['1g.34gb', 7], ['1g.67gb', 4], ['2g.67gb', 3], ['3g.135gb', 2], ['4g.135gb', 1], ['7g.269gb', 1]);
const MIG_GB300 = mig(['1g.35gb', 7], ['1g.70gb', 4], ['2g.70gb', 3], ['3g.139gb', 2], ['4g.139gb', 1], ['7g.278gb', 1]);
// Four-slice GPUs.
const MIG_A30 = mig(['1g.6gb', 4], ['2g.12gb', 2], ['4g.24gb', 1]);
const MIG_RTX_PRO_6000 = mig(['1g.24gb', 4], ['2g.48gb', 2], ['4g.96gb', 1]);

export const GPU_MODELS: readonly GpuModelInfo[] = [
  // --- Data center: Blackwell ---
  {
    name: 'GB300',
    aliases: ['GB300-288GB'],
    segment: 'datacenter',
    memoryGiB: 288,
    architecture: 'Blackwell',
    migProfiles: MIG_GB300,
  },
  {
    name: 'B300',
    aliases: ['B300-288GB'],
    segment: 'datacenter',
    memoryGiB: 288,
    architecture: 'Blackwell',
    migProfiles: MIG_B300,
  },
  {
    name: 'GB200',
    aliases: ['GB200-186GB'],
    segment: 'datacenter',
    memoryGiB: 186,
    architecture: 'Blackwell',
    migProfiles: MIG_GB200,
  },
  {
    name: 'B200',
    aliases: ['B200-180GB'],
    segment: 'datacenter',
    memoryGiB: 180,
    architecture: 'Blackwell',
    migProfiles: MIG_B200,
  },
  {
    name: 'RTX-PRO-6000-Blackwell-Server',
    aliases: ['RTX-PRO-6000-Blackwell-Server-Edition', 'RTX-PRO-6000-SE'],
    segment: 'datacenter',
    memoryGiB: 96,
    architecture: 'Blackwell',
    migProfiles: MIG_RTX_PRO_6000,
  },

  // --- Data center: Hopper ---
  {
    name: 'H200',
    aliases: ['H200-141GB', 'H200-SXM', 'H200-NVL'],
    segment: 'datacenter',
    memoryGiB: 141,
    architecture: 'Hopper',
    migProfiles: MIG_H200,
  },
  {
    name: 'GH200',
    aliases: ['GH200-96GB', 'GH200-480GB'],
    segment: 'datacenter',
    memoryGiB: 96,
    architecture: 'Hopper',
    migProfiles: MIG_96GB,
  },
  {
    name: 'GH200-144GB',
    aliases: ['GH200-624GB'],
    segment: 'datacenter',
    memoryGiB: 144,
    architecture: 'Hopper',
    migProfiles: MIG_GH200_144GB,
  },
  {
    name: 'H100-80GB',
    aliases: ['H100', 'H100-SXM', 'H100-SXM5-80GB', 'H100-80GB-HBM3', 'H100-PCIe', 'H100-PCIE-80GB'],
    segment: 'datacenter',
    memoryGiB: 80,
    architecture: 'Hopper',
    migProfiles: MIG_80GB,
  },
  {
    name: 'H100-NVL',
    aliases: ['H100-NVL-94GB', 'H100-94GB'],
    segment: 'datacenter',
    memoryGiB: 94,
    architecture: 'Hopper',
    migProfiles: MIG_94GB,
  },
  { name: 'H800-80GB', aliases: ['H800'], segment: 'datacenter', memoryGiB: 80, architecture: 'Hopper', migProfiles: MIG_80GB },
  {
    name: 'H800-NVL',
    aliases: ['H800-NVL-94GB'],
    segment: 'datacenter',
    memoryGiB: 94,
    architecture: 'Hopper',
    migProfiles: MIG_94GB,
  },
  { name: 'H20', aliases: ['H20-96GB'], segment: 'datacenter', memoryGiB: 96, architecture: 'Hopper', migProfiles: MIG_96GB },

  // --- Data center: Ada Lovelace ---
  { name: 'L40S', aliases: [], segment: 'datacenter', memoryGiB: 48, architecture: 'Ada Lovelace', migProfiles: NO_MIG },
  { name: 'L40', aliases: [], segment: 'datacenter', memoryGiB: 48, architecture: 'Ada Lovelace', migProfiles: NO_MIG },
  { name: 'L20', aliases: [], segment: 'datacenter', memoryGiB: 48, architecture: 'Ada Lovelace', migProfiles: NO_MIG },
  { name: 'L4', aliases: [], segment: 'datacenter', memoryGiB: 24, architecture: 'Ada Lovelace', migProfiles: NO_MIG },

  // --- Data center: Ampere ---
  {
    name: 'A100-80GB',
    aliases: ['A100-SXM4-80GB', 'A100-80GB-PCIe', 'A100-PCIE-80GB'],
    segment: 'datacenter',
    memoryGiB: 80,
    architecture: 'Ampere',
    migProfiles: MIG_80GB,
  },
  {
    name: 'A100-40GB',
    aliases: ['A100-SXM4-40GB', 'A100-PCIE-40GB', 'A100-40GB-PCIe'],
    segment: 'datacenter',
    memoryGiB: 40,
    architecture: 'Ampere',
    migProfiles: MIG_A100_40GB,
  },
  {
    name: 'A800-80GB',
    aliases: ['A800-SXM4-80GB', 'A800-80GB-PCIe'],
    segment: 'datacenter',
    memoryGiB: 80,
    architecture: 'Ampere',
    migProfiles: MIG_80GB,
  },
  {
    name: 'A800-40GB',
    aliases: ['A800-40GB-PCIe'],
    segment: 'datacenter',
    memoryGiB: 40,
    architecture: 'Ampere',
    migProfiles: MIG_A100_40GB,
  },
  { name: 'A30', aliases: ['A30-24GB'], segment: 'datacenter', memoryGiB: 24, architecture: 'Ampere', migProfiles: MIG_A30 },
  { name: 'A40', aliases: [], segment: 'datacenter', memoryGiB: 48, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'A10', aliases: [], segment: 'datacenter', memoryGiB: 24, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'A10G', aliases: [], segment: 'datacenter', memoryGiB: 24, architecture: 'Ampere', migProfiles: NO_MIG },
  // A16 boards carry four GPUs of 16 GB each; memory is per GPU.
  { name: 'A16', aliases: [], segment: 'datacenter', memoryGiB: 16, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'A2', aliases: [], segment: 'datacenter', memoryGiB: 16, architecture: 'Ampere', migProfiles: NO_MIG },

  // --- Data center: Turing, Volta, Pascal ---
  { name: 'T4', aliases: ['Tesla-T4'], segment: 'datacenter', memoryGiB: 16, architecture: 'Turing', migProfiles: NO_MIG },
  {
    name: 'V100-32GB',
    aliases: ['V100-SXM2-32GB', 'V100-PCIE-32GB', 'V100S', 'V100S-PCIE-32GB'],
    segment: 'datacenter',
    memoryGiB: 32,
    architecture: 'Volta',
    migProfiles: NO_MIG,
  },
  {
    name: 'V100-16GB',
    aliases: ['V100-SXM2-16GB', 'V100-PCIE-16GB'],
    segment: 'datacenter',
    memoryGiB: 16,
    architecture: 'Volta',
    migProfiles: NO_MIG,
  },
  {
    name: 'P100-16GB',
    aliases: ['P100-SXM2-16GB', 'P100-PCIE-16GB'],
    segment: 'datacenter',
    memoryGiB: 16,
    architecture: 'Pascal',
    migProfiles: NO_MIG,
  },
  { name: 'P40', aliases: [], segment: 'datacenter', memoryGiB: 24, architecture: 'Pascal', migProfiles: NO_MIG },

  // --- Workstation ---
  {
    name: 'RTX-PRO-6000-Blackwell',
    aliases: ['RTX-PRO-6000', 'RTX-PRO-6000-Blackwell-Workstation-Edition', 'RTX-PRO-6000-Blackwell-Max-Q-Workstation-Edition'],
    segment: 'workstation',
    memoryGiB: 96,
    architecture: 'Blackwell',
    migProfiles: MIG_RTX_PRO_6000,
  },
  {
    name: 'RTX-6000-Ada',
    aliases: ['RTX-6000-Ada-Generation'],
    segment: 'workstation',
    memoryGiB: 48,
    architecture: 'Ada Lovelace',
    migProfiles: NO_MIG,
  },
  {
    name: 'RTX-5000-Ada',
    aliases: ['RTX-5000-Ada-Generation'],
    segment: 'workstation',
    memoryGiB: 32,
    architecture: 'Ada Lovelace',
    migProfiles: NO_MIG,
  },
  {
    name: 'RTX-4500-Ada',
    aliases: ['RTX-4500-Ada-Generation'],
    segment: 'workstation',
    memoryGiB: 24,
    architecture: 'Ada Lovelace',
    migProfiles: NO_MIG,
  },
  {
    name: 'RTX-4000-Ada',
    aliases: ['RTX-4000-Ada-Generation'],
    segment: 'workstation',
    memoryGiB: 20,
    architecture: 'Ada Lovelace',
    migProfiles: NO_MIG,
  },
  { name: 'RTX-A6000', aliases: [], segment: 'workstation', memoryGiB: 48, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'RTX-A5000', aliases: [], segment: 'workstation', memoryGiB: 24, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'RTX-A4500', aliases: [], segment: 'workstation', memoryGiB: 20, architecture: 'Ampere', migProfiles: NO_MIG },
  { name: 'RTX-A4000', aliases: [], segment: 'workstation', memoryGiB: 16, architecture: 'Ampere', migProfiles: NO_MIG },
  {
    name: 'Quadro-RTX-8000',
    aliases: ['RTX-8000'],
    segment: 'workstation',
    memoryGiB: 48,
    architecture: 'Turing',
    migProfiles: NO_MIG,
  },
  { name: 'Quadro-RTX-6000', aliases: [], segment: 'workstation', memoryGiB: 24, architecture: 'Turing', migProfiles: NO_MIG },
];

/** Lower-cases and turns runs of spaces/underscores into `-`, so `NVIDIA A100-SXM4-80GB` ~ `nvidia-a100-sxm4-80gb`. */
function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_]+/g, '-');
}

/** Vendor prefixes in NVML device names and GFD `nvidia.com/gpu.product` labels, e.g. `NVIDIA-L4`, `Tesla-T4`. */
const VENDOR_PREFIX = /^(nvidia|tesla)-/;

const BY_NAME: ReadonlyMap<string, GpuModelInfo> = (() => {
  const index = new Map<string, GpuModelInfo>();
  for (const model of GPU_MODELS) {
    for (const spelling of [model.name, ...model.aliases]) {
      const key = normalize(spelling);
      const taken = index.get(key);
      if (taken !== undefined && taken !== model) {
        throw new Error(`GPU model catalog: "${spelling}" names both ${taken.name} and ${model.name}`);
      }
      index.set(key, model);
    }
  }
  return index;
})();

/**
 * Case-insensitive lookup by name or alias; undefined if unknown.
 * Spaces and underscores count as `-`, and a leading `NVIDIA-`/`Tesla-` is ignored when nothing matches
 * with it, so NVML names (`NVIDIA A100-SXM4-80GB`) and GFD product labels (`NVIDIA-L4`) resolve too.
 */
export function findGpuModel(name: string): GpuModelInfo | undefined {
  const key = normalize(name);
  return BY_NAME.get(key) ?? BY_NAME.get(key.replace(VENDOR_PREFIX, ''));
}
