#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest hook): the tests use a real Docker engine, Toxiproxy,
# PostgreSQL and Chromium, so a fresh machine is prepared first. As root it runs the
# idempotent host set-up (a second run takes a second or two); otherwise it only says what
# is missing, and the tests that need it will fail naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${JEPSEN_SKIP_HOST_SETUP:-}" = "1" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then
  exec bash scripts/setup-host.sh
fi
missing=()
docker version >/dev/null 2>&1 || missing+=("a running Docker engine")
command -v toxiproxy-server >/dev/null 2>&1 || missing+=("toxiproxy-server")
command -v chromium >/dev/null 2>&1 || missing+=("chromium")
if [ "${#missing[@]}" -gt 0 ]; then
  printf 'pretest: missing %s; run `sudo bash scripts/setup-host.sh` first\n' "${missing[*]}" >&2
fi
