# Peer: real kube-apiserver + etcd (+ kubectl, helm) built with the Go toolchain from the
# Go module proxy and cached by go.sum hash (see e2e/cluster/README.md). Sourced by .ci/run
# (bash, set -euo pipefail, cwd = repo root). Exports KUBE_BIN_DIR for e2e/cluster/cluster.ts.
# Cold build: ~12 min on 2 idle cores (27 min measured under heavy contention); cached: <1 s.
command -v go >/dev/null || { echo "20-kube.sh: go is required to build kube-apiserver/etcd" >&2; exit 1; }
KUBE_BIN_DIR=$(bash e2e/cluster/build.sh | tail -n 1)
[ -x "$KUBE_BIN_DIR/kube-apiserver" ] || { echo "20-kube.sh: build.sh did not produce $KUBE_BIN_DIR/kube-apiserver" >&2; exit 1; }
export KUBE_BIN_DIR
echo "KUBE_BIN_DIR=$KUBE_BIN_DIR"
"$KUBE_BIN_DIR/kube-apiserver" --version
"$KUBE_BIN_DIR/etcd" --version
"$KUBE_BIN_DIR/kubectl" version --client
"$KUBE_BIN_DIR/helm" version --short
