#!/usr/bin/env bash
# Builds promtool (github.com/prometheus/prometheus/cmd/promtool) with the Go toolchain from the
# Go module proxy (`go install`: the module has no replace directives) and caches it, as
# e2e/cluster/build.sh does for the cluster binaries. e2e/monitoring.test.ts checks the chart's
# alert rules and the dashboard's queries with it.
#
#   bash e2e/monitoring/promtool.sh              build if needed; last stdout line = the binary
#   bash e2e/monitoring/promtool.sh --print-path print where the binary is (or would be), build nothing
#
# Cache: ${MSRP_PROMTOOL_CACHE:-$HOME/.cache/msrp-promtool}/<module version>/promtool.
# Cold build: measured 43 min on 2 cores shared with a load average of ~20 (about 300 modules;
# the Go build cache keeps what a cut-off run compiled); cached: instant.
set -euo pipefail

# The Prometheus module's version (Prometheus 3.x is tagged v0.3xx.y in Go).
PROMETHEUS_VERSION=v0.316.0

cache_root=${MSRP_PROMTOOL_CACHE:-$HOME/.cache/msrp-promtool}
dir="$cache_root/$PROMETHEUS_VERSION"
bin="$dir/promtool"

if [ "${1:-}" = "--print-path" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "promtool.sh: go is not on PATH" >&2; exit 1; }
mkdir -p "$dir"
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then flock 9; fi
if [ ! -x "$bin" ]; then
  echo "promtool.sh: building promtool $PROMETHEUS_VERSION into $dir" >&2
  GOBIN="$dir" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" \
    go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
fi
"$bin" --version >&2
echo "$bin"
