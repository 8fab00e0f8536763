# shellcheck shell=bash
# Peer: a throwaway PostgreSQL 15 server for the store tests (docs/architecture.md §6.2).
# Sourced by .ci/run (set -euo pipefail, cwd = repo root, root, CI=true) on a fresh Debian 12.
# Exports DATABASE_URL. No trap: the CI machine is discarded; the postmaster PID is
# written next to the data folder (path printed by start.sh) for anyone who wants to stop it.

if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  # One `apt-get update` per CI run, shared with later peer files through CI_APT_UPDATED.
  if [ -z "${CI_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CI_APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends postgresql
fi

DATABASE_URL="$(e2e/postgres/start.sh)"
export DATABASE_URL
