# shellcheck shell=bash
# Peer: Kamailio 5.6 (Debian 12) with its msrp module, used as a third-party MSRP relay
# in e2e/kamailio (interop tests) and bench/ (baseline). Sourced by .ci/run
# (set -euo pipefail, cwd = repo root, root, CI=true) on a fresh Debian 12.
# Exports KAMAILIO_BIN. The tests start their own kamailio processes on free loopback
# ports with e2e/kamailio/msrp-relay.cfg; the packaged service must never run.

_kam_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}
if [ ! -x /usr/sbin/kamailio ] || ! _kam_installed kamailio || ! _kam_installed kamailio-tls-modules; then
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  # Keep the package's init script from starting the service during the install
  # (policy-rc.d exit 101 = "action forbidden"); restore whatever was there before.
  _kam_policy_backup=""
  if [ -e /usr/sbin/policy-rc.d ]; then
    _kam_policy_backup="$(mktemp)"
    cp -p /usr/sbin/policy-rc.d "$_kam_policy_backup"
  fi
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  _kam_rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    kamailio kamailio-tls-modules || _kam_rc=$?
  if [ -n "$_kam_policy_backup" ]; then
    mv -f "$_kam_policy_backup" /usr/sbin/policy-rc.d
  else
    rm -f /usr/sbin/policy-rc.d
  fi
  unset _kam_policy_backup
  [ "$_kam_rc" -eq 0 ] || { echo "30-kamailio.sh: apt-get install kamailio failed ($_kam_rc)" >&2; exit 1; }
  unset _kam_rc
fi

# Belt and braces: whether or not systemd (or sysvinit) is present, make sure no packaged
# kamailio service runs (it would hold 5060 and is not what the tests start).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now kamailio >/dev/null 2>&1 || true
elif [ -x /etc/init.d/kamailio ]; then
  /etc/init.d/kamailio stop >/dev/null 2>&1 || true
fi

unset -f _kam_installed

KAMAILIO_BIN=/usr/sbin/kamailio
export KAMAILIO_BIN
echo "KAMAILIO_BIN=$KAMAILIO_BIN"
"$KAMAILIO_BIN" -v 2>&1 | sed -n 1p
