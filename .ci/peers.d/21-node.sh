# shellcheck shell=bash
# Peer: what a real node needs besides the binaries 20-kube.sh builds (kubelet,
# kube-scheduler, kube-controller-manager, pause): containerd 1.6 (CRI), runc, the CNI
# plugins (bridge, host-local, loopback) and busybox-static for the test image, all from
# Debian 12. Sourced by .ci/run (set -euo pipefail, cwd = repo root, root, CI=true).
# Each test starts its own containerd on a socket in a temp dir (e2e/node/node.ts): the
# packaged containerd service must never run, so invoke-rc.d is told not to start it.

_node_pkgs="containerd runc containernetworking-plugins busybox-static iproute2 iptables"
_node_missing=""
for _p in $_node_pkgs; do
  [ "$(dpkg-query -W -f='${Status}' "$_p" 2>/dev/null || true)" = "install ok installed" ] || _node_missing="$_node_missing $_p"
done
if [ -n "$_node_missing" ]; then
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  _node_policy_backup=""
  if [ -e /usr/sbin/policy-rc.d ]; then
    _node_policy_backup="$(mktemp)"
    cp -p /usr/sbin/policy-rc.d "$_node_policy_backup"
  fi
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  _node_rc=0
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $_node_missing || _node_rc=$?
  if [ -n "$_node_policy_backup" ]; then
    mv -f "$_node_policy_backup" /usr/sbin/policy-rc.d
  else
    rm -f /usr/sbin/policy-rc.d
  fi
  [ "$_node_rc" -eq 0 ] || { echo "21-node.sh: apt-get install$_node_missing failed ($_node_rc)" >&2; exit 1; }
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now containerd >/dev/null 2>&1 || true
fi
unset _node_pkgs _node_missing _p _node_policy_backup _node_rc

containerd --version
runc --version | sed -n 1p
for _b in kubelet kube-scheduler kube-controller-manager pause; do
  [ -x "$KUBE_BIN_DIR/$_b" ] || { echo "21-node.sh: $KUBE_BIN_DIR/$_b missing (20-kube.sh builds it)" >&2; exit 1; }
done
unset _b
"$KUBE_BIN_DIR/kubelet" --version
