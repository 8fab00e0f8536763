# shellcheck shell=bash
# Peer: sipp 3.6 (Debian package `sip-tester`), a real SIP UA used by e2e/sipp to drive
# INVITE/ACK/BYE scenarios against the chat focus. Sourced by .ci/run
# (set -euo pipefail, cwd = repo root, root, CI=true) on a fresh Debian 12.
# Exports SIPP_BIN. Note: `sipp -v` exits with code 99, so don't use it as a probe.

if ! command -v sipp >/dev/null 2>&1; then
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sip-tester
fi

SIPP_BIN="$(command -v sipp)"
export SIPP_BIN
echo "SIPP_BIN=$SIPP_BIN"
"$SIPP_BIN" -v 2>&1 | grep -m 1 -i 'sipp' || true
