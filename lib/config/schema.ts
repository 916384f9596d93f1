import { z } from 'zod';

/**
 * The platform config schema: the single source of truth for the YAML contract.
 * TypeScript types are inferred from it and `mlplat schema` prints it as JSON Schema.
 * Cross-field rules (pool references, GPU model capabilities, uniqueness) live in
 * ./semantics.ts so every error of a file can be reported at once.
 */

export const API_VERSION = 'mlplat.io/v1alpha1';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes resource.Quantity in the forms people write: 64, 0.5, 500m, 256Gi, 1e3.
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE]\d+)?$/;
// A label key: optional DNS-subdomain prefix and a name part of at most 63 characters.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters (a DNS-1123 label)')
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit');

const quantity = z
  .union([
    z.string(),
    z
      .number()
      .nonnegative('must be 0 or more')
      .refine((v) => /^\d+(\.\d+)?$/.test(String(v)), { message: 'write very large or very small quantities as a string, e.g. "100Ti" or "500m"' }),
  ])
  .transform((v) => String(v))
  .refine((v) => QUANTITY.test(v), { message: 'must be a Kubernetes quantity, e.g. "64", "500m", "256Gi"' });

const labelMap = z.record(
  z.string().regex(LABEL_KEY, 'label keys look like "example.com/name" or "name"'),
  z.string().regex(LABEL_VALUE, 'label values are at most 63 letters, digits, "-", "_" or "."'),
);

export const sharingSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('timeSlicing').describe('Time-slice each GPU between several pods (no memory isolation).'),
    replicas: z
      .number()
      .int()
      .min(2, 'must be at least 2 (1 replica is a whole GPU: omit sharing)')
      .describe('How many pods share one GPU.'),
  }),
  z.strictObject({
    mode: z.literal('mig').describe('Partition each GPU with Multi-Instance GPU (hardware isolation).'),
    profile: z
      .string()
      .describe('MIG layout applied to every GPU of the pool, "all-<profile>", e.g. "all-1g.10gb" (see docs/gpu.md).'),
  }),
]);

export const gpuPoolSchema = z.strictObject({
  name: dnsLabel.describe('Pool id, used in quotas, node labels and priority class names.'),
  gpuModel: z.string().min(1).describe('NVIDIA GPU model, e.g. A100-80GB, H100-80GB, L4, L40S, T4.'),
  gpusPerNode: z.number().int().min(1, 'must be at least 1').describe('Physical GPUs on each node of the pool.'),
  nodeSelector: labelMap
    .default({})
    .describe('Labels the provider already puts on the pool\'s nodes (e.g. the instance type).'),
  sharing: sharingSchema.optional().describe('How a GPU is shared; omitted means whole GPUs.'),
});

export const gpuSchema = z.strictObject({
  operator: z
    .strictObject({
      driver: z
        .enum(['preinstalled', 'managed'])
        .default('preinstalled')
        .describe('preinstalled: the node image ships the NVIDIA driver; managed: the GPU Operator installs it.'),
    })
    .default({ driver: 'preinstalled' }),
  pools: z.array(gpuPoolSchema).default([]).describe('GPU node pools; tenants are granted GPUs per pool.'),
});

export const tenantSchema = z.strictObject({
  name: dnsLabel.describe('Tenant id; also the name of its namespace.'),
  groups: z
    .array(z.string().min(1))
    .min(1, 'list at least one SSO group whose members belong to the tenant')
    .describe('SSO groups whose members belong to the tenant (edit rights in its namespace).'),
  quota: z.strictObject({
    cpu: quantity.describe('CPU requests the tenant may hold in total.'),
    memory: quantity.describe('Memory requests (and limits) the tenant may hold in total.'),
    gpus: z
      .record(z.string(), z.number().int().nonnegative('must be 0 or more'))
      .default({})
      .describe('Physical GPUs per pool, e.g. { a100: 16 }. A pool not listed is not granted.'),
  }),
  allowInternetEgress: z
    .boolean()
    .default(false)
    .describe('Let tenant pods reach addresses outside the cluster (default: cluster-internal only).'),
  allowServiceExposure: z
    .boolean()
    .default(false)
    .describe('Let the tenant create LoadBalancer and NodePort Services (default: reachable through the platform ingress only).'),
});

export const platformSchema = z.strictObject({
  $schema: z.string().optional(),
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Platform'),
  metadata: z.strictObject({
    name: dnsLabel.describe('Client id, a DNS-1123 label.'),
  }),
  spec: z.strictObject({
    domain: z
      .string()
      .max(253)
      .regex(DNS1123_SUBDOMAIN, 'must be a DNS name in lowercase, e.g. ml.acme.example')
      .describe('Apps are served at <app>.<domain>.'),
    imageRegistry: z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/, 'must be a registry host with an optional path, e.g. registry.acme.internal/mirror')
      .optional()
      .describe('Pull every image through this registry (air-gapped clusters); default: upstream registries.'),
    access: z
      .strictObject({
        groupPrefix: z
          .string()
          .default('oidc:')
          .describe('Prefix the API server adds to OIDC group names (its groups claim prefix).'),
      })
      .default({ groupPrefix: 'oidc:' }),
    gpu: gpuSchema.default({ operator: { driver: 'preinstalled' }, pools: [] }),
    tenants: z.array(tenantSchema).default([]),
  }),
});

/** The YAML as written (before defaults). */
export type PlatformConfigInput = z.input<typeof platformSchema>;
/** The validated platform spec with defaults applied: what stacks and constructs consume. */
export type PlatformSpec = z.output<typeof platformSchema>;
export type GpuPoolSpec = PlatformSpec['spec']['gpu']['pools'][number];
export type GpuSharingSpec = NonNullable<GpuPoolSpec['sharing']>;
export type TenantSpec = PlatformSpec['spec']['tenants'][number];

/** JSON Schema of the config for editors (yaml-language-server). */
export function platformJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(platformSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'mlplat Platform',
  };
}
