# shellcheck shell=bash
# Peer: promtool, built with the Go toolchain from the Go module proxy and cached
# (e2e/monitoring/promtool.sh). Sourced by .ci/run (bash, set -euo pipefail, cwd = repo root).
# Exports PROMTOOL for e2e/monitoring.test.ts (the chart's alert rules and dashboard queries).
command -v go >/dev/null || { echo "22-promtool.sh: go is required to build promtool" >&2; exit 1; }
PROMTOOL=$(bash e2e/monitoring/promtool.sh | tail -n 1)
[ -x "$PROMTOOL" ] || { echo "22-promtool.sh: promtool.sh did not produce $PROMTOOL" >&2; exit 1; }
export PROMTOOL
echo "PROMTOOL=$PROMTOOL"
