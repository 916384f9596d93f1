import { createHash } from 'node:crypto';
import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { hardenedContainer, hardenedPod, platformNamespace, resources } from '../../lib/workload';
import { ISecretRef, KeySource, SecretKeyRef } from './types';

/** Namespace of the platform's own jobs (credentials generator). */
export const SYSTEM_NAMESPACE = 'mlplat-system';
/** Label on every Secret the generator creates (they carry no managed-by label: never pruned). */
export const GENERATED_BY_LABEL = `${MLPLAT_PREFIX}/generated-by`;
const GENERATOR_NAME = 'mlplat-credentials';
const KEY_NAME = /^[A-Za-z0-9_-]+$/;

export interface CredentialGeneratorOptions {
  /**
   * Image with `sh`, coreutils (`head`, `tr`, `base64`) and `kubectl`.
   * @default - the catalog's kubectl image
   */
  readonly image?: string;
}

interface Declared {
  readonly ref: ISecretRef;
  readonly type: string;
  readonly keys: Readonly<Record<string, KeySource>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SecretOptions {
  /**
   * Secret type.
   * @default 'Opaque'
   */
  readonly type?: string;
  /**
   * Labels the consumer needs on the Secret (e.g. `cnpg.io/reload`), besides the generator's own.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
}

class SecretRef implements ISecretRef {
  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly keys: readonly string[],
    readonly producer: string,
  ) {}

  keyRef(key: string): SecretKeyRef {
    if (!this.keys.includes(key)) {
      throw new Error(`Secret ${this.namespace}/${this.name} has no key "${key}" (it has: ${this.keys.join(', ')})`);
    }
    return { name: this.name, key };
  }
}

/** A handle to a Secret some controller (not mlplat) writes, e.g. CloudNativePG's `<cluster>-app`. */
export function externalSecret(namespace: string, name: string, keys: readonly string[], producer: string): ISecretRef {
  return new SecretRef(namespace, name, keys, producer);
}

/** POSIX-shell single-quoted literal. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Generates every credential of the platform once, inside the cluster: a Job runs a script that
 * creates each declared Secret when it does not exist yet, and never reads back, updates or
 * deletes one. Values therefore never appear in synthesized files, in git or in Pulumi state, and
 * re-applying never rotates a password. The Job's ServiceAccount may only `create` Secrets and
 * `get` the declared ones (RBAC `resourceNames`), per namespace.
 *
 * Rotation: delete the Secret and every copy of it, then re-run the Job (docs/credentials.md);
 * consumers that load it (MinIO users, database roles) re-apply on their next bootstrap.
 */
export class CredentialGenerator extends Construct {
  readonly namespace = SYSTEM_NAMESPACE;
  readonly serviceAccountName = GENERATOR_NAME;
  readonly configMapName = GENERATOR_NAME;
  private readonly declared: Declared[] = [];
  private readonly roles = new Map<string, Set<string>>();
  /** Namespaces where the generator creates Secrets (elsewhere it only reads copy sources). */
  private readonly createIn = new Set<string>();
  private readonly image: string;

  constructor(scope: Construct, id: string, options: CredentialGeneratorOptions = {}) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.image = options.image ?? ctx.image(ctx.versions.images.kubectl);

    platformNamespace(this, 'Namespace', SYSTEM_NAMESPACE, 'restricted');
    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: GENERATOR_NAME, namespace: SYSTEM_NAMESPACE },
    });
    new k8s.KubeConfigMap(this, 'Script', {
      metadata: { name: GENERATOR_NAME, namespace: SYSTEM_NAMESPACE },
      data: { 'generate.sh': Lazy.any({ produce: () => this.script() }) as unknown as string },
    });
    new k8s.KubeJob(this, 'Resource', {
      metadata: {
        name: Lazy.any({ produce: () => this.jobName() }) as unknown as string,
        namespace: SYSTEM_NAMESPACE,
      },
      spec: {
        backoffLimit: 10,
        template: {
          metadata: { annotations: { [`${MLPLAT_PREFIX}/script-hash`]: Lazy.any({ produce: () => this.hash() }) as unknown as string } },
          spec: hardenedPod({
            serviceAccountName: GENERATOR_NAME,
            automountServiceAccountToken: true, // it calls the API server
            restartPolicy: 'OnFailure',
            containers: [
              hardenedContainer({
                name: 'generate',
                image: this.image,
                command: ['/bin/sh', '/scripts/generate.sh'],
                resources: resources({ cpu: '50m', memory: '64Mi' }, { cpu: '500m', memory: '128Mi' }),
                volumeMounts: [
                  { name: 'script', mountPath: '/scripts', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [
              { name: 'script', configMap: { name: GENERATOR_NAME } },
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('16Mi') } },
            ],
          }),
        },
      },
    });
  }

  /** Every Secret declared so far. */
  get secrets(): readonly ISecretRef[] {
    return this.declared.map((d) => d.ref);
  }

  /** Secrets written by others (operators) that declared Secrets copy from; the Job waits for them. */
  get externalSources(): readonly ISecretRef[] {
    const out = new Map<string, ISecretRef>();
    for (const d of this.declared) {
      for (const source of Object.values(d.keys)) {
        if ('copyFrom' in source && source.copyFrom.producer !== GENERATOR_NAME) out.set(`${source.copyFrom.namespace}/${source.copyFrom.name}`, source.copyFrom);
      }
    }
    return [...out.values()];
  }

  /**
   * Declares a Secret the generator creates once in `namespace`. Copies must name a Secret
   * declared before (or an external one) and are waited for, so their producer may be slow.
   */
  secret(namespace: string, name: string, keys: Readonly<Record<string, KeySource>>, options: SecretOptions = {}): ISecretRef {
    const existing = this.declared.find((d) => d.ref.namespace === namespace && d.ref.name === name);
    if (existing) throw new Error(`Secret ${namespace}/${name} is declared twice`);
    const keyNames = Object.keys(keys);
    if (keyNames.length === 0) throw new Error(`Secret ${namespace}/${name} must have at least one key`);
    for (const [key, source] of Object.entries(keys)) {
      if (!KEY_NAME.test(key)) throw new Error(`Secret ${namespace}/${name}: key "${key}" must match ${KEY_NAME}`);
      if ('generate' in source && (!Number.isInteger(source.generate) || source.generate < 16 || source.generate > 128)) {
        throw new Error(`Secret ${namespace}/${name}: key "${key}" must be generated with 16 to 128 characters, not ${source.generate}`);
      }
      if ('copyFrom' in source) {
        source.copyFrom.keyRef(source.key); // throws on an unknown key
        this.allowGet(source.copyFrom.namespace, source.copyFrom.name);
      }
    }
    this.allowGet(namespace, name);
    this.createIn.add(namespace);
    const ref = new SecretRef(namespace, name, keyNames, GENERATOR_NAME);
    const labels = options.labels ?? {};
    for (const [k, v] of Object.entries(labels)) {
      if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(k) || !/^[A-Za-z0-9._-]{0,63}$/.test(v)) {
        throw new Error(`Secret ${namespace}/${name}: label ${k}=${v} is not a valid label`);
      }
    }
    this.declared.push({ ref, type: options.type ?? 'Opaque', keys, labels });
    return ref;
  }

  /** The generator's Role in `namespace`: create Secrets, get the named ones. */
  private allowGet(namespace: string, name: string): void {
    let names = this.roles.get(namespace);
    if (!names) {
      names = new Set();
      this.roles.set(namespace, names);
      const resourceNames = names;
      const id = `Role-${namespace}`;
      new k8s.KubeRole(this, id, {
        metadata: { name: GENERATOR_NAME, namespace },
        rules: Lazy.any({
          produce: () => [
            // `create` cannot be limited by name (the object does not exist yet); granted only
            // where a Secret is declared.
            ...(this.createIn.has(namespace) ? [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }] : []),
            { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: [...resourceNames].sort() },
          ],
        }) as unknown as k8s.PolicyRule[],
      });
      new k8s.KubeRoleBinding(this, `RoleBinding-${namespace}`, {
        metadata: { name: GENERATOR_NAME, namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: GENERATOR_NAME },
        subjects: [{ kind: 'ServiceAccount', name: GENERATOR_NAME, namespace: SYSTEM_NAMESPACE }],
      });
    }
    names.add(name);
  }

  /** The generator script: POSIX sh, one `begin … commit` block per Secret, in declaration order. */
  script(): string {
    const lines = [SCRIPT_HEADER];
    // Secrets that wait for another producer (an operator) go last, so a slow one delays nothing else.
    const waits = (d: Declared) => Object.values(d.keys).some((k) => 'copyFrom' in k && k.copyFrom.producer !== GENERATOR_NAME);
    for (const d of [...this.declared.filter((x) => !waits(x)), ...this.declared.filter(waits)]) {
      const labels = Object.entries(d.labels).map(([k, v]) => ` ${shq(`${k}=${v}`)}`).join('');
      lines.push(`begin ${shq(d.ref.namespace)} ${shq(d.ref.name)} ${shq(d.type)}${labels}`);
      for (const [key, source] of Object.entries(d.keys)) {
        if ('generate' in source) lines.push(`  gen ${key} ${source.generate}`);
        else if ('value' in source) lines.push(`  lit ${key} ${shq(source.value)}`);
        else lines.push(`  copy ${key} ${shq(source.copyFrom.namespace)} ${shq(source.copyFrom.name)} ${source.key}`);
      }
      lines.push('commit');
    }
    lines.push('if [ "$FAILED" != 0 ]; then echo "mlplat-credentials: $FAILED Secret(s) not created (see above); the Job retries" >&2; exit 1; fi');
    lines.push('echo "mlplat-credentials: done"', '');
    return lines.join('\n');
  }

  /** Changes with anything in the Job's pod template: the script and the image. */
  private hash(): string {
    return createHash('sha256').update(this.image).update('\0').update(this.script()).digest('hex').slice(0, 10);
  }

  /**
   * A Job's pod template cannot change, so the Job is named after its script: a new Secret gives
   * a new Job (applied next to the old one, which apply --prune, Flux or Pulumi then remove).
   */
  jobName(): string {
    return `${GENERATOR_NAME}-${this.hash()}`;
  }
}

const SCRIPT_HEADER = `#!/bin/sh
# Generated by mlplat. Creates each Secret below once; an existing Secret is left untouched.
# Needs: kubectl, head, tr, base64. KUBECTL may name another kubectl command line; a copy waits
# COPY_TRIES x COPY_INTERVAL seconds (default 120 x 5) for its source.
set -eu
KUBECTL=\${KUBECTL:-kubectl}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
random() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"; }
begin() {
  NS=$1 NAME=$2 TYPE=$3 DIR="$WORK/$1.$2"
  shift 3
  LABELS="$*"
  mkdir -p "$DIR"
  if $KUBECTL get secret -n "$NS" "$NAME" -o name >/dev/null 2>&1; then SKIP=1; else SKIP=0; fi
}
gen() { [ "$SKIP" != 0 ] || random "$2" >"$DIR/$1"; }
lit() { [ "$SKIP" != 0 ] || printf '%s' "$2" >"$DIR/$1"; }
copy() { # key source-namespace source-name source-key: waits up to 10 minutes for the source
  [ "$SKIP" != 0 ] && return 0
  tries=0
  until v=$($KUBECTL get secret -n "$2" "$3" -o "jsonpath={.data.$4}" 2>/dev/null) && [ -n "$v" ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge "\${COPY_TRIES:-120}" ]; then
      echo "mlplat-credentials: $2/$3 has no key $4; skipping $NS/$NAME" >&2
      FAILED=$((FAILED + 1)) SKIP=2
      return 0
    fi
    sleep "\${COPY_INTERVAL:-5}"
  done
  printf '%s' "$v" | base64 -d >"$DIR/$1"
}
commit() {
  if [ "$SKIP" = 1 ]; then echo "exists:  $NS/$NAME"; return 0; fi
  if [ "$SKIP" = 2 ]; then rm -rf "$DIR"; return 0; fi
  set --
  for f in "$DIR"/*; do set -- "$@" "--from-file=\${f##*/}=$f"; done
  if out=$($KUBECTL create secret generic "$NAME" -n "$NS" --type="$TYPE" "$@" --dry-run=client -o yaml |
    $KUBECTL label --local -f - ${GENERATED_BY_LABEL}=${GENERATOR_NAME} $LABELS -o yaml |
    $KUBECTL create -f - 2>&1); then
    echo "created: $NS/$NAME"
  else
    case $out in
      *AlreadyExists*) echo "exists:  $NS/$NAME" ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  rm -rf "$DIR"
}
`;
