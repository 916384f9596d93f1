/** Text of a new client's commented config; it validates as written. */
export function scaffoldConfig(client: string, domain: string, schemaPath: string): string {
  return `# yaml-language-server: $schema=${schemaPath}
# mlplat platform config for ${client}. Reference: README.md#config-reference
apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata:
  name: ${client}                 # client id, a DNS-1123 label
spec:
  domain: ${domain}        # apps are served at <app>.<domain>
  # imageRegistry: registry.${client}.internal/mirror   # pull every image through a mirror (air-gapped)
  gpu:
    operator:
      driver: preinstalled        # preinstalled (node image has the driver) | managed (operator installs it)
    pools:
      # One entry per GPU node pool. Its nodes must carry the labels and taint that
      # \`mlplat nodes <this file>\` prints.
      - name: l4
        gpuModel: L4
        gpusPerNode: 1
        nodeSelector: { node.kubernetes.io/instance-type: gpu-l4 }
        sharing: { mode: timeSlicing, replicas: 4 }   # or { mode: mig, profile: all-1g.10gb } on A100/H100, or omit for whole GPUs
  tenants:
    # One namespace per tenant, with quotas, RBAC for its SSO groups and network isolation.
    - name: team-a
      groups: [team-a]            # SSO groups whose members belong to the tenant
      quota:
        cpu: "16"
        memory: 64Gi
        gpus: { l4: 1 }           # physical GPUs per pool; pools not listed are not granted
  # Data plane (uncomment what the client gets; see README.md#config-reference):
  # storage:
  #   kind: minio                 # minio | ceph (then: mons, replicas, devices)
  #   size: 1Ti
  # tracking:
  #   kind: mlflow                # mlflow (PostgreSQL is added for it) | clearml (an agent queue per tenant and pool)
  # datasetCache:
  #   size: 2Ti
  #   nfs: { server: nfs.${client}.internal, path: /exports/ml-cache }   # not needed with storage kind ceph
  #   prefetch:
  #     - { name: llama-3-8b, source: s3://models/meta-llama/Meta-Llama-3-8B }
`;
}

/** Text of a new client's Pulumi stack file. */
export function scaffoldStack(configFile: string): string {
  return `# Pulumi stack for this client: \`pulumi stack select <client>\`, then \`pulumi up\`.
config:
  mlplat:config: ${configFile}
  # How third-party charts are installed: flux (Flux objects), repository (Helm release from the
  # chart repository) or local (Helm release from mlplat:chartsDir/<chart>).
  mlplat:chartMode: repository
`;
}
