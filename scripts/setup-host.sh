#!/usr/bin/env bash
# Prepare a Debian or Ubuntu host for the harness, idempotently: the Docker engine (docker.io,
# dockerd started in the background when no init system runs it), the real Toxiproxy server
# built from its pinned tag with the Go toolchain, PostgreSQL, Chromium and etcd.
#
# Run as root. Safe to run again: every step checks first and skips what is already there.
# Exit status: 0 ready, 69 something could not be installed or started (message says what).
set -euo pipefail

TOXIPROXY_VERSION="v2.12.0"
TOXIPROXY_BIN="/usr/local/bin/toxiproxy-server"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"

say() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: %s\n' "$*" >&2; exit 69; }

if [ "$(id -u)" != "0" ]; then
  die "must run as root (it installs packages and starts dockerd); try: sudo bash scripts/setup-host.sh"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports Debian and Ubuntu only"

# --- packages -------------------------------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v psql >/dev/null 2>&1 || [ -d /usr/lib/postgresql ] || need_pkgs+=(postgresql)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_pkgs+=(chromium)
# etcd: the second system under test (Debian's release by default; scripts/build-etcd.sh
# builds any other). Runs start their own members, so the package's own service is stopped
# and disabled right after we install it (a service that was already there is left alone).
[ -x /usr/bin/etcd ] || need_pkgs+=(etcd-server)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" || die "apt-get install ${need_pkgs[*]} failed"
  if [[ " ${need_pkgs[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
    say "etcd-server installed; its etcd.service stopped and disabled (runs start their own members)"
  fi
  [ -x /usr/bin/etcd ] || die "etcd-server installed but /usr/bin/etcd is missing"
else
  say "docker.io, postgresql, chromium and etcd-server already installed"
fi

# --- dockerd --------------------------------------------------------------------------------
docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if docker_up; then
  say "docker engine already running"
else
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start docker || true
  fi
  if ! docker_up; then
    say "starting dockerd in the background (log: $DOCKERD_LOG)"
    # containerd comes with docker.io; dockerd starts its own when none is running.
    nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker_up && break
    sleep 1
  done
  docker_up || die "dockerd did not come up within 60 s; see $DOCKERD_LOG"
  say "docker engine running"
fi

# --- Toxiproxy ------------------------------------------------------------------------------
toxiproxy_version_ok() {
  [ -x "$TOXIPROXY_BIN" ] || return 1
  command -v go >/dev/null 2>&1 || { [ -x "$TOXIPROXY_BIN" ] && return 0; }
  # `go install` builds carry no version string of their own; the module version is embedded.
  go version -m "$TOXIPROXY_BIN" 2>/dev/null | grep -q "github.com/Shopify/toxiproxy/v2[[:space:]]*${TOXIPROXY_VERSION}"
}
if toxiproxy_version_ok; then
  say "toxiproxy-server $TOXIPROXY_VERSION already installed"
else
  if ! command -v go >/dev/null 2>&1; then
    for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH="$d:$PATH"; done
  fi
  command -v go >/dev/null 2>&1 || die "the Go toolchain is needed to build Toxiproxy (apt-get install golang-go, or put go on PATH)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  say "building toxiproxy-server $TOXIPROXY_VERSION with $(go version)"
  # CGO off: a static binary runs in any image, including one made FROM scratch.
  CGO_ENABLED=0 GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}" \
    || die "go install github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION} failed"
  install -m 0755 "$tmp/server" "$TOXIPROXY_BIN"
  say "installed $TOXIPROXY_BIN"
fi

# --- PostgreSQL -----------------------------------------------------------------------------
# Runs are recorded in PostgreSQL (harness/results-db) so they can be compared across
# releases. Start the packaged cluster and make a `jepsen` role and database, once.
PG_URL_DEFAULT="postgres://jepsen:jepsen@127.0.0.1:5432/jepsen"
if command -v pg_lsclusters >/dev/null 2>&1; then
  cluster="$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}')"
  if [ -z "$cluster" ]; then
    ver="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
    say "creating PostgreSQL $ver cluster main"
    pg_createcluster "$ver" main >/dev/null || die "pg_createcluster $ver main failed"
    cluster="$ver main"
  fi
  # shellcheck disable=SC2086
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    say "starting PostgreSQL cluster $cluster"
    pg_ctlcluster $cluster start || die "pg_ctlcluster $cluster start failed; see /var/log/postgresql/"
  fi
  for _ in $(seq 1 30); do
    runuser -u postgres -- psql -qAtc 'select 1' >/dev/null 2>&1 && break
    sleep 1
  done
  if ! runuser -u postgres -- psql -qAtc "select 1 from pg_roles where rolname = 'jepsen'" | grep -q 1; then
    runuser -u postgres -- psql -qc "create role jepsen login password 'jepsen'" >/dev/null || die "could not create the jepsen role"
  fi
  if ! runuser -u postgres -- psql -qAtc "select 1 from pg_database where datname = 'jepsen'" | grep -q 1; then
    runuser -u postgres -- psql -qc "create database jepsen owner jepsen" >/dev/null || die "could not create the jepsen database"
  fi
  say "PostgreSQL ready: $PG_URL_DEFAULT (runs are recorded there; set JEPSEN_DATABASE_URL to use another)"
else
  say "PostgreSQL not found; runs will not be recorded in a database"
fi

say "host ready"
