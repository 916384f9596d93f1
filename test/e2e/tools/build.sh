#!/usr/bin/env bash
# Builds the real Kubernetes / kwok / Pulumi / etcd tools the e2e suite runs
# against, pinned by versions.env, into a cache outside the repo:
#
#   ${MLPLAT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlplat/tools}/<tool>-<version>/bin/
#
# Only what is missing is built. Each tool is built into a temporary directory
# inside the cache and renamed into place when complete, so an interrupted
# build never leaves a half-filled tool directory behind. A warm run only
# checks files and takes well under a second per tool.
#
# Sources: Go modules from the Go module proxy (own go.mod/go.sum in k8s/,
# kwok/, pulumi/), etcd from Debian's etcd-server package (installed with
# apt-get when missing and running as root), Keycloak's server distribution
# from Maven Central (needs java 17+; downloads cached in ~/.cache/mlplat/downloads).
#
# The Pulumi Kubernetes provider and pulumi-language-nodejs are not available
# from any registry this project can reach. If you have the binaries, hand
# them in and they are cached and installed (the provider also as a Pulumi
# plugin into the cache's PULUMI_HOME):
#   MLPLAT_PULUMI_KUBERNETES_PROVIDER_BIN=/path/to/pulumi-resource-kubernetes
#   MLPLAT_PULUMI_LANGUAGE_NODEJS_BIN=/path/to/pulumi-language-nodejs
#
# Usage: bash test/e2e/tools/build.sh      (then: source test/e2e/tools/env.sh)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE=${MLPLAT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlplat/tools}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*"; }

# One build at a time per cache; anything left in .tmp.* after taking the lock
# is debris from an interrupted run.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  say "another build holds $CACHE/.lock, waiting..."
  flock 9
fi
rm -rf "$CACHE"/.tmp.*

TMP_DIRS=()
cleanup() { local d; for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- pin checks
# go.mod must require exactly the version versions.env names.
gomod_require() { # dir module version
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2[[:space:]]+$3([[:space:]]|$)" "$HERE/$1/go.mod" ||
    die "$1/go.mod does not require $2 $3 (versions.env and go.mod disagree)"
}
gomod_require k8s k8s.io/kubernetes "$K8S_VERSION"
grep -Eq "^[[:space:]]*k8s.io/api => k8s.io/api $K8S_STAGING_VERSION\$" "$HERE/k8s/go.mod" ||
  die "k8s/go.mod does not replace the staging modules with $K8S_STAGING_VERSION"
gomod_require kwok sigs.k8s.io/kwok "$KWOK_VERSION"
gomod_require pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
gomod_require oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 "$OAUTH2_PROXY_VERSION"
gomod_require promtool github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION"
gomod_require alloy-syntax github.com/grafana/alloy/syntax "$ALLOY_SYNTAX_VERSION"

# The Pulumi pins must match the npm packages the project uses.
lock_version() { # npm package name -> version in package-lock.json (empty if absent)
  awk -v key="\"node_modules/$1\": {" '
    index($0, key) { found = 1; next }
    found && /"version":/ { gsub(/.*"version": *"|".*/, ""); print; exit }
  ' "$REPO_ROOT/package-lock.json" 2>/dev/null || true
}
if [[ -f $REPO_ROOT/package-lock.json ]]; then
  for pair in "@pulumi/pulumi=$PULUMI_VERSION" "@pulumi/kubernetes=$PULUMI_KUBERNETES_VERSION"; do
    pkg=${pair%%=*} want=${pair#*=}
    got=$(lock_version "$pkg")
    [[ -z $got || v$got == "$want" ]] ||
      die "versions.env pins $want for $pkg but package-lock.json has $got"
  done
fi

# ---------------------------------------------------------------- helpers
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export CGO_ENABLED=0

elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

has_bins() { # dir bin...
  local dir=$1 b; shift
  for b in "$@"; do [[ -x $dir/bin/$b ]] || return 1; done
}

BIN_DIRS=()
MISSING=()

# ensure_tool NAME "BIN..." BUILD_FUNCTION: builds $CACHE/NAME/bin unless complete.
ensure_tool() {
  local name=$1 fn=$3 final="$CACHE/$1" tmp start
  local -a bins
  read -r -a bins <<<"$2"
  if has_bins "$final" "${bins[@]}"; then
    say "$name: cached"
  else
    say "$name: building..."
    start=$(date +%s)
    tmp=$(mktemp -d "$CACHE/.tmp.$name.XXXXXX")
    TMP_DIRS+=("$tmp")
    chmod 755 "$tmp" # mktemp makes it 0700
    mkdir -p "$tmp/bin"
    "$fn" "$tmp/bin"
    has_bins "$tmp" "${bins[@]}" || die "$name: build finished without producing: ${bins[*]}"
    printf 'built %s by test/e2e/tools/build.sh with %s\n' "$(date -u +%FT%TZ)" "$(go version 2>/dev/null || echo -)" >"$tmp/BUILD-INFO"
    rm -rf "$final"
    mv -T "$tmp" "$final"
    say "$name: built in $(elapsed "$start")"
  fi
  BIN_DIRS+=("$final/bin")
}

# ---------------------------------------------------------------- builders
build_kubernetes() {
  local out=$1 minor ldflags="-s -w" pkg
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitCommit=$K8S_GIT_COMMIT -X $pkg.gitTreeState=clean -X $pkg.buildDate=$K8S_BUILD_DATE"
  done
  # One invocation: shared packages are compiled once for all four commands.
  (cd "$HERE/k8s" && go build -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
}

build_kwok() {
  local out=$1
  # KubeVersion is the Kubernetes version kwokctl assumes by default: ours.
  (cd "$HERE/kwok" && go build \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" \
    -o "$out/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)
}

build_pulumi() {
  local out=$1
  (cd "$HERE/pulumi" && go build \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$out/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_oauth2_proxy() {
  local out=$1
  (cd "$HERE/oauth2-proxy" && go build \
    -ldflags "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$OAUTH2_PROXY_VERSION" \
    -o "$out/oauth2-proxy" github.com/oauth2-proxy/oauth2-proxy/v7)
}

# promtool: without the -X it reports an empty version (prometheus/common's version package is
# filled in by Prometheus' own release tooling, not by `go build`).
build_alloy_syntax() {
  local out=$1
  (cd "$HERE/alloy-syntax" && go build -ldflags "-s -w" -o "$out/alloy-syntax" .)
}

build_amtool() {
  local out=$1
  GOBIN="$out" go install \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${AMTOOL_VERSION#v}" \
    "github.com/prometheus/alertmanager/cmd/amtool@$AMTOOL_VERSION"
}

build_promtool() {
  local out=$1
  (cd "$HERE/promtool" && go build \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMTOOL_VERSION" \
    -o "$out/promtool" github.com/prometheus/prometheus/cmd/promtool)
}

etcd_ok() { [[ -x $1 ]] && "$1" --version 2>/dev/null | grep -q "^etcd Version: $ETCD_VERSION\$"; }

build_etcd() {
  local out=$1 etcd=/usr/bin/etcd
  if ! etcd_ok "$etcd"; then
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null ||
      die "etcd $ETCD_VERSION missing: install Debian's $ETCD_DEBIAN_PACKAGE (apt-get install $ETCD_DEBIAN_PACKAGE) and rerun"
    say "etcd: apt-get install $ETCD_DEBIAN_PACKAGE"
    if ! apt-cache show "$ETCD_DEBIAN_PACKAGE" >/dev/null 2>&1; then
      apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$ETCD_DEBIAN_PACKAGE" >/dev/null
    etcd_ok "$etcd" || die "$ETCD_DEBIAN_PACKAGE did not provide etcd $ETCD_VERSION at $etcd: $("$etcd" --version 2>&1 | head -1)"
  fi
  cp "$etcd" "$out/etcd"
  if [[ -x /usr/bin/etcdctl ]]; then cp /usr/bin/etcdctl "$out/etcdctl"; fi
}

# MinIO server and client from their Go modules (no go.mod of ours: neither
# module has replace directives, so `go install M@V` builds exactly the pin).
build_go_install() { # out module version
  (cd "$1" && GOFLAGS="-trimpath -buildvcs=false" GOBIN="$1" GOTOOLCHAIN=local go install -ldflags "-s -w" "$2@$3")
}
build_minio() { build_go_install "$1" github.com/minio/minio "$MINIO_VERSION"; }
build_mc() { build_go_install "$1" github.com/minio/mc "$MC_VERSION"; }

# MLflow from PyPI into a virtualenv inside the tool directory. The venv is
# built in the temporary directory and renamed, so its console scripts (whose
# shebangs name the build path) are not used: bin/mlflow runs `python -m mlflow`
# through the venv's own interpreter, which finds the venv wherever it is.
build_mlflow() {
  local out=$1 venv
  venv=$(dirname "$out")/venv
  python3 -m venv "$venv"
  # shellcheck disable=SC2086  # MLFLOW_EXTRA_PACKAGES is a list
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "mlflow[$MLFLOW_EXTRAS]==$MLFLOW_VERSION" $MLFLOW_EXTRA_PACKAGES
  cat >"$out/mlflow" <<'SH'
#!/bin/sh
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/venv/bin/python" -m mlflow "$@"
SH
  cat >"$out/mlflow-python" <<'SH'
#!/bin/sh
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/venv/bin/python" "$@"
SH
  chmod 755 "$out/mlflow" "$out/mlflow-python"
}

# PostgreSQL server binaries from Debian (postgresql-<major>), linked.
build_postgres() {
  local out=$1 dir=/usr/lib/postgresql/$POSTGRES_MAJOR/bin b
  if [[ ! -x $dir/postgres ]]; then
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null ||
      die "PostgreSQL $POSTGRES_MAJOR missing: apt-get install $POSTGRES_DEBIAN_PACKAGE and rerun"
    say "postgres: apt-get install $POSTGRES_DEBIAN_PACKAGE"
    if ! apt-cache show "$POSTGRES_DEBIAN_PACKAGE" >/dev/null 2>&1; then apt-get update -qq; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$POSTGRES_DEBIAN_PACKAGE" >/dev/null
  fi
  for b in postgres initdb pg_ctl psql pg_isready; do
    [[ -x $dir/$b ]] || die "$POSTGRES_DEBIAN_PACKAGE did not provide $dir/$b"
    ln -s "$dir/$b" "$out/$b"
  done
}

# Keycloak's server distribution from Maven Central, unpacked and pre-built once (`kc.sh build`
# with KEYCLOAK_BUILD_OPTIONS) so tests start it with `--optimized` (~20 s instead of ~75 s).
# The tarball is kept in the downloads cache and checked against the pinned SHA-512, which must
# also be what Maven Central publishes beside it.
DOWNLOADS=${MLPLAT_DOWNLOADS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlplat/downloads}
sha512_ok() { [[ -f $1 && $(sha512sum "$1" | cut -d' ' -f1) == "$KEYCLOAK_SHA512" ]]; }
java_major() { java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\)[."].*/\1/p'; }
build_keycloak() {
  local out=$1 root name url tarball major
  root=$(dirname "$out")
  name=keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz
  url=https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/$name
  tarball=$DOWNLOADS/$name
  command -v java >/dev/null || die "keycloak: needs java 17 or newer (apt-get install openjdk-17-jre-headless)"
  major=$(java_major)
  [[ -n $major && $major -ge 17 ]] ||
    die "keycloak: needs java 17 or newer, found: $(java -version 2>&1 | head -1) (apt-get install openjdk-17-jre-headless)"
  if ! sha512_ok "$tarball"; then
    command -v curl >/dev/null || die "keycloak: curl is needed to download $url"
    mkdir -p "$DOWNLOADS"
    local published
    published=$(curl -fsSL "$url.sha512") || die "keycloak: cannot fetch $url.sha512"
    [[ ${published%% *} == "$KEYCLOAK_SHA512" ]] ||
      die "keycloak: Maven Central publishes SHA-512 ${published%% *} for $name, versions.env pins $KEYCLOAK_SHA512"
    say "keycloak: downloading $url"
    curl -fsSL -o "$tarball.part" "$url" || die "keycloak: download of $url failed"
    sha512_ok "$tarball.part" || { rm -f "$tarball.part"; die "keycloak: $name does not match the pinned SHA-512"; }
    mv -f "$tarball.part" "$tarball"
  fi
  tar -xzf "$tarball" -C "$root" --strip-components=1 --no-same-owner
  [[ -x $root/bin/kc.sh ]] || die "keycloak: $name has no bin/kc.sh"
  # shellcheck disable=SC2086  # KEYCLOAK_BUILD_OPTIONS is a list
  "$root/bin/kc.sh" build $KEYCLOAK_BUILD_OPTIONS >"$root/BUILD-LOG" 2>&1 ||
    die "keycloak: kc.sh build $KEYCLOAK_BUILD_OPTIONS failed: $(tail -5 "$root/BUILD-LOG")"
  printf '%s\n' "$KEYCLOAK_BUILD_OPTIONS" >"$root/BUILD-OPTIONS"
}

# Binaries that no reachable registry provides: cached only when handed in.
import_binary() { # out env-var-name binary-name
  local src=${!2:-}
  [[ -n $src && -x $src ]] || die "$3: no binary given (set $2)"
  cp "$src" "$1/$3"
}
import_provider() { import_binary "$1" MLPLAT_PULUMI_KUBERNETES_PROVIDER_BIN pulumi-resource-kubernetes; }
import_language_nodejs() { import_binary "$1" MLPLAT_PULUMI_LANGUAGE_NODEJS_BIN pulumi-language-nodejs; }

# ---------------------------------------------------------------- run
ensure_tool "etcd-$ETCD_VERSION" "etcd" build_etcd
ensure_tool "kwok-$KWOK_VERSION" "kwok kwokctl" build_kwok
ensure_tool "pulumi-$PULUMI_VERSION" "pulumi" build_pulumi
ensure_tool "kubernetes-$K8S_VERSION" "kube-apiserver kube-controller-manager kube-scheduler kubectl" build_kubernetes
ensure_tool "minio-$MINIO_VERSION" "minio" build_minio
ensure_tool "mc-$MC_VERSION" "mc" build_mc
ensure_tool "mlflow-$MLFLOW_VERSION-${MLFLOW_EXTRAS//,/-}" "mlflow mlflow-python" build_mlflow
ensure_tool "postgres-$POSTGRES_MAJOR" "postgres initdb pg_ctl psql pg_isready" build_postgres
# A tree built with other options than versions.env now names is built again.
if [[ -d $CACHE/keycloak-$KEYCLOAK_VERSION && $(cat "$CACHE/keycloak-$KEYCLOAK_VERSION/BUILD-OPTIONS" 2>/dev/null) != "$KEYCLOAK_BUILD_OPTIONS" ]]; then
  rm -rf "${CACHE:?}/keycloak-$KEYCLOAK_VERSION"
fi
ensure_tool "keycloak-$KEYCLOAK_VERSION" "kc.sh" build_keycloak
ensure_tool "oauth2-proxy-$OAUTH2_PROXY_VERSION" "oauth2-proxy" build_oauth2_proxy
ensure_tool "promtool-$PROMTOOL_VERSION" "promtool" build_promtool
ensure_tool "amtool-$AMTOOL_VERSION" "amtool" build_amtool
ensure_tool "alloy-syntax-$ALLOY_SYNTAX_VERSION" "alloy-syntax" build_alloy_syntax

PULUMI_BIN="$CACHE/pulumi-$PULUMI_VERSION/bin"

if has_bins "$CACHE/pulumi-language-nodejs-$PULUMI_VERSION" pulumi-language-nodejs ||
  [[ -n ${MLPLAT_PULUMI_LANGUAGE_NODEJS_BIN:-} ]]; then
  ensure_tool "pulumi-language-nodejs-$PULUMI_VERSION" "pulumi-language-nodejs" import_language_nodejs
else
  say "pulumi-language-nodejs-$PULUMI_VERSION: UNAVAILABLE (not on any reachable registry; set MLPLAT_PULUMI_LANGUAGE_NODEJS_BIN)"
  MISSING+=("pulumi-language-nodejs-$PULUMI_VERSION")
fi

PROVIDER_DIR="$CACHE/pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION"
if has_bins "$PROVIDER_DIR" pulumi-resource-kubernetes || [[ -n ${MLPLAT_PULUMI_KUBERNETES_PROVIDER_BIN:-} ]]; then
  ensure_tool "pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION" "pulumi-resource-kubernetes" import_provider
  # Install it as a Pulumi plugin into a PULUMI_HOME inside the cache.
  pulumi_home="$CACHE/pulumi-home"
  plugin_dir="$pulumi_home/plugins/resource-kubernetes-$PULUMI_KUBERNETES_VERSION"
  if [[ -x $plugin_dir/pulumi-resource-kubernetes && ! -e $plugin_dir.partial ]]; then
    say "pulumi plugin resource kubernetes $PULUMI_KUBERNETES_VERSION: cached"
  else
    start=$(date +%s)
    mkdir -p "$pulumi_home"
    PULUMI_HOME=$pulumi_home PULUMI_SKIP_UPDATE_CHECK=1 "$PULUMI_BIN/pulumi" plugin install \
      resource kubernetes "${PULUMI_KUBERNETES_VERSION#v}" --file "$PROVIDER_DIR/bin/pulumi-resource-kubernetes" >/dev/null
    say "pulumi plugin resource kubernetes $PULUMI_KUBERNETES_VERSION: installed in $(elapsed "$start")"
  fi
else
  say "pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION: UNAVAILABLE (not on any reachable registry; set MLPLAT_PULUMI_KUBERNETES_PROVIDER_BIN)"
  MISSING+=("pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION")
fi

echo
echo "bin dirs (cache: $CACHE):"
printf '  %s\n' "${BIN_DIRS[@]}"
if ((${#MISSING[@]})); then
  echo "not available: ${MISSING[*]}"
fi
