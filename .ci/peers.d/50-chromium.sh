# shellcheck shell=bash
# Peer: headless Chromium (Debian package `chromium`), driven by puppeteer-core over the
# DevTools Protocol in internal/web/browser.test.ts (no browser download: the system one).
# Sourced by .ci/run (set -euo pipefail, cwd = repo root, root, CI=true) on a fresh Debian 12.
# Exports CHROMIUM_BIN.

if ! command -v chromium >/dev/null 2>&1; then
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi

CHROMIUM_BIN="$(command -v chromium)"
export CHROMIUM_BIN
echo "CHROMIUM_BIN=$CHROMIUM_BIN"
"$CHROMIUM_BIN" --version || true
