#!/usr/bin/env bash
# Build any etcd release from the Go module proxy, so the harness can test the release you run:
#
#   scripts/build-etcd.sh v3.5.17 [--out DIR] [--failpoints]
#
# A throwaway main module calls etcdmain.Main (go.etcd.io/etcd/server/v3/etcdmain), pinned to
# the release with `go get`; `go install` of etcd itself fails on its replace directives. The
# binary goes to ${XDG_CACHE_HOME:-$HOME/.cache}/jepsen-ts/etcd/<version>/etcd (or DIR/etcd) and
# its path is the last line printed. Idempotent: an existing binary built from that module
# version is reused. Module builds carry no version ldflags, so `etcd --version` may print a
# placeholder; `go version -m` on the binary names the exact server module version, which is
# what the harness records (harness/systems/etcd/version.ts).
#
# --failpoints builds the release with its gofail failpoints compiled in, as etcd's own
# robustness tests do (`make gofail-enable`): the server module's source is copied from the
# module cache, `gofail enable` turns its `// gofail:` comments into code, and the main module
# replaces the server with that copy. The binary (<version>-failpoints/etcd) serves the
# failpoints over HTTP when started with GOFAIL_HTTP=host:port (GET / lists them; PUT
# /<name> with body `panic` or `sleep(ms)` arms one; DELETE disarms). Idempotent the same way, and it also
# checks that the binary carries gofail's runtime.
#
# Exit status: 0 built (or already there), 64 bad arguments, 69 the build failed (the message
# names the version and carries Go's error).
set -euo pipefail

usage() { printf 'usage: scripts/build-etcd.sh vX.Y.Z [--out DIR] [--failpoints]\n' >&2; exit 64; }
[ "$#" -ge 1 ] || usage
version="$1"; shift
out=""
failpoints=0
# gofail's release that rewrites the sources; the runtime linked in is what `go mod tidy`
# settles on (v0.1.0 with 3.5; v0.2.0 with 3.6 and 3.7, which other modules require).
gofail_version="v0.1.0"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) [ "$#" -ge 2 ] || usage; out="$2"; shift 2 ;;
    --failpoints) failpoints=1; shift ;;
    *) usage ;;
  esac
done
if ! [[ "$version" =~ ^v3\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
  printf 'build-etcd: "%s" is not an etcd v3 release version (expected vX.Y.Z, e.g. v3.5.17)\n' "$version" >&2
  exit 64
fi
if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH="$d:$PATH"; done
fi
command -v go >/dev/null 2>&1 || { printf 'build-etcd: the Go toolchain is needed (apt-get install golang-go)\n' >&2; exit 69; }

suffix=""
[ "$failpoints" = 1 ] && suffix="-failpoints"
dir="${out:-${XDG_CACHE_HOME:-$HOME/.cache}/jepsen-ts/etcd/$version$suffix}"
bin="$dir/etcd"
built() {
  local info
  info="$(go version -m "$1" 2>/dev/null)" || return 1
  grep -Eq "go\.etcd\.io/etcd/server/v3[[:space:]]+${version//./\\.}([[:space:]]|$)" <<<"$info" || return 1
  if [ "$failpoints" = 1 ]; then grep -q 'go\.etcd\.io/gofail' <<<"$info" || return 1; fi
}
if [ -x "$bin" ] && built "$bin"; then
  printf 'build-etcd: %s%s already built\n%s\n' "$version" "$suffix" "$bin" >&2
  printf '%s\n' "$bin"
  exit 0
fi

work="$(mktemp -d)"
tmp="$bin.tmp.$$"   # per build, so two concurrent builds never write one file
trap 'rm -rf "$work" "$tmp"; rmdir "$dir" 2>/dev/null || true' EXIT
cat >"$work/main.go" <<'EOF'
// A main module for one etcd release: the server's own entry point, nothing else.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
log="$work/build.log"
run() { printf 'build-etcd: %s\n' "$*" >&2; "$@" >>"$log" 2>&1; }
fail() {
  printf 'build-etcd: building etcd %s failed at `%s`:\n' "$version" "$1" >&2
  tail -n 20 "$log" | sed 's/^/  /' >&2
  exit 69
}
start=$(date +%s)
(
  cd "$work"
  run go mod init jepsen-ts/etcd-build || exit 1
  run go get "go.etcd.io/etcd/server/v3@${version}" || exit 2
  if [ "$failpoints" = 1 ]; then
    src="$(go list -m -f '{{.Dir}}' "go.etcd.io/etcd/server/v3")" && [ -n "$src" ] || exit 5
    run cp -r "$src" server || exit 5
    run chmod -R u+w server || exit 5
    # Every package that has failpoints (3.5: etcdserver, mvcc/backend; 3.6 adds storage/…).
    mapfile -t fpdirs < <(grep -rl --include='*.go' '// gofail:' server | xargs -r -n1 dirname | sort -u)
    [ "${#fpdirs[@]}" -gt 0 ] || exit 6
    run go run "go.etcd.io/gofail@${gofail_version}" enable "${fpdirs[@]}" || exit 6
    printf '\nrequire go.etcd.io/gofail %s\n' "$gofail_version" >>server/go.mod
    run go mod edit -replace=go.etcd.io/etcd/server/v3=./server || exit 6
  fi
  run go mod tidy || exit 3
  mkdir -p "$dir" || exit 4
  CGO_ENABLED=0 run go build -trimpath -o "$tmp" . || exit 4
) || case $? in
  1) fail 'go mod init' ;;
  2) fail "go get go.etcd.io/etcd/server/v3@${version}" ;;
  3) fail 'go mod tidy' ;;
  5) fail 'copying the server module source' ;;
  6) fail "gofail ${gofail_version} enable" ;;
  *) fail 'CGO_ENABLED=0 go build' ;;
esac
mv "$tmp" "$bin"
printf 'build-etcd: etcd %s%s built in %ss\n' "$version" "$suffix" "$(( $(date +%s) - start ))" >&2
printf '%s\n' "$bin"
