#!/usr/bin/env bash
# Builds real kube-apiserver, kube-controller-manager, kube-proxy, kube-scheduler, kubelet, kubectl,
# etcd, helm and CoreDNS with the Go toolchain from the Go module proxy and caches them.
# Idempotent: a second run with the same go.sum, Go version and helm version rebuilds nothing.
#
#   bash e2e/cluster/build.sh              build if needed; last stdout line = bin dir
#   bash e2e/cluster/build.sh --print-dir  print the bin dir for this key, build nothing
#
# Cache: ${MSRP_CLUSTER_CACHE:-$HOME/.cache/msrp-k8s/cluster}/<key>/bin/{kube-apiserver,kube-controller-manager,
#        kube-scheduler,kubelet,kubectl,etcd,helm,pause}
# where <key> = sha256(go.sum, pause/main.go, `go env GOVERSION GOOS GOARCH`, helm version, recipe revision), 32 hex.
# Progress and timings go to stderr; stdout carries only the bin dir.
set -euo pipefail

HELM_VERSION=v3.22.0
# Cluster DNS for e2e/node's `services: true` (go install: its go.mod has no replace directives).
COREDNS_VERSION=v1.15.0
# kube-apiserver / kubectl report this through /version (helm and kubectl check it);
# keep it equal to the k8s.io/kubernetes requirement in go.mod.
KUBE_VERSION=v1.34.4
# Bump when the build recipe (flags below) changes, to invalidate cached binaries.
RECIPE=2
# The Kubernetes commands built from k8s.io/kubernetes/cmd/<name> (one `go build`).
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubelet kubectl)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${MSRP_CLUSTER_CACHE:-$HOME/.cache/msrp-k8s/cluster}
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"

command -v go >/dev/null || { echo "build.sh: go is not on PATH" >&2; exit 1; }
grep -q "k8s.io/kubernetes $KUBE_VERSION" "$here/go.mod" || {
  echo "build.sh: KUBE_VERSION=$KUBE_VERSION does not match go.mod" >&2; exit 1; }

key=$( { cat "$here/go.sum" "$here/pause/main.go"; go env GOVERSION GOOS GOARCH; echo "helm $HELM_VERSION coredns $COREDNS_VERSION recipe $RECIPE"; } \
  | sha256sum | cut -c1-32)
dir="$cache_root/$key"
bin="$dir/bin"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$bin"
  exit 0
fi

log() { printf '[build.sh %4ss] %s\n' "$SECONDS" "$*" >&2; }
have_all() {
  local b
  for b in "${KUBE_CMDS[@]}" etcd helm pause coredns; do [ -x "$bin/$b" ] || return 1; done
}

mkdir -p "$bin"
# One builder at a time per key (parallel CI jobs or test runs on one machine).
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then flock 9; fi

if have_all; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi

log "$(go version); cache key $key"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION"
  ldflags+=" -X $pkg.gitMajor=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
  ldflags+=" -X $pkg.gitMinor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

tmp="$dir/tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

t0=$SECONDS
log "go mod download (module proxy)"
(cd "$here" && go mod download)
log "modules ready in $((SECONDS - t0))s"

t=$SECONDS
missing=()
for c in "${KUBE_CMDS[@]}"; do [ -x "$bin/$c" ] || missing+=("$c"); done
if [ "${#missing[@]}" -gt 0 ]; then
  log "go build ${missing[*]} ($KUBE_VERSION)"
  # kubelet too with CGO_ENABLED=0: what cgo would add (libpfm perf counters, ipmctl) is
  # behind build tags we do not set; a static kubelet needs no libc on the node.
  (cd "$here" && go build -trimpath -ldflags="$ldflags" -o "$tmp/" \
    "${missing[@]/#/k8s.io/kubernetes/cmd/}")
  (cd "$tmp" && mv -f "${missing[@]}" "$bin/")
  log "${missing[*]} built in $((SECONDS - t))s"
fi

t=$SECONDS
if [ ! -x "$bin/etcd" ]; then
  etcd_version=$(cd "$here" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
  log "go build etcd (go.etcd.io/etcd/server/v3 $etcd_version)"
  (cd "$here" && go build -trimpath -ldflags="-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  mv -f "$tmp/etcd" "$bin/"
  log "etcd built in $((SECONDS - t))s"
fi

if [ ! -x "$bin/pause" ]; then
  # The pod sandbox process for e2e/node (packed into a local OCI image there).
  (cd "$here" && go build -trimpath -ldflags="-s -w" -o "$tmp/pause" ./pause)
  mv -f "$tmp/pause" "$bin/"
  log "pause built"
fi

t=$SECONDS
if [ ! -x "$bin/helm" ]; then
  log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  # Same -X flags as helm's Makefile: without them `helm version` says "v3.22" and
  # `helm template`/`helm lint` assume Kubernetes v1.20 for .Capabilities/kubeVersion.
  helm_gomod=$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  k8s_mod=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$helm_gomod")  # e.g. v0.37.0
  k8s_major=$(( $(echo "$k8s_mod" | sed -E 's/^v([0-9]+)\..*/\1/') + 1 ))
  k8s_minor=$(echo "$k8s_mod" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  # Outside the wrapper module: helm has its own (replace-free) module graph.
  (cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" \
    go install -trimpath -ldflags="$helm_ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  mv -f "$tmp/helm" "$bin/"
  log "helm built in $((SECONDS - t))s"
fi

t=$SECONDS
if [ ! -x "$bin/coredns" ]; then
  log "go install github.com/coredns/coredns@$COREDNS_VERSION"
  (cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" \
    go install -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION")
  mv -f "$tmp/coredns" "$bin/"
  log "coredns built in $((SECONDS - t))s"
fi

have_all || { log "missing binaries in $bin"; exit 1; }
log "done in ${SECONDS}s; sizes:"
(cd "$bin" && du -h "${KUBE_CMDS[@]}" etcd helm pause coredns >&2)
echo "$bin"
