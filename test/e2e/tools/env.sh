# Source this file (bash or zsh): puts the e2e tools that build.sh cached on
# PATH and exports where they are.
#
#   bash test/e2e/tools/build.sh && source test/e2e/tools/env.sh
#
# Exports:
#   MLPLAT_TOOLS_CACHE   the cache root
#   MLPLAT_KUBE_BIN      kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   MLPLAT_KWOK_BIN      kwok, kwokctl
#   MLPLAT_PULUMI_BIN    pulumi (+ pulumi-language-nodejs when it was handed in)
#   MLPLAT_ETCD_BIN      etcd
#   MLPLAT_MINIO_BIN MLPLAT_MC_BIN MLPLAT_MLFLOW_BIN MLPLAT_POSTGRES_BIN   real data-plane components
#   MLPLAT_OAUTH2_PROXY_BIN  oauth2-proxy (the SSO gate)
#   MLPLAT_ALLOY_SYNTAX_BIN  alloy-syntax (Alloy parser/fmt check of the log shipper config)
#   MLPLAT_PROMTOOL_BIN  promtool (checks and unit-tests the alert rules; not put on PATH)
#   MLPLAT_AMTOOL_BIN    amtool (checks the Alertmanager configuration; not put on PATH)
#   MLPLAT_KEYCLOAK_HOME  Keycloak server distribution, pre-built (bin/kc.sh start --optimized);
#                         read-only for tests: run it from a copy of bin/ (kc.sh takes its home from there)
#   MLPLAT_PULUMI_KUBERNETES_BIN  pulumi-resource-kubernetes, or empty when not available
#   MLPLAT_K8S_VERSION MLPLAT_KWOK_VERSION MLPLAT_PULUMI_VERSION
#   MLPLAT_PULUMI_KUBERNETES_VERSION MLPLAT_ETCD_VERSION   the pinned versions
#   PULUMI_HOME (inside the cache; holds the kubernetes plugin), PULUMI_SKIP_UPDATE_CHECK=1
#   KWOK_RUNTIME=binary and KWOK_* binary paths/versions, so kwokctl uses these
#   binaries and downloads nothing
#
# Returns non-zero with a message (and changes nothing) when a required tool is
# missing from the cache. The Pulumi Kubernetes provider and
# pulumi-language-nodejs are optional (no reachable registry has them): a
# warning is printed and MLPLAT_PULUMI_KUBERNETES_BIN is left empty.

_mlplat_tools_env() {
  local here src
  if [ -n "${BASH_VERSION:-}" ]; then src=${BASH_SOURCE[0]}; else src=${(%):-%x}; fi
  here=$(cd "$(dirname "$src")" && pwd) || return 1

  local K8S_VERSION KWOK_VERSION PULUMI_VERSION PULUMI_KUBERNETES_VERSION ETCD_VERSION key value
  local MINIO_VERSION MC_VERSION MLFLOW_VERSION MLFLOW_EXTRAS POSTGRES_MAJOR KEYCLOAK_VERSION OAUTH2_PROXY_VERSION
  local PROMTOOL_VERSION ALLOY_SYNTAX_VERSION AMTOOL_VERSION
  while IFS='=' read -r key value; do
    case $key in
      K8S_VERSION | KWOK_VERSION | PULUMI_VERSION | PULUMI_KUBERNETES_VERSION | ETCD_VERSION | \
        MINIO_VERSION | MC_VERSION | MLFLOW_VERSION | MLFLOW_EXTRAS | POSTGRES_MAJOR | KEYCLOAK_VERSION | OAUTH2_PROXY_VERSION | \
        PROMTOOL_VERSION | ALLOY_SYNTAX_VERSION | AMTOOL_VERSION)
        eval "$key=\$value" ;;
    esac
  done <"$here/versions.env"

  local cache=${MLPLAT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlplat/tools}
  local kube="$cache/kubernetes-$K8S_VERSION/bin"
  local kwok="$cache/kwok-$KWOK_VERSION/bin"
  local pulumi="$cache/pulumi-$PULUMI_VERSION/bin"
  local etcd="$cache/etcd-$ETCD_VERSION/bin"
  local nodejs="$cache/pulumi-language-nodejs-$PULUMI_VERSION/bin"
  local provider="$cache/pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION/bin"
  local pulumi_home="$cache/pulumi-home"
  local minio="$cache/minio-$MINIO_VERSION/bin" mc="$cache/mc-$MC_VERSION/bin"
  local mlflow="$cache/mlflow-$MLFLOW_VERSION-$(printf %s "$MLFLOW_EXTRAS" | tr , -)/bin" postgres="$cache/postgres-$POSTGRES_MAJOR/bin"
  local keycloak="$cache/keycloak-$KEYCLOAK_VERSION"
  local oauth2proxy="$cache/oauth2-proxy-$OAUTH2_PROXY_VERSION/bin"
  local promtool="$cache/promtool-$PROMTOOL_VERSION/bin"
  local alloysyntax="$cache/alloy-syntax-$ALLOY_SYNTAX_VERSION/bin"
  local amtool="$cache/amtool-$AMTOOL_VERSION/bin"

  local missing="" f
  for f in "$kube/kube-apiserver" "$kube/kube-controller-manager" "$kube/kube-scheduler" \
    "$kube/kubectl" "$kwok/kwok" "$kwok/kwokctl" "$pulumi/pulumi" "$etcd/etcd" \
    "$minio/minio" "$mc/mc" "$mlflow/mlflow" "$postgres/postgres" "$postgres/initdb" "$postgres/pg_ctl" \
    "$keycloak/bin/kc.sh" "$oauth2proxy/oauth2-proxy" "$promtool/promtool" "$alloysyntax/alloy-syntax" "$amtool/amtool"; do
    [ -x "$f" ] || missing="$missing $f"
  done
  if [ -n "$missing" ]; then
    echo "mlplat e2e tools: missing from the cache:$missing" >&2
    echo "mlplat e2e tools: run: bash $here/build.sh" >&2
    return 1
  fi

  local path_add="$kube:$kwok:$pulumi:$etcd:$minio:$mc:$mlflow:$postgres"
  if [ -x "$nodejs/pulumi-language-nodejs" ]; then
    path_add="$path_add:$nodejs"
  else
    echo "mlplat e2e tools: warning: pulumi-language-nodejs $PULUMI_VERSION is not in the cache" >&2
  fi
  if [ -x "$provider/pulumi-resource-kubernetes" ] &&
    [ -x "$pulumi_home/plugins/resource-kubernetes-$PULUMI_KUBERNETES_VERSION/pulumi-resource-kubernetes" ]; then
    export MLPLAT_PULUMI_KUBERNETES_BIN="$provider"
  else
    echo "mlplat e2e tools: warning: the Pulumi kubernetes provider $PULUMI_KUBERNETES_VERSION is not in the cache" >&2
    export MLPLAT_PULUMI_KUBERNETES_BIN=""
  fi

  export MLPLAT_TOOLS_CACHE="$cache"
  export MLPLAT_KUBE_BIN="$kube" MLPLAT_KWOK_BIN="$kwok" MLPLAT_PULUMI_BIN="$pulumi" MLPLAT_ETCD_BIN="$etcd"
  export MLPLAT_K8S_VERSION="$K8S_VERSION" MLPLAT_KWOK_VERSION="$KWOK_VERSION"
  export MLPLAT_PULUMI_VERSION="$PULUMI_VERSION" MLPLAT_PULUMI_KUBERNETES_VERSION="$PULUMI_KUBERNETES_VERSION"
  export MLPLAT_ETCD_VERSION="$ETCD_VERSION"
  export MLPLAT_MINIO_BIN="$minio" MLPLAT_MC_BIN="$mc" MLPLAT_MLFLOW_BIN="$mlflow" MLPLAT_POSTGRES_BIN="$postgres"
  export MLPLAT_KEYCLOAK_HOME="$keycloak" MLPLAT_OAUTH2_PROXY_BIN="$oauth2proxy"
  export MLPLAT_PROMTOOL_BIN="$promtool" MLPLAT_ALLOY_SYNTAX_BIN="$alloysyntax" MLPLAT_AMTOOL_BIN="$amtool"
  export PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=1

  # kwokctl reads its defaults from KWOK_* variables: local binaries, no downloads.
  export KWOK_RUNTIME=binary
  export KWOK_KUBE_VERSION="$K8S_VERSION" KWOK_KUBE_BINARY_PREFIX="$kube"
  export KWOK_KUBE_APISERVER_BINARY="$kube/kube-apiserver"
  export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$kube/kube-controller-manager"
  export KWOK_KUBE_SCHEDULER_BINARY="$kube/kube-scheduler" KWOK_KUBECTL_BINARY="$kube/kubectl"
  export KWOK_CONTROLLER_BINARY="$kwok/kwok"
  export KWOK_ETCD_VERSION="$ETCD_VERSION" KWOK_ETCD_BINARY="$etcd/etcd"

  case ":$PATH:" in
    *":$path_add:"*) ;;
    *) export PATH="$path_add:$PATH" ;;
  esac
}

_mlplat_tools_env
_mlplat_tools_env_rc=$?
unset -f _mlplat_tools_env
# shellcheck disable=SC2317  # `return` when sourced, `exit` when run directly
return $_mlplat_tools_env_rc 2>/dev/null || exit $_mlplat_tools_env_rc
