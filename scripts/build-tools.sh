#!/bin/sh
# `make tools`: builds the Go programs Quad's tests and stack use, at pinned versions, into
# tools/bin (gitignored). Go's module and build caches make a rebuild cheap; a tool whose
# binary already matches the pinned version is skipped.
#
#   k6              load tests (loadtests/)         go install go.k6.io/k6@VERSION
#   livekit-server  voice/video (compose `media`)   built from its module (see below)
#
# Usage: scripts/build-tools.sh [k6] [livekit-server]   (default: both)
set -eu

K6_VERSION=${K6_VERSION:-v1.8.1}
LIVEKIT_VERSION=${LIVEKIT_VERSION:-v1.13.5}

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/tools/bin
mkdir -p "$bin"
export GOBIN="$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"

command -v go >/dev/null 2>&1 || { echo "build-tools: go is not installed (apt-get install golang, or see go.dev/doc/install)" >&2; exit 1; }

log() { printf '[%s] build-tools: %s\n' "$(date +%T)" "$*"; }

up_to_date() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }

build_k6() {
  if up_to_date k6 "$K6_VERSION"; then log "k6 $K6_VERSION already built"; return 0; fi
  log "building k6 $K6_VERSION (first build takes a few minutes)"
  go install "go.k6.io/k6@$K6_VERSION"
  echo "$K6_VERSION" > "$bin/.k6.version"
  log "k6: $("$bin/k6" version 2>/dev/null | head -n1)"
}

# livekit-server's go.mod carries `replace` directives (LiveKit's forks of pion), which
# `go install module@version` refuses by design. Building inside the downloaded module makes it
# the main module, so the replacements apply exactly as in LiveKit's own release builds.
build_livekit() {
  if up_to_date livekit-server "$LIVEKIT_VERSION"; then log "livekit-server $LIVEKIT_VERSION already built"; return 0; fi
  log "building livekit-server $LIVEKIT_VERSION (first build takes several minutes)"
  dir=$(go mod download -json "github.com/livekit/livekit-server@$LIVEKIT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "build-tools: could not download livekit-server $LIVEKIT_VERSION" >&2; return 1; }
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -o "$bin/livekit-server" ./cmd/server)
  echo "$LIVEKIT_VERSION" > "$bin/.livekit-server.version"
  log "livekit-server: $("$bin/livekit-server" --version 2>/dev/null | head -n1)"
}

tools=${*:-k6 livekit-server}
failed=""
for tool in $tools; do
  case "$tool" in
    k6) build_k6 || failed="$failed k6" ;;
    livekit-server) build_livekit || failed="$failed livekit-server" ;;
    *) echo "build-tools: unknown tool $tool (k6, livekit-server)" >&2; exit 64 ;;
  esac
done
if [ -n "$failed" ]; then
  echo "build-tools: FAILED:$failed" >&2
  exit 1
fi
log "done: $(ls "$bin" | tr '\n' ' ')"
