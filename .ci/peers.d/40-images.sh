# shellcheck shell=bash
# Tools of the daemonless image build (`npm run images`, scripts/images/) and of its test
# (`npm run test:images`, which .ci/run runs after `npm test`): mmdebstrap builds the Debian
# base, umoci unpacks the OCI layout into a runtime bundle, runc runs it (crun 1.8 cannot
# start containers on a hybrid cgroup v1/v2 host whose cgroup2 has controllers), skopeo reads
# the archive. Sourced by .ci/run (set -euo pipefail, cwd = repo root, root, CI=true) on a
# fresh Debian 12. The install was not timed on a fresh machine; the test (a cold build, the
# runs, a --no-cache rebuild) takes about 1.5 to 2 min on 2 shared cores.

_images_missing=""
for _t in mmdebstrap umoci runc skopeo dpkg-deb openssl; do
  command -v "$_t" >/dev/null 2>&1 || _images_missing=1
done
if [ -n "$_images_missing" ]; then
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap umoci runc skopeo openssl
fi
unset _images_missing _t
echo "images: $(mmdebstrap --version), $(umoci --version), $(runc --version | head -n 1), $(skopeo --version)"
