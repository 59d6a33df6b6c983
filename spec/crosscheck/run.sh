#!/usr/bin/env bash
# Cross-check cairn with independent Go and Python implementations.
#
#   spec/crosscheck/run.sh                 vectors: Go (x/mod note+tlog) and Python (cbor2+PyNaCl)
#   spec/crosscheck/run.sh federation D/testnet.json   a running federation over HTTP
#   spec/crosscheck/run.sh selftest        the checkers' own tests, on data built with Go
#
# Installs the Debian packages it needs if they are missing, builds offline
# (golang.org/x/mod comes from Debian's source tree, see README.md), and
# exits non-zero if any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vectors="$(cd "$here/.." && pwd)/vectors"

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ] || need+=(golang-golang-x-mod-dev)
/usr/bin/python3 -c 'import cbor2' 2>/dev/null || need+=(python3-cbor2)
/usr/bin/python3 -c 'import nacl.signing' 2>/dev/null || need+=(python3-nacl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
fi

# Offline module mode: no proxy, no checksum database; the replace directive
# in go.mod points golang.org/x/mod at /usr/share/gocode.
export GO111MODULE=on GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/cairn-crosscheck-gocache}"
bin="${TMPDIR:-/tmp}/cairn-crosscheck-bin"
mkdir -p "$bin"
cd "$here"
go build -o "$bin/vectors" ./vectors
go build -o "$bin/federation" ./federation

case "${1:-vectors}" in
  vectors)
    status=0
    "$bin/vectors" -dir "$vectors" ${VERBOSE:+-v} || status=1
    /usr/bin/python3 "$here/entries.py" "$vectors/entries" ${VERBOSE:+-v} || status=1
    exit $status
    ;;
  federation)
    [ $# -ge 2 ] || { echo "usage: $0 federation path/to/testnet.json" >&2; exit 2; }
    exec "$bin/federation" -testnet "$2" "${@:3}"
    ;;
  selftest)
    fake="$(mktemp -d)"
    trap 'rm -rf "$fake"' EXIT
    CROSSCHECK_FAKE_OUT="$fake" go test -count=1 ./...
    /usr/bin/python3 "$here/entries.py" "$fake/entries"
    ;;
  *)
    echo "usage: $0 [vectors | federation testnet.json | selftest]" >&2
    exit 2
    ;;
esac
